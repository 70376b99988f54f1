# One Lambda function with its own role (least privilege: the caller lists the statements)
# and its own log group with a retention, so logs never accumulate forever. Every setting
# of the function comes from its description (deploy/architectures/<id>.json, or
# deploy/bench-function.json): this module states none of its own.

locals {
  # The description's environment holds templates (`${counter_table}` ...); the caller
  # supplies the values, exactly as the lab supplies its own (crates/description).
  environment = { for name, template in var.settings.environment : name => templatestring(template, var.template_values) }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "${var.name}-function"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:Logs hold request lines only (no data); CloudWatch's default encryption is enough, a KMS key costs $1/month per row.
  #checkov:skip=CKV_AWS_338:A latency experiment needs days of logs, not a year; retention is a variable.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.policy_statements
    content {
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "${var.name}-function"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

resource "aws_lambda_function" "function" {
  #checkov:skip=CKV_AWS_117:The function calls only AWS APIs and public URLs; a VPC would add NAT cost and cold-start latency to the thing being measured.
  #checkov:skip=CKV_AWS_116:Synchronous invocations (API Gateway, Invoke) return errors to the caller; the SQS row has its DLQ on the queue.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the study's workflow does not have; the zip comes from this repository's build.
  #checkov:skip=CKV_AWS_173:The environment holds store URLs, no secrets; AWS encrypts it at rest with its own key.
  #checkov:skip=CKV_AWS_50:X-Ray tracing adds latency and cost to the measured path; enable it by hand to profile.
  function_name    = var.name
  description      = var.description
  role             = aws_iam_role.function.arn
  filename         = var.package
  source_code_hash = filebase64sha256(var.package)
  runtime          = var.settings.runtime
  handler          = var.settings.handler
  architectures    = [var.settings.architecture]
  memory_size      = var.settings.memory_mb
  timeout          = var.settings.timeout_s

  # null (the description's default) leaves the function in the account's unreserved
  # pool, which a new account's limit of 10 requires (crates/description/src/limits.rs).
  reserved_concurrent_executions = coalesce(var.settings.reserved_concurrency, -1)

  dynamic "environment" {
    for_each = length(local.environment) > 0 ? [local.environment] : []
    content {
      variables = environment.value
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  depends_on = [aws_iam_role_policy.function]
}
