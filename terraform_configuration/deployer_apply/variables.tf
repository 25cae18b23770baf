variable "name_prefix" {
  description = "The prefix deployer_account was applied with: it names the deployer role and its bucket."
  type        = string
  default     = "deployer"
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

variable "external_id" {
  description = "The external ID sent with the AssumeRole: empty for the one the role asks for, \"none\" for none at all, anything else as it is."
  type        = string
  default     = ""
}

variable "bucket_suffix" {
  description = "The bucket to create is <name_prefix>-<bucket_suffix>; the deployer may manage only <name_prefix>-deployed."
  type        = string
  default     = "deployed"
}

variable "deployer_account_id" {
  description = "The account of the deployer role: empty for the CI user's own; another id for a deployer across accounts."
  type        = string
  default     = ""
}
