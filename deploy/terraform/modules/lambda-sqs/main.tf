# Lambda + SQS (the study's 9-lambda-python-sqs, in Rust): POST /calc on an HTTP API goes
# straight into SQS (no producer function), the queue triggers `calc` in batches of up to
# 10, `calc` reports the items that failed (batchItemFailures) so only those come back,
# a message received max_receives times moves to the dead-letter queue, and each completed
# job increments the done counter in DynamoDB exactly once per job id.

locals {
  function   = var.description.function
  queue_name = local.function.event_source.queue
  queue      = var.description.queues[local.queue_name]
  done_name  = one(keys(var.description.tables))
  done       = var.description.tables[local.done_name]
  # Lambda's own guidance: the queue's visibility timeout is at least 6 x the function's
  # timeout, so a message is not redelivered while a retry of its batch is still running.
  visibility_s = local.function.timeout_s * 6
}

resource "aws_sqs_queue" "dead_letter" {
  name                    = "${var.name}-${local.queue_name}-dlq"
  sqs_managed_sse_enabled = true
  # Two weeks, SQS's maximum, to inspect poison messages.
  message_retention_seconds = 1209600
}

resource "aws_sqs_queue" "jobs" {
  name                       = "${var.name}-${local.queue_name}"
  sqs_managed_sse_enabled    = true
  visibility_timeout_seconds = local.visibility_s
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = local.queue.max_receives
  })
}

resource "aws_dynamodb_table" "done" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-owned key (server_side_encryption below); a customer key adds a KMS call per job.
  #checkov:skip=CKV2_AWS_16:On-demand billing scales by itself; auto scaling applies to provisioned tables only.
  # The done counter and the ids of the jobs it has counted (so a redelivered job never
  # counts twice).
  name         = "${var.name}-${local.queue_name}-${local.done_name}"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = local.done.key

  attribute {
    name = local.done.key
    type = local.done.key_type
  }

  server_side_encryption {
    enabled = true
  }

  point_in_time_recovery {
    enabled = true
  }
}

module "calc" {
  source = "../function"

  name               = "${var.name}-${var.description.id}"
  description        = var.description.summary
  package            = var.package
  settings           = local.function
  template_values    = { done_table = aws_dynamodb_table.done.name }
  log_retention_days = var.log_retention_days
  policy_statements = [
    {
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [aws_sqs_queue.jobs.arn]
    },
    {
      # PutItem with a condition records the job id; UpdateItem increments `done`.
      actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:DescribeTable"]
      resources = [aws_dynamodb_table.done.arn]
    },
  ]
}

resource "aws_lambda_event_source_mapping" "jobs" {
  event_source_arn        = aws_sqs_queue.jobs.arn
  function_name           = module.calc.function_arn
  batch_size              = local.function.event_source.batch_size
  function_response_types = ["ReportBatchItemFailures"]

  # Bounds the queue's instances without reserving any of the account's concurrency
  # (a reservation fails on new accounts; crates/description/src/limits.rs).
  scaling_config {
    maximum_concurrency = local.function.event_source.maximum_concurrency
  }
}

# The producer: API Gateway's own SQS integration, with a role that may only send to this
# queue.
resource "aws_apigatewayv2_api" "api" {
  name          = "${var.name}-calc"
  protocol_type = "HTTP"
}

data "aws_iam_policy_document" "api_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "api" {
  name               = "${var.name}-calc-api"
  assume_role_policy = data.aws_iam_policy_document.api_assume.json
}

data "aws_iam_policy_document" "api" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.jobs.arn]
  }
}

resource "aws_iam_role_policy" "api" {
  name   = "${var.name}-calc-api"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}

resource "aws_apigatewayv2_integration" "send" {
  api_id              = aws_apigatewayv2_api.api.id
  integration_type    = "AWS_PROXY"
  integration_subtype = "SQS-SendMessage"
  credentials_arn     = aws_iam_role.api.arn
  request_parameters = {
    QueueUrl    = aws_sqs_queue.jobs.url
    MessageBody = "$request.body"
  }
}

resource "aws_apigatewayv2_route" "calc" {
  #checkov:skip=CKV_AWS_309:The study's queue endpoint was public; the stage's throttling bounds what an anonymous caller can enqueue.
  api_id    = aws_apigatewayv2_api.api.id
  route_key = "POST /calc"
  target    = "integrations/${aws_apigatewayv2_integration.send.id}"
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_158:Access logs hold request lines only; CloudWatch's default encryption is enough.
  #checkov:skip=CKV_AWS_338:A latency experiment needs days of logs, not a year; retention is a variable.
  name              = "/aws/apigateway/${var.name}-calc"
  retention_in_days = var.log_retention_days
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.api.id
  name        = "$default"
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId = "$context.requestId"
      route     = "$context.routeKey"
      status    = "$context.status"
      latency   = "$context.responseLatency"
    })
  }

  default_route_settings {
    throttling_burst_limit = 2000
    throttling_rate_limit  = 1000
  }
}
