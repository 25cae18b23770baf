# What a chain of roles carries from its first session to its last: session
# tags marked transitive, and a source identity, persist when a session
# assumes the next role (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html,
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html).
# An application (an IAM user with an access key) enters each chain; the
# shared bucket is reachable only at a chain's end, and only with what the
# first session set.

resource "aws_s3_bucket" "shared" {
  bucket        = "${var.name_prefix}-shared"
  force_destroy = true
}

resource "aws_iam_user" "app" {
  name = "${var.name_prefix}-app"
}

resource "aws_iam_access_key" "app" {
  user = aws_iam_user.app.name
}

# The application enters both chains, tagging its sessions and setting their source identity.
resource "aws_iam_user_policy" "app" {
  name = "${var.name_prefix}-app"
  user = aws_iam_user.app.name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"], Resource = [aws_iam_role.entry.arn, aws_iam_role.audited.arn] }]
  })
}

# --- The tag chain: app -> entry -> inner -> the shared bucket, for team = data only.

resource "aws_iam_role" "entry" {
  name = "${var.name_prefix}-entry"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["sts:AssumeRole", "sts:TagSession"], Principal = { AWS = aws_iam_user.app.arn } }]
  })
}

# The entry role reaches nothing itself: it may only enter the inner role.
resource "aws_iam_role_policy" "entry" {
  name = "${var.name_prefix}-entry"
  role = aws_iam_role.entry.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["sts:AssumeRole", "sts:TagSession"], Resource = aws_iam_role.inner.arn }]
  })
}

resource "aws_iam_role" "inner" {
  name = "${var.name_prefix}-inner"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["sts:AssumeRole", "sts:TagSession"], Principal = { AWS = aws_iam_role.entry.arn } }]
  })
}

resource "aws_iam_role_policy" "inner" {
  name = "${var.name_prefix}-inner"
  role = aws_iam_role.inner.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "s3:ListBucket"
      Resource  = aws_s3_bucket.shared.arn
      Condition = { StringEquals = { "aws:PrincipalTag/team" = "data" } }
    }]
  })
}

# --- The audited chain: app -> audited (a source identity of the company's
# required) -> downstream -> the shared bucket, for the auditor's identity only.

resource "aws_iam_role" "audited" {
  name = "${var.name_prefix}-audited"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = ["sts:AssumeRole", "sts:SetSourceIdentity"]
      Principal = { AWS = aws_iam_user.app.arn }
      Condition = { StringLike = { "sts:SourceIdentity" = "*@example.com" } }
    }]
  })
}

resource "aws_iam_role_policy" "audited" {
  name = "${var.name_prefix}-audited"
  role = aws_iam_role.audited.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["sts:AssumeRole", "sts:SetSourceIdentity"], Resource = aws_iam_role.downstream.arn }]
  })
}

resource "aws_iam_role" "downstream" {
  name = "${var.name_prefix}-downstream"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["sts:AssumeRole", "sts:SetSourceIdentity"], Principal = { AWS = aws_iam_role.audited.arn } }]
  })
}

resource "aws_iam_role_policy" "downstream" {
  name = "${var.name_prefix}-downstream"
  role = aws_iam_role.downstream.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "s3:ListBucket"
      Resource  = aws_s3_bucket.shared.arn
      Condition = { StringEquals = { "aws:SourceIdentity" = var.auditor } }
    }]
  })
}
