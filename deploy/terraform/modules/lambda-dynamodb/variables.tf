variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "description" {
  description = "The row's description (deploy/architectures/<id>.json, decoded): its function, tables and counter."
  type        = any
}

variable "package" {
  description = "Path of the function's zip (scripts/build-lambdas), for the description's artifact and CPU architecture."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the log groups, in days."
  type        = number
  default     = 14
}
