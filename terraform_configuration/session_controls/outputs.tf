output "app_access_key_id" {
  description = "The application's access key (the scenarios act as it)."
  value       = aws_iam_access_key.app.id
}

output "app_secret_access_key" {
  value     = aws_iam_access_key.app.secret
  sensitive = true
}

output "data_bucket" {
  value = aws_s3_bucket.data.bucket
}

output "team_bucket" {
  value = aws_s3_bucket.team.bucket
}

output "data_role_arn" {
  value = aws_iam_role.data.arn
}

output "untaggable_role_arn" {
  value = aws_iam_role.untaggable.arn
}

output "partner_role_arn" {
  value = aws_iam_role.partner.arn
}

output "short_role_arn" {
  value = aws_iam_role.short.arn
}

output "relay_role_arn" {
  value = aws_iam_role.relay.arn
}

output "named_role_arn" {
  value = aws_iam_role.named.arn
}
