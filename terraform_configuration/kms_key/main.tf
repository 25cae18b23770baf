# A customer managed KMS key whose policy names who may use it. A key
# grants its account nothing implicitly: without the key policy's statement
# that enables IAM policies, an identity policy allowing kms:* has no effect
# (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html).
# The application (an IAM user) assumes a reader role the key policy names,
# and a consumer role whose own policy allows every KMS action, which the key
# policy does not name.

data "aws_caller_identity" "current" {}

resource "aws_iam_user" "app" {
  name = "${var.name_prefix}-app"
}

resource "aws_iam_access_key" "app" {
  user = aws_iam_user.app.name
}

resource "aws_iam_user_policy" "app" {
  name = "${var.name_prefix}-app"
  user = aws_iam_user.app.name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Resource = [aws_iam_role.reader.arn, aws_iam_role.consumer.arn] }]
  })
}

data "aws_iam_policy_document" "app_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_user.app.arn]
    }
  }
}

resource "aws_iam_role" "reader" {
  name               = "${var.name_prefix}-reader"
  assume_role_policy = data.aws_iam_policy_document.app_trust.json
}

resource "aws_iam_role" "consumer" {
  name               = "${var.name_prefix}-consumer"
  assume_role_policy = data.aws_iam_policy_document.app_trust.json
}

# The consumer's own policy allows every KMS action on every key: not enough.
resource "aws_iam_role_policy" "consumer" {
  name = "${var.name_prefix}-consumer-kms"
  role = aws_iam_role.consumer.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "kms:*", Resource = "*" }]
  })
}

resource "aws_kms_key" "data" {
  description             = "${var.name_prefix} data key"
  deletion_window_in_days = 7
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # Whoever applies this config manages the key (and so may destroy it).
      { Sid = "KeyAdministration", Effect = "Allow", Principal = { AWS = data.aws_caller_identity.current.arn }, Action = "kms:*", Resource = "*" },
      {
        Sid       = "UsersOfTheKey"
        Effect    = "Allow"
        Principal = { AWS = concat([aws_iam_role.reader.arn], var.consumer_named ? [aws_iam_role.consumer.arn] : []) }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        # Only for the figures: a call must name this encryption context.
        Condition = { StringEquals = { "kms:EncryptionContext:purpose" = "figures" } }
      },
    ]
  })
}
