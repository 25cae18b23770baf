# The blog's fix: the service on role1's instance assumes role2 to reach
# role2's bucket. role1 may call sts:AssumeRole on role2, and role2 trusts
# role1 (besides EC2). role1 itself still cannot touch the bucket.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# role2's bucket (the other service's data).
resource "aws_s3_bucket" "bucket" {
  bucket        = "${var.name_prefix}-bucket"
  force_destroy = true
}

# Both roles are instance roles: EC2 may assume them for an instance profile.
data "aws_iam_policy_document" "ec2_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "role1" {
  name               = "${var.name_prefix}-role1"
  assume_role_policy = data.aws_iam_policy_document.ec2_trust.json
}

resource "aws_iam_instance_profile" "role1" {
  name = "${var.name_prefix}-role1"
  role = aws_iam_role.role1.name
}

# role2 trusts EC2 (its own instance profile) and role1.
data "aws_iam_policy_document" "role2_trust" {
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
      identifiers = [aws_iam_role.role1.arn]
    }
  }
}

resource "aws_iam_role" "role2" {
  name               = "${var.name_prefix}-role2"
  assume_role_policy = data.aws_iam_policy_document.role2_trust.json
}

# role1 may assume role2 (its only permission).
data "aws_iam_policy_document" "role1_assume_role2" {
  statement {
    actions   = ["sts:AssumeRole"]
    resources = [aws_iam_role.role2.arn]
  }
}

resource "aws_iam_role_policy" "role1_assume_role2" {
  name   = "${var.name_prefix}-role1-assume-role2"
  role   = aws_iam_role.role1.id
  policy = data.aws_iam_policy_document.role1_assume_role2.json
}

resource "aws_iam_instance_profile" "role2" {
  name = "${var.name_prefix}-role2"
  role = aws_iam_role.role2.name
}

# role2 (and only role2) may use the bucket.
data "aws_iam_policy_document" "role2_bucket" {
  statement {
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.bucket.arn]
  }

  statement {
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.bucket.arn, "${aws_s3_bucket.bucket.arn}/*"]
  }
}

resource "aws_iam_role_policy" "role2_bucket" {
  name   = "${var.name_prefix}-role2-bucket"
  role   = aws_iam_role.role2.id
  policy = data.aws_iam_policy_document.role2_bucket.json
}

# A third service's role, trusting the account: a principal of the account
# whose own policy allows it may assume it. role1's grant names role2 only,
# so role1 must not get in (the scenarios check it: a grant on "*" would).
data "aws_iam_policy_document" "account_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_iam_role" "role3" {
  name               = "${var.name_prefix}-role3"
  assume_role_policy = data.aws_iam_policy_document.account_trust.json
}

# The development instance: every service runs here, as role1.
data "aws_ami" "amazon_linux" {
  count       = var.ami_id == null ? 1 : 0
  owners      = ["amazon"]
  most_recent = true

  filter {
    name   = "name"
    values = ["al2023-ami-2023.*-kernel-6.1-x86_64"]
  }
}

resource "aws_instance" "services" {
  ami                  = var.ami_id != null ? var.ami_id : data.aws_ami.amazon_linux[0].id
  instance_type        = var.instance_type
  iam_instance_profile = aws_iam_instance_profile.role1.name

  tags = {
    Name = "${var.name_prefix}-services"
  }
}
