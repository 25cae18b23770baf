output "db_address" {
  description = "The instance's endpoint host: what its auth tokens name."
  value       = aws_db_instance.app.address
}

output "db_port" {
  value = aws_db_instance.app.port
}

output "db_resource_id" {
  description = "The instance's DbiResourceId: the dbuser ARNs name it."
  value       = aws_db_instance.app.resource_id
}

output "app_role_arn" {
  value = aws_iam_role.app.arn
}

output "reporting_role_arn" {
  value = aws_iam_role.reporting.arn
}

output "operator_access_key_id" {
  value = aws_iam_access_key.operator.id
}

output "operator_secret_access_key" {
  value     = aws_iam_access_key.operator.secret
  sensitive = true
}
