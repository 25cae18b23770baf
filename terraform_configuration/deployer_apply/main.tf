# Terraform's own identity, the pipeline's side: applied by the CI user
# (the harness's `apply_as`), whose provider assumes the deployer role and
# creates the bucket through it. The role's trust (the CI user, the external
# ID) and its permissions are what decide whether this applies.

# As the CI user itself: who and where it is, for the deployer role's ARN
# (in the CI user's own account unless deployer_account_id names another).
provider "aws" {
  alias  = "ci"
  region = var.region
}

data "aws_caller_identity" "ci" {
  provider = aws.ci
}

data "aws_partition" "ci" {
  provider = aws.ci
}

provider "aws" {
  region = var.region

  assume_role {
    role_arn     = "arn:${data.aws_partition.ci.partition}:iam::${coalesce(var.deployer_account_id, data.aws_caller_identity.ci.account_id)}:role/${var.name_prefix}-deployer"
    session_name = "terraform"
    external_id  = var.external_id == "none" ? null : coalesce(var.external_id, "deploy-${var.name_prefix}")
  }

  default_tags {
    tags = var.tags
  }
}

resource "aws_s3_bucket" "deployed" {
  bucket        = "${var.name_prefix}-${var.bucket_suffix}"
  force_destroy = true
}
