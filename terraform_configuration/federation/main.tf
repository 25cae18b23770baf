# An identity broker: an IAM user whose long-term key makes federated-user
# sessions (GetFederationToken) for people who have no IAM identity. A
# session holds the broker's permissions narrowed by the session policy the
# broker passes, and nothing without one, besides what a resource policy
# grants the federated user's own ARN
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_request.html#api_getfederationtoken).

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "reports" {
  bucket        = "${var.name_prefix}-reports"
  force_destroy = true
}

resource "aws_s3_object" "report" {
  bucket  = aws_s3_bucket.reports.id
  key     = "q3.csv"
  content = "revenue,42"
}

# The auditor's federated session may read the reports, by its ARN.
resource "aws_s3_bucket_policy" "reports" {
  bucket = aws_s3_bucket.reports.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "Auditor"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:sts::${data.aws_caller_identity.current.account_id}:federated-user/auditor" }
      Action    = "s3:GetObject"
      Resource  = "${aws_s3_bucket.reports.arn}/*"
    }]
  })
}

resource "aws_iam_user" "broker" {
  name = "${var.name_prefix}-broker"
}

resource "aws_iam_access_key" "broker" {
  user = aws_iam_user.broker.name
}

# The broker may make federated sessions and read the reports: what a
# session may do is at most this.
resource "aws_iam_user_policy" "broker" {
  name = "${var.name_prefix}-broker"
  user = aws_iam_user.broker.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "Federate", Effect = "Allow", Action = "sts:GetFederationToken", Resource = "*" },
      { Sid = "Reports", Effect = "Allow", Action = ["s3:ListBucket", "s3:GetObject"], Resource = [aws_s3_bucket.reports.arn, "${aws_s3_bucket.reports.arn}/*"] },
    ]
  })
}
