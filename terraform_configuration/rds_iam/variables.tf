variable "name_prefix" {
  description = "Prefix of every resource name. Bucket names are global on AWS, so make it unique per run (the harness does)."
  type        = string
  default     = "rds-iam"

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

variable "master_password" {
  description = "The instance's master password. Nobody logs in with it here: the application connects with IAM database authentication. Set your own (or use manage_master_user_password) outside a demo."
  type        = string
  sensitive   = true
  default     = "harness-demo-only-9f3b2c"
}
