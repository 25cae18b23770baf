output "bucket_name" {
  value = aws_s3_bucket.reports.bucket
}

output "reader_role_arn" {
  value = aws_iam_role.reader.arn
}

output "analyst_access_key_id" {
  value = aws_iam_access_key.analyst.id
}

output "analyst_secret_access_key" {
  value     = aws_iam_access_key.analyst.secret
  sensitive = true
}
