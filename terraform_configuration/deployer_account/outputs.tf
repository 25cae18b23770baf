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

output "external_id" {
  value = local.external_id
}

output "deployed_bucket" {
  value = local.deployed_bucket
}
