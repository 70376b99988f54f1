# Lambda + S3: the counter is one object in a private, encrypted bucket that only this
# function's role can read and write.

locals {
  key = "hits"
}

module "bucket" {
  source = "../private-bucket"

  prefix  = "${var.name}-counter-"
  purpose = "the ${var.name} counter object"
}

module "function" {
  source = "../function"

  name               = "${var.name}-lambda-s3-${var.runtime}"
  description        = "The counter app (${var.runtime}); the counter is an S3 object"
  package            = var.package
  language           = var.runtime
  architecture       = var.architecture
  memory_mb          = var.memory_mb
  log_retention_days = var.log_retention_days
  # Conditional writes can contend under load; the study's Lambdas had 3 s, give room.
  timeout_s = 10
  environment = {
    LATENCY_STORE = "s3://${module.bucket.id}/${local.key}"
  }
  policy_statements = [
    {
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["${module.bucket.arn}/${local.key}"]
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

  name               = "${var.name}-lambda-s3-${var.runtime}"
  function_name      = module.function.function_name
  invoke_arn         = module.function.invoke_arn
  log_retention_days = var.log_retention_days
}
