# SAML 2.0 federation, as from Okta, Entra ID or ADFS: the company's
# identity provider signs a response naming the user's groups, and AWS
# (sts:AssumeRoleWithSAML) gives each group its own role. A role trusts the
# corporate provider only, for responses sent to AWS's sign-in endpoint
# (SAML:aud, the response's Recipient) and for its group
# (SAML:edupersonaffiliation); the team a user belongs to arrives as a
# session tag (a PrincipalTag attribute), which the reports bucket checks
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml_assertions.html).
#
# The partner provider holds the same metadata but is trusted by no role:
# a response for it is refused by the trust, whoever signed it.

locals {
  sign_in = "https://signin.aws.amazon.com/saml"
}

resource "aws_iam_saml_provider" "corp" {
  name                   = "${var.name_prefix}-corp"
  saml_metadata_document = var.saml_metadata
}

resource "aws_iam_saml_provider" "partner" {
  name                   = "${var.name_prefix}-partner"
  saml_metadata_document = var.saml_metadata
}

resource "aws_s3_bucket" "reports" {
  bucket        = "${var.name_prefix}-reports"
  force_destroy = true
}

# A group's role: the corporate provider's users whose response went to
# AWS's sign-in endpoint and names the group; they may pass session tags.
data "aws_iam_policy_document" "group_trust" {
  for_each = toset(["engineering", "audit"])

  statement {
    actions = ["sts:AssumeRoleWithSAML", "sts:TagSession"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_saml_provider.corp.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "SAML:aud"
      values   = [local.sign_in]
    }

    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "SAML:edupersonaffiliation"
      values   = [each.key]
    }
  }
}

resource "aws_iam_role" "engineer" {
  name               = "${var.name_prefix}-engineer"
  assume_role_policy = data.aws_iam_policy_document.group_trust["engineering"].json
}

resource "aws_iam_role" "auditor" {
  name               = "${var.name_prefix}-auditor"
  assume_role_policy = data.aws_iam_policy_document.group_trust["audit"].json
}

# Engineers of the platform team (their session tag) list and write the reports.
data "aws_iam_policy_document" "engineer" {
  statement {
    actions   = ["s3:ListBucket", "s3:PutObject"]
    resources = [aws_s3_bucket.reports.arn, "${aws_s3_bucket.reports.arn}/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalTag/team"
      values   = ["platform"]
    }
  }
}

resource "aws_iam_role_policy" "engineer" {
  name   = "${var.name_prefix}-engineer"
  role   = aws_iam_role.engineer.id
  policy = data.aws_iam_policy_document.engineer.json
}

# Auditors read the list of reports, whatever their team.
data "aws_iam_policy_document" "auditor" {
  statement {
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.reports.arn]
  }
}

resource "aws_iam_role_policy" "auditor" {
  name   = "${var.name_prefix}-auditor"
  role   = aws_iam_role.auditor.id
  policy = data.aws_iam_policy_document.auditor.json
}
