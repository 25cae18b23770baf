terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 6.0"
    }
  }
}

# No endpoints or credentials here: the harness points each provider block
# at its account from outside (the scenario's [accounts]): the default at the
# Organization's management account, `workload` at a member, `partner` at an
# account outside the Organization.
provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

provider "aws" {
  alias  = "workload"
  region = var.region

  default_tags {
    tags = var.tags
  }
}

provider "aws" {
  alias  = "partner"
  region = var.region

  default_tags {
    tags = var.tags
  }
}
