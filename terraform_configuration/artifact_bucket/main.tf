# A cross-account artifact bucket encrypted with a customer managed KMS key
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html):
# the producer account (the default provider) keeps the releases in a bucket
# whose default encryption is its own key; the consumer account's reader role
# (the `consumer` alias) may get them by the bucket's policy and its own.
# Getting an object encrypted under the key also asks KMS to decrypt it, as
# the reader, via S3: across accounts the key's policy must let the consumer
# in too, and until `consumer_named` it lets only the producer's own
# principals (its IAM policies) use the key.

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

provider "aws" {
  alias  = "consumer"
  region = var.region

  default_tags {
    tags = var.tags
  }
}

data "aws_caller_identity" "producer" {}

data "aws_caller_identity" "consumer" {
  provider = aws.consumer
}

locals {
  producer_root = "arn:aws:iam::${data.aws_caller_identity.producer.account_id}:root"
  consumer_root = "arn:aws:iam::${data.aws_caller_identity.consumer.account_id}:root"
}

resource "aws_kms_key" "artifacts" {
  description             = "${var.name_prefix} artifacts"
  deletion_window_in_days = 7
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      # The producer's own principals use the key as their IAM policies allow.
      [{ Sid = "EnableIamPolicies", Effect = "Allow", Principal = { AWS = local.producer_root }, Action = "kms:*", Resource = "*" }],
      # The fix: the consumer account's principals may decrypt, as their own IAM policies allow.
      var.consumer_named ? [{ Sid = "ConsumerDecrypts", Effect = "Allow", Principal = { AWS = local.consumer_root }, Action = "kms:Decrypt", Resource = "*" }] : [],
    )
  })
}

resource "aws_s3_bucket" "artifacts" {
  bucket        = "${var.name_prefix}-artifacts"
  force_destroy = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.artifacts.arn
    }
    bucket_key_enabled = false
  }
}

resource "aws_s3_bucket_policy" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "ReaderLists", Effect = "Allow", Principal = { AWS = aws_iam_role.reader.arn }, Action = "s3:ListBucket", Resource = aws_s3_bucket.artifacts.arn },
      { Sid = "ReaderGets", Effect = "Allow", Principal = { AWS = aws_iam_role.reader.arn }, Action = "s3:GetObject", Resource = "${aws_s3_bucket.artifacts.arn}/*" },
    ]
  })
}

# A release, encrypted under the key by the bucket's default.
resource "aws_s3_object" "release" {
  bucket     = aws_s3_bucket.artifacts.id
  key        = "release.txt"
  content    = "release 1.0"
  depends_on = [aws_s3_bucket_server_side_encryption_configuration.artifacts]
}

# --- The consumer account: an application and the reader role it assumes.

resource "aws_iam_user" "app" {
  provider = aws.consumer
  name     = "${var.name_prefix}-app"
}

resource "aws_iam_access_key" "app" {
  provider = aws.consumer
  user     = aws_iam_user.app.name
}

resource "aws_iam_user_policy" "app" {
  provider = aws.consumer
  name     = "${var.name_prefix}-app"
  user     = aws_iam_user.app.name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Resource = aws_iam_role.reader.arn }]
  })
}

resource "aws_iam_role" "reader" {
  provider = aws.consumer
  name     = "${var.name_prefix}-reader"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { AWS = aws_iam_user.app.arn } }]
  })
}

# The reader's own side: the bucket's releases and the key that decrypts them.
resource "aws_iam_role_policy" "reader" {
  provider = aws.consumer
  name     = "${var.name_prefix}-reader"
  role     = aws_iam_role.reader.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["s3:ListBucket", "s3:GetObject"], Resource = [aws_s3_bucket.artifacts.arn, "${aws_s3_bucket.artifacts.arn}/*"] },
      { Effect = "Allow", Action = "kms:Decrypt", Resource = aws_kms_key.artifacts.arn },
    ]
  })
}
