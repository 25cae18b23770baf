output "ci_access_key_id" {
  description = "The workload's CI user (the scenario applies a bucket as it)."
  value       = aws_iam_access_key.ci.id
}

output "ci_secret_access_key" {
  value     = aws_iam_access_key.ci.secret
  sensitive = true
}

output "auditor_access_key_id" {
  value = aws_iam_access_key.auditor.id
}

output "auditor_secret_access_key" {
  value     = aws_iam_access_key.auditor.secret
  sensitive = true
}

output "partner_access_key_id" {
  value = aws_iam_access_key.partner.id
}

output "partner_secret_access_key" {
  value     = aws_iam_access_key.partner.secret
  sensitive = true
}

output "shared_bucket" {
  value = aws_s3_bucket.shared.bucket
}

output "organization_id" {
  value = aws_organizations_organization.org.id
}
