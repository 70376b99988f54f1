# The outputs of deploy/terraform, with the same names and meanings.

output "url" {
  description = "The row's base URL, http://127.0.0.1:PORT, as the server printed it once bound."
  # The file is read when the apply reaches this output, after the server has started.
  # Naming the server's id (unknown until it is created) keeps the value "known after
  # apply" in a saved plan, instead of the null that file() would give at plan time.
  # try(): a destroy re-reads outputs, and must not fail because the file is gone.
  value = terraform_data.server.id == "" ? null : try(trimspace(file("${terraform_data.server.output.dir}/url")), null)
}

output "queue_url" {
  description = "The queue rows only: none here."
  value       = null
}

output "bench_function" {
  description = "Name of the bench Lambda: var.bench_function, served by a local function platform, or null."
  value       = var.bench_function == "" ? null : var.bench_function
}

output "run_id" {
  description = "The run that created the row (var.run_id), for `latency cloud ls`."
  value       = var.run_id
}

output "expires_at" {
  description = "When the row should be gone (var.expires_at), for `latency cloud ls`."
  value       = var.expires_at
}

output "tags" {
  description = "The tags every resource of the real configuration gets."
  value       = terraform_data.server.output.tags
}
