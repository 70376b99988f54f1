output "url" {
  description = "The app's base URL: bench it with `latency bench <url>/hits 1000`. For the queue rows, the producer's URL (POST /calc)."
  value = one(compact([
    try(module.ec2[0].url, ""),
    try(module.lambda_s3[0].url, ""),
    try(module.lambda_dynamodb[0].url, ""),
    try(module.fargate_efs[0].url, ""),
    try(module.k8s[0].url, ""),
    try(module.lambda_sqs[0].url, ""),
    try(module.workers_rabbitmq[0].url, ""),
  ]))
}

output "queue_url" {
  description = "The queue rows only: the queue the jobs go through (sqs URL, or the in-cluster amqp URL)."
  value       = try(module.lambda_sqs[0].queue_url, module.workers_rabbitmq[0].queue_url, null)
}

output "bench_function" {
  description = "Name of the bench Lambda: `latency bench --via-lambda <name> <url>/hits 1000`."
  value       = try(module.bench_lambda[0].function_name, null)
}

output "kubeconfig_command" {
  description = "k8s-eks only: the command that points kubectl at the new cluster."
  value       = try(module.k8s_eks[0].kubeconfig_command, null)
}

output "ssm_session_command" {
  description = "ec2 rows only: a shell on the instance through SSM Session Manager (no SSH)."
  value       = try(module.ec2[0].ssm_session_command, null)
}

output "run_id" {
  description = "The `latency cloud` run that created the row (var.run_id), for `latency cloud ls`."
  value       = var.run_id
}

output "expires_at" {
  description = "When the row should be gone (var.expires_at), for `latency cloud ls`."
  value       = var.expires_at
}
