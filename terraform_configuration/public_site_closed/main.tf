# The fix, applied in place over public_site: the bucket's Block Public
# Access. RestrictPublicBuckets leaves its public policy granting only the
# owner's account and AWS services (the team still reads); BlockPublicPolicy
# refuses any new public policy. The policy itself is left as it was: the
# setting closes it whatever it says
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

resource "aws_s3_bucket_public_access_block" "reports" {
  bucket                  = aws_s3_bucket.reports.id
  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true

  # Closed only once the policy it would refuse is in place (an in-place fix).
  depends_on = [aws_s3_bucket_policy.reports]
}
