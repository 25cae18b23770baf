# Terraform's own identity across accounts, the accounts' side: in dev (the
# default provider) a CI user whose only permission is to assume the
# deployer role in prod; in prod (the `prod` alias) the deployer role,
# trusting the dev account (its root: whom dev's own policies allow) when
# the caller says the external ID, allowed to manage one bucket. The harness
# points each provider block at its account ([accounts] of the scenario)
# from outside, so the folder runs unchanged against real accounts;
# deployer_apply is what the CI user then applies through the role.

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

provider "aws" {
  alias  = "prod"
  region = var.region

  default_tags {
    tags = var.tags
  }
}

data "aws_caller_identity" "dev" {}

data "aws_caller_identity" "prod" {
  provider = aws.prod
}

data "aws_partition" "current" {}

locals {
  external_id     = "deploy-${var.name_prefix}"
  deployed_bucket = "${var.name_prefix}-deployed"
  # Whose root the deployer trusts: the dev account, unless narrowed to another.
  trusted_account = coalesce(var.trusted_account_id, data.aws_caller_identity.dev.account_id)
}

# ---- dev -------------------------------------------------------------------

resource "aws_iam_user" "ci" {
  name = "${var.name_prefix}-ci"
}

resource "aws_iam_access_key" "ci" {
  user = aws_iam_user.ci.name
}

data "aws_iam_policy_document" "ci" {
  statement {
    actions   = ["sts:AssumeRole"]
    resources = [aws_iam_role.deployer.arn]
  }
}

# Across accounts both sides must allow: this grant in dev, the trust in prod.
resource "aws_iam_user_policy" "ci" {
  name   = "${var.name_prefix}-ci"
  user   = aws_iam_user.ci.name
  policy = data.aws_iam_policy_document.ci.json
}

# ---- prod ------------------------------------------------------------------

data "aws_iam_policy_document" "deployer_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.trusted_account}:root"]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [local.external_id]
    }
  }
}

resource "aws_iam_role" "deployer" {
  provider           = aws.prod
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
  provider = aws.prod
  name     = "${var.name_prefix}-deployer"
  role     = aws_iam_role.deployer.id
  policy   = data.aws_iam_policy_document.deployer.json
}
