output "bucket_name" {
  value = aws_s3_bucket.reports.bucket
}

output "broker_access_key_id" {
  value = aws_iam_access_key.broker.id
}

output "broker_secret_access_key" {
  value     = aws_iam_access_key.broker.secret
  sensitive = true
}
