variable "name" {
  description = "Function name; also names its role and log group."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-_]{1,64}$", var.name))
    error_message = "name must be 1-64 letters, digits, '-' or '_' (Lambda's rule)."
  }
}

variable "description" {
  description = "What the function does, shown in the console."
  type        = string
}

variable "package" {
  description = "Path of the zip to deploy (built by scripts/build-lambdas)."
  type        = string
}

variable "language" {
  description = "The function's language: rust (the primary) and cpp run as provided.al2023 `bootstrap` executables; python and js (the study's variants) on Lambda's managed python3.12 and nodejs20.x runtimes."
  type        = string
  default     = "rust"

  validation {
    condition     = contains(["rust", "python", "js", "cpp"], var.language)
    error_message = "language must be rust, python, js or cpp."
  }
}

variable "architecture" {
  description = "arm64 or x86_64; must match how the package was built."
  type        = string

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_mb" {
  description = "Memory in MB (1,769 MB buys one vCPU)."
  type        = number

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be from 128 to 10240."
  }
}

variable "timeout_s" {
  description = "Invocation timeout in seconds."
  type        = number
  default     = 10

  validation {
    condition     = var.timeout_s >= 1 && var.timeout_s <= 900
    error_message = "timeout_s must be from 1 to 900 (Lambda's limit)."
  }
}

variable "reserved_concurrency" {
  description = "Most instances at once (a cost guard); -1 for the account's unreserved pool."
  type        = number
  default     = 100

  validation {
    condition     = var.reserved_concurrency == -1 || var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be -1 or at least 1."
  }
}

variable "environment" {
  description = "Environment variables (no secrets: they are visible to anyone who can read the function's configuration)."
  type        = map(string)
  default     = {}
}

variable "policy_statements" {
  description = "The IAM statements of this function's own role: only the actions it uses, on its own resources. Logging is added here."
  type = list(object({
    actions   = list(string)
    resources = list(string)
  }))
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
}
