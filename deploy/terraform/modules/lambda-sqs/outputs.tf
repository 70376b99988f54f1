output "url" {
  description = "The producer's base URL: POST <url>/calc {\"x\": seconds}."
  value       = trimsuffix(aws_apigatewayv2_stage.default.invoke_url, "/")
}

output "queue_url" {
  description = "The jobs queue (for `latency queue` and the SQS console)."
  value       = aws_sqs_queue.jobs.url
}

output "dead_letter_queue_url" {
  description = "Where poison messages end up after max_receives attempts."
  value       = aws_sqs_queue.dead_letter.url
}

output "done_table" {
  description = "The DynamoDB table holding the done counter."
  value       = aws_dynamodb_table.done.name
}
