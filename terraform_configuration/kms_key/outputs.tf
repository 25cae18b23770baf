output "app_access_key_id" {
  description = "The application's access key (the scenario acts as it)."
  value       = aws_iam_access_key.app.id
}

output "app_secret_access_key" {
  value     = aws_iam_access_key.app.secret
  sensitive = true
}

output "reader_role_arn" {
  value = aws_iam_role.reader.arn
}

output "consumer_role_arn" {
  value = aws_iam_role.consumer.arn
}

output "key_arn" {
  value = aws_kms_key.data.arn
}

output "key_id" {
  description = "The key's id: what names its policy in a denial's reason."
  value       = aws_kms_key.data.key_id
}
