output "url" {
  description = "The API's base URL (no trailing slash): GET / is the page, GET /hits the counter."
  value       = trimsuffix(aws_apigatewayv2_stage.default.invoke_url, "/")
}
