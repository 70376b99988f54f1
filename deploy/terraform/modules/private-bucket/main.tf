# A private bucket: public access blocked, owner-enforced ACLs, encrypted with its own
# rotating KMS key, deletable with its contents (experiment data only).

resource "aws_s3_bucket" "bucket" {
  #checkov:skip=CKV_AWS_18:Access logs of a bucket holding one object would cost more than the row; CloudTrail covers audits.
  #checkov:skip=CKV_AWS_144:Experiment data and build artifacts; cross-region replication would double the writes being measured.
  #checkov:skip=CKV2_AWS_62:No consumer of object events exists.
  #checkov:skip=CKV_AWS_21:Versioning would keep one version per counter write (millions of objects under load); artifacts are rebuilt from source.
  #checkov:skip=CKV2_AWS_61:Without versioning there is one object and nothing to expire.
  bucket_prefix = var.prefix
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "bucket" {
  bucket                  = aws_s3_bucket.bucket.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "bucket" {
  bucket = aws_s3_bucket.bucket.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_kms_key" "bucket" {
  description             = "Encrypts the bucket of ${var.purpose}"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.key.json
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:A key policy's resource "*" means this key only; the account's own administrators manage it (AWS's default key policy).
  #checkov:skip=CKV_AWS_356:A key policy's resource "*" means this key only (AWS's default key policy).
  #checkov:skip=CKV_AWS_109:The account's own administrators manage the key (AWS's default key policy); no other principal is named.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "bucket" {
  bucket = aws_s3_bucket.bucket.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.bucket.arn
    }
    # One data key per bucket instead of one KMS call per request: cheaper and faster.
    bucket_key_enabled = true
  }
}

