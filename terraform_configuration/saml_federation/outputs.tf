output "corp_provider_arn" {
  description = "The corporate identity provider: the one both roles trust."
  value       = aws_iam_saml_provider.corp.arn
}

output "partner_provider_arn" {
  description = "Another provider holding the same metadata, trusted by no role."
  value       = aws_iam_saml_provider.partner.arn
}

output "engineer_role_arn" {
  value = aws_iam_role.engineer.arn
}

output "auditor_role_arn" {
  value = aws_iam_role.auditor.arn
}

output "reports_bucket" {
  value = aws_s3_bucket.reports.bucket
}
