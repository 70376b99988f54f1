output "function_name" {
  description = "The name to pass to `latency bench --via-lambda`."
  value       = module.function.function_name
}
