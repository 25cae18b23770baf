# A team's reports bucket, read by its own reader role. Someone made it
# public to share one page: the bucket policy grants s3:GetObject to
# everyone ("*"), so anyone on the internet reads every report, unsigned
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html).

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

# The mistake: a statement for everyone, meant for one shared page.
data "aws_iam_policy_document" "reports" {
  statement {
    sid       = "ShareThePage"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.reports.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }
}

resource "aws_s3_bucket_policy" "reports" {
  bucket = aws_s3_bucket.reports.id
  policy = data.aws_iam_policy_document.reports.json
}

# The team's reader: an instance-style role the account may enter, with
# nothing of its own; the bucket's policy lets it read.
resource "aws_iam_role" "reader" {
  name = "${var.name_prefix}-reader"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_user" "analyst" {
  name = "${var.name_prefix}-analyst"
}

resource "aws_iam_access_key" "analyst" {
  user = aws_iam_user.analyst.name
}

resource "aws_iam_user_policy" "analyst" {
  name = "${var.name_prefix}-analyst"
  user = aws_iam_user.analyst.name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Resource = aws_iam_role.reader.arn }]
  })
}
