terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6"
    }
  }
}

# One provider: the module places its bucket with each resource's `region` argument, and
# IAM is global.
provider "aws" {
  region = var.primary.region
}
