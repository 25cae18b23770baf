# What AssumeRole's parameters decide: an application (an IAM user with an
# access key) assumes roles whose trust and policies depend on session tags,
# session policies, an external ID and the session's duration.

resource "aws_s3_bucket" "data" {
  bucket        = "${var.name_prefix}-data"
  force_destroy = true
}

# Reachable only by a session tagged team = data.
resource "aws_s3_bucket" "team" {
  bucket        = "${var.name_prefix}-team"
  force_destroy = true
}

resource "aws_iam_user" "app" {
  name = "${var.name_prefix}-app"
}

resource "aws_iam_access_key" "app" {
  user = aws_iam_user.app.name
}

# The application may assume each role, and tag its sessions.
data "aws_iam_policy_document" "app" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    resources = [
      aws_iam_role.data.arn,
      aws_iam_role.untaggable.arn,
      aws_iam_role.partner.arn,
      aws_iam_role.short.arn,
      aws_iam_role.named.arn,
    ]
  }
}

resource "aws_iam_user_policy" "app" {
  name   = "${var.name_prefix}-app"
  user   = aws_iam_user.app.name
  policy = data.aws_iam_policy_document.app.json
}

# The data role trusts the application, tagged sessions included, for up to 12 hours.
data "aws_iam_policy_document" "data_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_user.app.arn]
    }
  }
}

resource "aws_iam_role" "data" {
  name                 = "${var.name_prefix}-data"
  assume_role_policy   = data.aws_iam_policy_document.data_trust.json
  max_session_duration = 43200
}

# The data bucket whole; the team bucket only with the session tag team = data;
# and the relay role (a role chain).
data "aws_iam_policy_document" "data" {
  statement {
    actions   = ["s3:ListBucket", "s3:GetObject", "s3:PutObject"]
    resources = [aws_s3_bucket.data.arn, "${aws_s3_bucket.data.arn}/*"]
  }

  statement {
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.team.arn]

    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalTag/team"
      values   = ["data"]
    }
  }

  statement {
    actions   = ["sts:AssumeRole"]
    resources = [aws_iam_role.relay.arn]
  }
}

resource "aws_iam_role_policy" "data" {
  name   = "${var.name_prefix}-data"
  role   = aws_iam_role.data.id
  policy = data.aws_iam_policy_document.data.json
}

# Trusts the application, but not with session tags (no sts:TagSession).
data "aws_iam_policy_document" "untaggable_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_user.app.arn]
    }
  }
}

resource "aws_iam_role" "untaggable" {
  name               = "${var.name_prefix}-untaggable"
  assume_role_policy = data.aws_iam_policy_document.untaggable_trust.json
}

# A third party's role: it trusts the application only with the agreed external ID.
data "aws_iam_policy_document" "partner_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_user.app.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }
  }
}

resource "aws_iam_role" "partner" {
  name               = "${var.name_prefix}-partner"
  assume_role_policy = data.aws_iam_policy_document.partner_trust.json
}

# One hour at most (the default), trusting the application.
data "aws_iam_policy_document" "short_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_user.app.arn]
    }
  }
}

resource "aws_iam_role" "short" {
  name               = "${var.name_prefix}-short"
  assume_role_policy = data.aws_iam_policy_document.short_trust.json
}

# Up to 12 hours, trusting the data role: a session of the data role that
# assumes it is a role chain, held to one hour whatever the relay allows.
data "aws_iam_policy_document" "relay_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.data.arn]
    }
  }
}

resource "aws_iam_role" "relay" {
  name                 = "${var.name_prefix}-relay"
  assume_role_policy   = data.aws_iam_policy_document.relay_trust.json
  max_session_duration = 43200
}

# Trusts the application only for sessions it names like `mat*`: the request's
# own sts:RoleSessionName
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_rolesessionname).
data "aws_iam_policy_document" "named_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_user.app.arn]
    }

    condition {
      test     = "StringLike"
      variable = "sts:RoleSessionName"
      values   = ["mat*"]
    }
  }
}

resource "aws_iam_role" "named" {
  name               = "${var.name_prefix}-named"
  assume_role_policy = data.aws_iam_policy_document.named_trust.json
}
