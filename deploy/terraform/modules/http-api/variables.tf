variable "name" {
  description = "Name of the HTTP API."
  type        = string
}

variable "function_name" {
  description = "The Lambda function that serves every route (GET / serves the page from the app itself)."
  type        = string
}

variable "invoke_arn" {
  description = "The function's invoke ARN."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the access log group, in days."
  type        = number
}
