variable "name" {
  description = "Name of the deployment; each region's cluster is named <name>-<region>."
  type        = string
  default     = "silt"
}

variable "primary" {
  description = "The primary region's cluster: its region, its bucket's name and its EKS cluster's OIDC provider (ARN and issuer URL)."
  type = object({
    region            = string
    bucket_name       = string
    oidc_provider_arn = string
    oidc_provider_url = string
  })
}

variable "secondary" {
  description = "The second region's cluster, the geo-replica of the first: same fields as primary."
  type = object({
    region            = string
    bucket_name       = string
    oidc_provider_arn = string
    oidc_provider_url = string
  })
}

variable "prefix" {
  description = "Key prefix of silt's objects in both buckets."
  type        = string
  default     = "silt"
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
