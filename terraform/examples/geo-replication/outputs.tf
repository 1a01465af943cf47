output "primary" {
  description = "The primary region's values for infra/k8s/overlays/cloud: SILT_OBJECT_STORE, AWS_REGION and the service account's role ARN."
  value = {
    object_store_url = module.primary.object_store_url
    region           = module.primary.region
    broker_role_arn  = module.primary.broker_role_arn
  }
}

output "secondary" {
  description = "The same for the second region."
  value = {
    object_store_url = module.secondary.object_store_url
    region           = module.secondary.region
    broker_role_arn  = module.secondary.broker_role_arn
  }
}

output "cluster_secrets" {
  description = "Each region's metadata cluster secret (its own cluster, its own secret): the Secret silt-cluster-secret of that region (infra/README.md)."
  value = {
    primary   = module.primary.cluster_secret
    secondary = module.secondary.cluster_secret
  }
  sensitive = true
}
