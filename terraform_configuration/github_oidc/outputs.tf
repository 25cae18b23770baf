output "github_issuer" {
  description = "The issuer of the workflow tokens (the OIDC provider's URL without https://)."
  value       = local.issuer
}

output "deploy_role_arn" {
  value = aws_iam_role.deploy.arn
}

output "artifacts_bucket" {
  value = aws_s3_bucket.artifacts.bucket
}
