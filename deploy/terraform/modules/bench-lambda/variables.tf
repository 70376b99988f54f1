variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "package" {
  description = "Path of latency-lambda-bench's zip (scripts/build-lambdas)."
  type        = string
}

variable "settings" {
  description = "The bench function's settings (deploy/bench-function.json, decoded). 1,769 MB buys one full vCPU, so the client's own CPU time does not inflate the latencies it measures."
  type        = any

  validation {
    condition     = var.settings.memory_mb >= 512
    error_message = "deploy/bench-function.json: memory_mb must be at least 512 (a load generator below 512 MB measures its own CPU starvation)."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
  default     = 14
}
