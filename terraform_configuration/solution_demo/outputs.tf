output "account_id" {
  value = data.aws_caller_identity.current.account_id
}

output "bucket_name" {
  value = aws_s3_bucket.bucket.bucket
}

output "bucket_arn" {
  value = aws_s3_bucket.bucket.arn
}

output "role1_name" {
  value = aws_iam_role.role1.name
}

output "role1_arn" {
  value = aws_iam_role.role1.arn
}

output "role2_name" {
  value = aws_iam_role.role2.name
}

output "role2_arn" {
  value = aws_iam_role.role2.arn
}

output "role3_arn" {
  description = "A role that trusts the account; role1 must not be able to assume it."
  value       = aws_iam_role.role3.arn
}

output "instance_id" {
  description = "The instance the services share in development; it carries role1's instance profile."
  value       = aws_instance.services.id
}
