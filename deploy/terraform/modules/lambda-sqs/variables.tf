variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "description" {
  description = "The row's description (deploy/architectures/lambda-sqs.json, decoded): the calc function, its event source, the queue and the done table."
  type        = any
}

variable "package" {
  description = "Path of the calc function's zip (scripts/build-lambdas), for the description's CPU architecture."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the log groups, in days."
  type        = number
  default     = 14
}
