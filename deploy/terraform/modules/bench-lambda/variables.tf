variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "package" {
  description = "Path of latency-lambda-bench's zip (scripts/build-lambdas)."
  type        = string
}

variable "architecture" {
  description = "arm64 (default) or x86_64; must match the package (validated by modules/function)."
  type        = string
  default     = "arm64"
}

variable "memory_mb" {
  description = "Memory of the load generator in MB. 1,769 MB buys one full vCPU, so the client's own CPU time does not inflate the latencies it measures."
  type        = number
  default     = 1769

  validation {
    condition     = var.memory_mb >= 512 && var.memory_mb <= 10240
    error_message = "memory_mb must be from 512 to 10240 (a load generator below 512 MB measures its own CPU starvation)."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
  default     = 14
}
