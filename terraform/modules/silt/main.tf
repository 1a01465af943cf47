# silt's storage in one region: the bucket, a least-privilege policy on this cluster's prefix,
# and the IAM role the brokers' Kubernetes service account assumes (IRSA).

locals {
  # The S3 actions silt issues, and nothing else (infra/check.sh derives them from the
  # object-store calls in the Rust code and fails when the two lists differ):
  #   PUT with If-None-Match (segments, written once)    s3:PutObject
  #   GET, ranged GET (segments, chunks)                 s3:GetObject
  #   LIST on the prefix (/readyz, the garbage collector) s3:ListBucket
  #   DELETE, DeleteObjects (the garbage collector)       s3:DeleteObject
  silt_s3_object_actions = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
  silt_s3_bucket_actions = ["s3:ListBucket"]

  oidc_issuer = trimprefix(var.oidc_provider_url, "https://")
}

resource "aws_s3_bucket" "silt" {
  #checkov:skip=CKV_AWS_21:versioning is off on purpose: silt writes each object once (If-None-Match) and never overwrites; versions would only keep deleted data
  #checkov:skip=CKV_AWS_144:cross-region replication of segments alone is no usable replica (the metadata lives in the Raft log); the geo-replication example runs a cluster per region
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) encryption; a KMS key would add a KMS request and its quota to every segment PUT and GET
  #checkov:skip=CKV_AWS_18:server access logging is a per-organisation choice (a log bucket of its own); CloudTrail data events cover audits
  #checkov:skip=CKV2_AWS_62:silt consumes no bucket event notifications
  region = var.region
  bucket = var.bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "silt" {
  region                  = var.region
  bucket                  = aws_s3_bucket.silt.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "silt" {
  region = var.region
  bucket = aws_s3_bucket.silt.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "silt" {
  region = var.region
  bucket = aws_s3_bucket.silt.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "silt" {
  region = var.region
  bucket = aws_s3_bucket.silt.id
  versioning_configuration {
    status = "Disabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "silt" {
  region = var.region
  bucket = aws_s3_bucket.silt.id
  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }
}

# Requests without TLS are refused.
data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.silt.arn, "${aws_s3_bucket.silt.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "silt" {
  region = var.region
  bucket = aws_s3_bucket.silt.id
  policy = data.aws_iam_policy_document.bucket.json
  # The public access block must exist first, or the policy may be refused as public.
  depends_on = [aws_s3_bucket_public_access_block.silt]
}

data "aws_iam_policy_document" "silt" {
  statement {
    sid       = "SiltObjects"
    effect    = "Allow"
    actions   = local.silt_s3_object_actions
    resources = ["${aws_s3_bucket.silt.arn}/${var.prefix}/*"]
  }
  statement {
    sid       = "SiltListPrefix"
    effect    = "Allow"
    actions   = local.silt_s3_bucket_actions
    resources = [aws_s3_bucket.silt.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.prefix}/*"]
    }
  }
}

resource "aws_iam_policy" "silt" {
  name        = "${var.name}-silt-${var.region}"
  description = "silt cluster ${var.name}: the S3 actions silt uses, on s3://${var.bucket_name}/${var.prefix}/ only"
  policy      = data.aws_iam_policy_document.silt.json
  tags        = var.tags
}

# IRSA: only the brokers' service account of this cluster may assume the role.
data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:${var.service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "broker" {
  name               = "${var.name}-silt-broker-${var.region}"
  description        = "silt brokers of cluster ${var.name} (Kubernetes ${var.namespace}/${var.service_account})"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "broker" {
  role       = aws_iam_role.broker.name
  policy_arn = aws_iam_policy.silt.arn
}
