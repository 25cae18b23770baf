# Terraform's own identity, the account's side: a CI user whose only
# permission is to assume the deployer role; the deployer role, trusting the
# CI user when it says the external ID, allowed to manage one bucket (and
# nothing else). deployer_apply is what the CI user then applies through it.

data "aws_partition" "current" {}

locals {
  external_id     = "deploy-${var.name_prefix}"
  deployed_bucket = "${var.name_prefix}-deployed"
}

resource "aws_iam_user" "ci" {
  name = "${var.name_prefix}-ci"
}

resource "aws_iam_access_key" "ci" {
  user = aws_iam_user.ci.name
}

# Someone else of the account: the deployer's trust narrowed to them must keep ci out.
resource "aws_iam_user" "auditor" {
  name = "${var.name_prefix}-auditor"
}

data "aws_iam_policy_document" "ci" {
  statement {
    actions   = ["sts:AssumeRole"]
    resources = [aws_iam_role.deployer.arn]
  }
}

resource "aws_iam_user_policy" "ci" {
  name   = "${var.name_prefix}-ci"
  user   = aws_iam_user.ci.name
  policy = data.aws_iam_policy_document.ci.json
}

data "aws_iam_policy_document" "deployer_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.trusted == "ci" ? aws_iam_user.ci.arn : aws_iam_user.auditor.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [local.external_id]
    }
  }
}

resource "aws_iam_role" "deployer" {
  name               = "${var.name_prefix}-deployer"
  assume_role_policy = data.aws_iam_policy_document.deployer_trust.json
}

# One bucket, whatever terraform needs to manage it; no other bucket.
data "aws_iam_policy_document" "deployer" {
  statement {
    actions = ["s3:*"]
    resources = [
      "arn:${data.aws_partition.current.partition}:s3:::${local.deployed_bucket}",
      "arn:${data.aws_partition.current.partition}:s3:::${local.deployed_bucket}/*",
    ]
  }
}

resource "aws_iam_role_policy" "deployer" {
  name   = "${var.name_prefix}-deployer"
  role   = aws_iam_role.deployer.id
  policy = data.aws_iam_policy_document.deployer.json
}
