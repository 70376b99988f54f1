# Lambda + S3: the counter is one object in a private, encrypted bucket that only this
# function's role can read and write. The object's key, how it is created and the
# function's settings come from the row's description (deploy/architectures/<id>.json);
# the lab creates the same bucket and object the same way before it starts the function.

locals {
  counter = var.description.counter
}

module "bucket" {
  source = "../private-bucket"

  prefix  = "${var.name}-counter-"
  purpose = "the ${var.name} counter object"
}

# The counter at 0, created by the deploy (counter.created_by = "deploy"): the function
# never creates it. The count then changes with every call, which is not drift.
resource "aws_s3_object" "counter" {
  bucket       = module.bucket.id
  key          = local.counter.key
  content      = "0"
  content_type = "text/plain"

  lifecycle {
    ignore_changes = [content, etag]
  }
}

module "function" {
  source = "../function"

  name               = "${var.name}-${var.description.id}"
  description        = var.description.summary
  package            = var.package
  settings           = var.description.function
  template_values    = { counter_bucket = module.bucket.id }
  log_retention_days = var.log_retention_days
  policy_statements = [
    {
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["${module.bucket.arn}/${local.counter.key}"]
    },
    {
      # HeadBucket at init checks that the bucket exists.
      actions   = ["s3:ListBucket"]
      resources = [module.bucket.arn]
    },
    {
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [module.bucket.kms_key_arn]
    },
  ]
}

module "api" {
  source = "../http-api"

  name               = "${var.name}-${var.description.id}"
  function_name      = module.function.function_name
  invoke_arn         = module.function.invoke_arn
  log_retention_days = var.log_retention_days
}
