# Two regions, one silt cluster in each (its own bucket, metadata service and brokers), the
# second a geo-replica of the first. Each region's brokers can reach only their own bucket's
# prefix. silt has no replicator process yet: this wires the storage and identities a
# replicated pair needs; see infra/README.md.

module "primary" {
  source            = "../../modules/silt"
  name              = "${var.name}-${var.primary.region}"
  region            = var.primary.region
  bucket_name       = var.primary.bucket_name
  prefix            = var.prefix
  oidc_provider_arn = var.primary.oidc_provider_arn
  oidc_provider_url = var.primary.oidc_provider_url
  tags              = merge(var.tags, { "silt/role" = "primary" })
}

module "secondary" {
  source            = "../../modules/silt"
  name              = "${var.name}-${var.secondary.region}"
  region            = var.secondary.region
  bucket_name       = var.secondary.bucket_name
  prefix            = var.prefix
  oidc_provider_arn = var.secondary.oidc_provider_arn
  oidc_provider_url = var.secondary.oidc_provider_url
  tags              = merge(var.tags, { "silt/role" = "secondary" })
}
