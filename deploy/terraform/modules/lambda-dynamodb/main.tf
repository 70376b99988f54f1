# Lambda + DynamoDB: the counter is one item of an encrypted on-demand table that only
# this function's role can read and update.

resource "aws_dynamodb_table" "counter" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-owned key (server_side_encryption below); a customer key adds a KMS call per request to the measured path.
  #checkov:skip=CKV2_AWS_16:On-demand billing scales by itself; auto scaling applies to provisioned tables only.
  name         = "${var.name}-counter-${var.runtime}"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "N"
  }

  server_side_encryption {
    enabled = true
  }

  point_in_time_recovery {
    enabled = true
  }
}

module "function" {
  source = "../function"

  name               = "${var.name}-lambda-dynamodb-${var.runtime}"
  description        = "The counter app (${var.runtime}); the counter is a DynamoDB item"
  package            = var.package
  language           = var.runtime
  architecture       = var.architecture
  memory_mb          = var.memory_mb
  log_retention_days = var.log_retention_days
  environment = {
    LATENCY_STORE = "dynamodb://${aws_dynamodb_table.counter.name}"
  }
  policy_statements = [
    {
      # UpdateItem for the atomic ADD; GetItem/PutItem for ?mode=read-modify-write;
      # DescribeTable at init checks that the table exists.
      actions   = ["dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DescribeTable"]
      resources = [aws_dynamodb_table.counter.arn]
    },
  ]
}

module "api" {
  source = "../http-api"

  name               = "${var.name}-lambda-dynamodb-${var.runtime}"
  function_name      = module.function.function_name
  invoke_arn         = module.function.invoke_arn
  log_retention_days = var.log_retention_days
}
