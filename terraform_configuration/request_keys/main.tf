# The keys AWS puts in a request beyond what a step asks: where the
# credentials were delivered (an instance's role session), the role asked
# for (its tags), the region called and what a list sends. Each grant below
# holds only because its key is there, with the value AWS gives it.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "reports" {
  bucket        = "${var.name_prefix}-reports"
  force_destroy = true
}

# The workload's role: EC2 delivers it to the instance, and the operator may
# assume it too (to debug from a laptop).
data "aws_iam_policy_document" "workload_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_user.operator.arn]
    }
  }
}

resource "aws_iam_role" "workload" {
  name               = "${var.name_prefix}-workload"
  assume_role_policy = data.aws_iam_policy_document.workload_trust.json
}

resource "aws_iam_instance_profile" "workload" {
  name = "${var.name_prefix}-workload"
  role = aws_iam_role.workload.name
}

# The role's credentials read the reports only where EC2 delivered them, to
# this instance (at its address), over IMDSv2: copied off the instance they
# are refused.
data "aws_iam_policy_document" "workload" {
  statement {
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.reports.arn]

    condition {
      test     = "StringEquals"
      variable = "ec2:SourceInstanceARN"
      values   = ["arn:aws:ec2:${var.region}:${data.aws_caller_identity.current.account_id}:instance/${aws_instance.workload.id}"]
    }

    condition {
      test     = "NumericGreaterThanEquals"
      variable = "ec2:RoleDelivery"
      values   = ["2.0"]
    }

    condition {
      test     = "IpAddress"
      variable = "aws:Ec2InstanceSourcePrivateIPv4"
      values   = ["${aws_instance.workload.private_ip}/32"]
    }
  }
}

resource "aws_iam_role_policy" "workload" {
  name   = "${var.name_prefix}-workload"
  role   = aws_iam_role.workload.id
  policy = data.aws_iam_policy_document.workload.json
}

# The operator: an IAM user with an access key.
resource "aws_iam_user" "operator" {
  name = "${var.name_prefix}-operator"
}

resource "aws_iam_access_key" "operator" {
  user = aws_iam_user.operator.name
}

# Attribute-based access to roles: the operator may assume a role only if the
# role is tagged assumable = true (aws:ResourceTag on sts:AssumeRole); lists
# the reports only under its own prefix; and acts only in the region it
# works in (a Deny on every other aws:RequestedRegion).
data "aws_iam_policy_document" "operator" {
  statement {
    sid       = "AssumeTaggedRoles"
    actions   = ["sts:AssumeRole"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/assumable"
      values   = ["true"]
    }
  }

  statement {
    sid       = "ListOwnPrefix"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.reports.arn]

    condition {
      test     = "StringEquals"
      variable = "s3:prefix"
      values   = ["home/operator/"]
    }
  }

  statement {
    sid         = "OnlyHomeRegion"
    effect      = "Deny"
    not_actions = ["sts:GetCallerIdentity"]
    resources   = ["*"]

    condition {
      test     = "StringNotEquals"
      variable = "aws:RequestedRegion"
      values   = [var.region]
    }
  }
}

resource "aws_iam_user_policy" "operator" {
  name   = "${var.name_prefix}-operator"
  user   = aws_iam_user.operator.name
  policy = data.aws_iam_policy_document.operator.json
}

# Two roles that trust the account: they leave who may enter to its IAM
# policies (a trust naming the operator itself would need no grant at all),
# so only the tagged one is assumable.
data "aws_iam_policy_document" "operator_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_iam_role" "tagged" {
  name               = "${var.name_prefix}-tagged"
  assume_role_policy = data.aws_iam_policy_document.operator_trust.json

  tags = {
    assumable = "true"
  }
}

resource "aws_iam_role" "untagged" {
  name               = "${var.name_prefix}-untagged"
  assume_role_policy = data.aws_iam_policy_document.operator_trust.json
}

data "aws_ami" "amazon_linux" {
  count       = var.ami_id == null ? 1 : 0
  owners      = ["amazon"]
  most_recent = true

  filter {
    name   = "name"
    values = ["al2023-ami-2023.*-kernel-6.1-x86_64"]
  }
}

resource "aws_instance" "workload" {
  ami                  = var.ami_id != null ? var.ami_id : data.aws_ami.amazon_linux[0].id
  instance_type        = var.instance_type
  iam_instance_profile = aws_iam_instance_profile.workload.name

  metadata_options {
    http_tokens = "required"
  }

  tags = {
    Name = "${var.name_prefix}-workload"
  }
}
