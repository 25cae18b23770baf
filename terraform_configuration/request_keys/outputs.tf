output "account_id" {
  value = data.aws_caller_identity.current.account_id
}

output "bucket_name" {
  value = aws_s3_bucket.reports.bucket
}

output "instance_id" {
  value = aws_instance.workload.id
}

output "workload_role_name" {
  value = aws_iam_role.workload.name
}

output "workload_role_arn" {
  value = aws_iam_role.workload.arn
}

output "tagged_role_arn" {
  value = aws_iam_role.tagged.arn
}

output "untagged_role_arn" {
  value = aws_iam_role.untagged.arn
}

output "operator_access_key_id" {
  value = aws_iam_access_key.operator.id
}

output "operator_secret_access_key" {
  value     = aws_iam_access_key.operator.secret
  sensitive = true
}

output "instance_private_ip" {
  value = aws_instance.workload.private_ip
}
