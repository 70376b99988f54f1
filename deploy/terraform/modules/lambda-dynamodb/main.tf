# Lambda + DynamoDB: the counter is one item of an encrypted on-demand table that only
# this function's role can read and update. The table's key, the item and the function's
# settings come from the row's description (deploy/architectures/<id>.json); the lab
# creates the same table and item the same way before it starts the function.

locals {
  table   = var.description.tables[var.description.counter.table]
  counter = var.description.counter
}

resource "aws_dynamodb_table" "counter" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-owned key (server_side_encryption below); a customer key adds a KMS call per request to the measured path.
  #checkov:skip=CKV2_AWS_16:On-demand billing scales by itself; auto scaling applies to provisioned tables only.
  name         = "${var.name}-counter-${var.description.id}"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = local.table.key

  attribute {
    name = local.table.key
    type = local.table.key_type
  }

  server_side_encryption {
    enabled = true
  }

  point_in_time_recovery {
    enabled = true
  }
}

# The counter at 0, created by the deploy (counter.created_by = "deploy"): the function
# never creates it, so a deleted counter is an error rather than a silent restart at 1.
# The count then changes with every call, which is not drift.
resource "aws_dynamodb_table_item" "counter" {
  table_name = aws_dynamodb_table.counter.name
  hash_key   = aws_dynamodb_table.counter.hash_key
  item = jsonencode({
    (local.table.key)         = { (local.table.key_type) = local.counter.key_value }
    (local.counter.attribute) = { N = "0" }
  })

  lifecycle {
    ignore_changes = [item]
  }
}

module "function" {
  source = "../function"

  name               = "${var.name}-${var.description.id}"
  description        = var.description.summary
  package            = var.package
  settings           = var.description.function
  template_values    = { counter_table = aws_dynamodb_table.counter.name }
  log_retention_days = var.log_retention_days
  policy_statements = [
    {
      # UpdateItem for the atomic ADD; GetItem/PutItem for ?mode=read-modify-write;
      # DescribeTable at init reads the key's type.
      actions   = ["dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DescribeTable"]
      resources = [aws_dynamodb_table.counter.arn]
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
