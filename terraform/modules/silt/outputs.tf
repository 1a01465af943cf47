output "bucket_name" {
  description = "The bucket silt stores its segments in."
  value       = aws_s3_bucket.silt.id
}

output "bucket_arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.silt.arn
}

output "object_store_url" {
  description = "silt's object store URL: SILT_OBJECT_STORE of the brokers (infra/k8s/overlays/cloud)."
  value       = "s3://${aws_s3_bucket.silt.id}/${var.prefix}"
}

output "region" {
  description = "Region of the bucket: AWS_REGION of the brokers."
  value       = var.region
}

output "broker_role_arn" {
  description = "IAM role of the brokers: the eks.amazonaws.com/role-arn annotation of their service account."
  value       = aws_iam_role.broker.arn
}

output "policy_arn" {
  description = "The least-privilege S3 policy attached to the role."
  value       = aws_iam_policy.silt.arn
}

output "s3_actions" {
  description = "The S3 actions the policy grants (exactly those silt issues)."
  value       = concat(local.silt_s3_object_actions, local.silt_s3_bucket_actions)
}

output "cluster_secret" {
  description = "The metadata cluster's shared secret: the key cluster-secret of the Secret silt-cluster-secret (infra/k8s/base)."
  value       = local.cluster_secret
  sensitive   = true
}
