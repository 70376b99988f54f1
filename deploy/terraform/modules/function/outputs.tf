output "function_name" {
  description = "The function's name."
  value       = aws_lambda_function.function.function_name
}

output "function_arn" {
  description = "The function's ARN."
  value       = aws_lambda_function.function.arn
}

output "invoke_arn" {
  description = "The ARN API Gateway integrations use."
  value       = aws_lambda_function.function.invoke_arn
}

output "role_name" {
  description = "The function's own role."
  value       = aws_iam_role.function.name
}
