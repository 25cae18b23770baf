output "ci_access_key_id" {
  value = aws_iam_access_key.ci.id
}

output "ci_secret_access_key" {
  value     = aws_iam_access_key.ci.secret
  sensitive = true
}

output "deployer_role_arn" {
  value = aws_iam_role.deployer.arn
}

# The session the CI user gets of the deployer, as STS names it (session "deployer").
output "deployer_session_arn" {
  value = "arn:${data.aws_partition.current.partition}:sts::${data.aws_caller_identity.prod.account_id}:assumed-role/${aws_iam_role.deployer.name}/deployer"
}

output "external_id" {
  value = local.external_id
}

output "dev_account_id" {
  value = data.aws_caller_identity.dev.account_id
}

output "prod_account_id" {
  value = data.aws_caller_identity.prod.account_id
}
