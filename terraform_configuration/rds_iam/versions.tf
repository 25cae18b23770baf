terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 6.0"
    }
  }
}

# No endpoints or credentials here: the harness points this provider at its
# target from outside (an override file in a temporary working copy), so the
# same folder runs unchanged against a real account.
provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}
