variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "runtime" {
  description = "The function's language: rust (the primary), or the study's python, js or cpp variants."
  type        = string
  default     = "rust"

  validation {
    condition     = contains(["rust", "python", "js", "cpp"], var.runtime)
    error_message = "runtime must be rust, python, js or cpp."
  }
}

variable "package" {
  description = "Path of the function's zip (scripts/build-lambdas)."
  type        = string
}

variable "memory_mb" {
  description = "Memory of the function in MB; the study used 128."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be from 128 to 10240."
  }
}

variable "architecture" {
  description = "arm64 (default) or x86_64; must match the package."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "log_retention_days" {
  description = "Retention of the log groups, in days."
  type        = number
  default     = 14
}
