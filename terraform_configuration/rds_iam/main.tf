# An application connects to its PostgreSQL instance with IAM database
# authentication: no password, a 15-minute token signed with its role's
# credentials (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.html).
# RDS lets the token in as a database user only if the role may
# rds-db:connect on that user of that instance:
#   arn:aws:rds-db:REGION:ACCOUNT:dbuser:DbiResourceId/USER
# The application's role may connect as app_user and as no other; the
# reporting role as report_user. The operator (a CI user) takes either role.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

resource "aws_db_instance" "app" {
  identifier                          = "${var.name_prefix}-app"
  engine                              = "postgres"
  engine_version                      = "15"
  instance_class                      = "db.t3.micro"
  allocated_storage                   = 20
  username                            = "master"
  password                            = var.master_password
  iam_database_authentication_enabled = true
  skip_final_snapshot                 = true
}

locals {
  # The instance's database users, as IAM names them.
  dbuser = "arn:aws:rds-db:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:dbuser:${aws_db_instance.app.resource_id}"
}

resource "aws_iam_user" "operator" {
  name = "${var.name_prefix}-operator"
}

resource "aws_iam_access_key" "operator" {
  user = aws_iam_user.operator.name
}

resource "aws_iam_user_policy" "operator" {
  name = "${var.name_prefix}-operator"
  user = aws_iam_user.operator.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "sts:AssumeRole"
      Resource = [aws_iam_role.app.arn, aws_iam_role.reporting.arn]
    }]
  })
}

# Both roles trust the operator.
data "aws_iam_policy_document" "trust_operator" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_user.operator.arn]
    }
  }
}

resource "aws_iam_role" "app" {
  name               = "${var.name_prefix}-app"
  assume_role_policy = data.aws_iam_policy_document.trust_operator.json
}

resource "aws_iam_role_policy" "app" {
  name = "${var.name_prefix}-app"
  role = aws_iam_role.app.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ConnectAsAppUser"
      Effect   = "Allow"
      Action   = "rds-db:connect"
      Resource = "${local.dbuser}/app_user"
    }]
  })
}

resource "aws_iam_role" "reporting" {
  name               = "${var.name_prefix}-reporting"
  assume_role_policy = data.aws_iam_policy_document.trust_operator.json
}

resource "aws_iam_role_policy" "reporting" {
  name = "${var.name_prefix}-reporting"
  role = aws_iam_role.reporting.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ConnectAsReportUser"
      Effect   = "Allow"
      Action   = "rds-db:connect"
      Resource = "${local.dbuser}/report_user"
    }]
  })
}
