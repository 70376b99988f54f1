variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "runtime" {
  description = "The function's language: rust (the primary), or the study's python, js or cpp variants."
  type        = string
  default     = "rust"
}

variable "package" {
  description = "Path of the function's zip (scripts/build-lambdas)."
  type        = string
}

variable "memory_mb" {
  description = "Memory of the function in MB; the study used 128 (validated by modules/function)."
  type        = number
  default     = 128
}

variable "architecture" {
  description = "arm64 (default) or x86_64; must match the package (validated by modules/function)."
  type        = string
  default     = "arm64"
}

variable "log_retention_days" {
  description = "Retention of the log groups, in days."
  type        = number
  default     = 14
}
