# The blog's problem: in production each service runs on its own instance
# whose role grants its own bucket. In development all services share ONE
# instance that carries role1, and role1 cannot reach role2's bucket:
#   aws s3 ls s3://<bucket>  ->  AccessDenied (ListObjects)

data "aws_caller_identity" "current" {}

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

resource "aws_iam_role" "role2" {
  name               = "${var.name_prefix}-role2"
  assume_role_policy = data.aws_iam_policy_document.ec2_trust.json
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
