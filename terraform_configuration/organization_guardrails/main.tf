# An AWS Organization's guardrails over a member account
# (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html,
# https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html):
# - an SCP on the workload account denies creating buckets: the CI user of
#   the account, whose own policy allows s3:*, cannot (its apply is
#   refused). It spares OrganizationAccountAccessRole, through which the
#   management account (and the harness) sets the account up and tears it
#   down (an SCP binds that role too);
# - an RCP on the workload account keeps its S3 resources from principals
#   outside the Organization: a partner the shared bucket's own policy names
#   is refused, an auditor of the management account is let in.

resource "aws_organizations_organization" "org" {
  feature_set          = "ALL"
  enabled_policy_types = ["SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"]
}

resource "aws_organizations_policy" "workload_guardrail" {
  name        = "${var.name_prefix}-workload-guardrail"
  description = "In the workload account only the access role creates buckets."
  type        = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "NoBucketsButTheAccessRole"
      Effect    = "Deny"
      Action    = "s3:CreateBucket"
      Resource  = "*"
      Condition = { ArnNotLike = { "aws:PrincipalArn" = "arn:aws:iam::*:role/OrganizationAccountAccessRole" } }
    }]
  })
  depends_on = [aws_organizations_organization.org]
}

resource "aws_organizations_policy_attachment" "workload_guardrail" {
  policy_id = aws_organizations_policy.workload_guardrail.id
  target_id = var.workload_account_id
}

resource "aws_organizations_policy" "data_perimeter" {
  name        = "${var.name_prefix}-data-perimeter"
  description = "The workload's S3 resources are for principals of the Organization (and AWS services) only."
  type        = "RESOURCE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OrganizationPrincipalsOnly"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = "*"
      Condition = {
        StringNotEqualsIfExists = { "aws:PrincipalOrgID" = aws_organizations_organization.org.id }
        BoolIfExists            = { "aws:PrincipalIsAWSService" = "false" }
      }
    }]
  })
}

# Attached once the account's resources are in place (and detached first on
# destroy): the perimeter then caps how they are used, not how they are made.
resource "aws_organizations_policy_attachment" "data_perimeter" {
  policy_id  = aws_organizations_policy.data_perimeter.id
  target_id  = var.workload_account_id
  depends_on = [aws_s3_bucket_policy.shared]
}

# --- The workload account: its CI user, and the shared bucket.

resource "aws_iam_user" "ci" {
  provider = aws.workload
  name     = "${var.name_prefix}-ci"
}

resource "aws_iam_access_key" "ci" {
  provider = aws.workload
  user     = aws_iam_user.ci.name
}

resource "aws_iam_user_policy" "ci" {
  provider = aws.workload
  name     = "${var.name_prefix}-ci"
  user     = aws_iam_user.ci.name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "*" }]
  })
}

resource "aws_s3_bucket" "shared" {
  provider      = aws.workload
  bucket        = "${var.name_prefix}-shared"
  force_destroy = true
}

data "aws_caller_identity" "management" {}

data "aws_caller_identity" "partner" {
  provider = aws.partner
}

# The bucket's own policy lets both the partner's and the management account's principals list it.
resource "aws_s3_bucket_policy" "shared" {
  provider = aws.workload
  bucket   = aws_s3_bucket.shared.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "PartnerAndManagementList"
      Effect    = "Allow"
      Principal = { AWS = ["arn:aws:iam::${data.aws_caller_identity.partner.account_id}:root", "arn:aws:iam::${data.aws_caller_identity.management.account_id}:root"] }
      Action    = "s3:ListBucket"
      Resource  = aws_s3_bucket.shared.arn
    }]
  })
}

# --- A user of each other account, allowed to list any bucket.

resource "aws_iam_user" "auditor" {
  name = "${var.name_prefix}-auditor"
}

resource "aws_iam_access_key" "auditor" {
  user = aws_iam_user.auditor.name
}

resource "aws_iam_user_policy" "auditor" {
  name = "${var.name_prefix}-auditor"
  user = aws_iam_user.auditor.name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:ListBucket", Resource = "*" }]
  })
}

resource "aws_iam_user" "partner" {
  provider = aws.partner
  name     = "${var.name_prefix}-partner"
}

resource "aws_iam_access_key" "partner" {
  provider = aws.partner
  user     = aws_iam_user.partner.name
}

resource "aws_iam_user_policy" "partner" {
  provider = aws.partner
  name     = "${var.name_prefix}-partner"
  user     = aws_iam_user.partner.name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:ListBucket", Resource = "*" }]
  })
}
