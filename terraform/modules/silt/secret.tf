# The metadata cluster's shared secret (README.md, "The metadata cluster's credential"):
# var.cluster_secret if given, else 43 random URL-safe characters (as `silt auth
# cluster-secret` makes). It lives in the Terraform state, never in the repository; put it
# into the Secret both infra/k8s workloads mount:
#   terraform output -raw cluster_secret | kubectl -n silt create secret generic \
#     silt-cluster-secret --from-file=cluster-secret=/dev/stdin

resource "random_password" "cluster_secret" {
  count   = var.cluster_secret == null ? 1 : 0
  length  = 43
  special = true
  # base64url's alphabet: no quoting issues in files, headers or shells.
  override_special = "-_"
}

locals {
  cluster_secret = var.cluster_secret == null ? random_password.cluster_secret[0].result : var.cluster_secret
}
