output "app_access_key_id" {
  description = "The application's access key (the scenarios act as it)."
  value       = aws_iam_access_key.app.id
}

output "app_secret_access_key" {
  value     = aws_iam_access_key.app.secret
  sensitive = true
}

output "shared_bucket" {
  value = aws_s3_bucket.shared.bucket
}

output "entry_role_arn" {
  value = aws_iam_role.entry.arn
}

output "inner_role_arn" {
  value = aws_iam_role.inner.arn
}

output "audited_role_arn" {
  value = aws_iam_role.audited.arn
}

output "downstream_role_arn" {
  value = aws_iam_role.downstream.arn
}
