variable "name" {
  description = "Name of this silt cluster; prefixes the IAM role and policy names (letters, digits and dashes)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,37}$", var.name))
    error_message = "name must be 1-38 lower-case letters, digits or dashes (it prefixes IAM names)."
  }
}

variable "region" {
  description = "AWS region of the bucket (e.g. eu-west-1). The brokers' AWS_REGION must be the same."
  type        = string
}

variable "bucket_name" {
  description = "Name of the S3 bucket to create (globally unique)."
  type        = string
}

variable "prefix" {
  description = "Key prefix of this cluster in the bucket: silt's object store URL is s3://<bucket_name>/<prefix>, and the IAM policy allows nothing outside it."
  type        = string
  default     = "silt"
  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$", var.prefix))
    error_message = "prefix must be non-empty, without leading or trailing slashes."
  }
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which the lifecycle rule aborts incomplete multipart uploads (silt writes whole objects, but a client or tool may leave parts behind)."
  type        = number
  default     = 1
}

variable "oidc_provider_arn" {
  description = "ARN of the Kubernetes cluster's IAM OIDC identity provider (EKS: aws_iam_openid_connect_provider of the cluster)."
  type        = string
}

variable "oidc_provider_url" {
  description = "Issuer URL of that OIDC provider, with or without https:// (EKS: cluster identity oidc issuer)."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the brokers (infra/k8s overlays use silt)."
  type        = string
  default     = "silt"
}

variable "service_account" {
  description = "Kubernetes service account of the brokers (infra/k8s/base: silt-broker)."
  type        = string
  default     = "silt-broker"
}

variable "cluster_secret" {
  description = "The metadata cluster's shared secret (at least 32 characters); null generates one (output cluster_secret)."
  type        = string
  default     = null
  sensitive   = true
  validation {
    condition     = var.cluster_secret == null || length(coalesce(var.cluster_secret, "")) >= 32
    error_message = "cluster_secret must be at least 32 characters (silt refuses a shorter one)."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
