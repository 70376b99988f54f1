output "url" {
  description = "The app's URL: GET / is the page, GET /hits the counter."
  value       = module.api.url
}

output "function_name" {
  description = "The app's function (for logs and `latency cost --from`)."
  value       = module.function.function_name
}
