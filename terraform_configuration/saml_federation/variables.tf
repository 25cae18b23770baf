variable "name_prefix" {
  description = "Prefix of every resource name. Bucket names are global on AWS, so make it unique per run (the harness does)."
  type        = string
  default     = "saml-federation"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{2,37}$", var.name_prefix))
    error_message = "name_prefix must be 3-38 characters of lowercase letters, digits and hyphens (it is part of an S3 bucket name)."
  }
}

variable "region" {
  description = "AWS region of every resource."
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Tags put on every taggable resource (the harness adds its run id here)."
  type        = map(string)
  default     = {}
}

variable "saml_metadata" {
  description = "The identity provider's SAML metadata (its entity id and signing certificate), as Okta, Entra ID or ADFS export it. The harness fills it with its own identity provider's, which signs the scenario's responses."
  type        = string
}
