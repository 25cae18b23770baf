output "app_access_key_id" {
  description = "The consumer's application (the scenario acts as it)."
  value       = aws_iam_access_key.app.id
}

output "app_secret_access_key" {
  value     = aws_iam_access_key.app.secret
  sensitive = true
}

output "reader_role_arn" {
  value = aws_iam_role.reader.arn
}

output "artifacts_bucket" {
  value = aws_s3_bucket.artifacts.bucket
}

output "key_arn" {
  value = aws_kms_key.artifacts.arn
}
