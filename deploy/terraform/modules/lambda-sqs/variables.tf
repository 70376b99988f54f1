variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "package" {
  description = "Path of the calc function's zip (scripts/build-lambdas)."
  type        = string
}

variable "architecture" {
  description = "arm64 (default) or x86_64; must match the package (validated by modules/function)."
  type        = string
  default     = "arm64"
}

variable "memory_mb" {
  description = "Memory of the calc function in MB (validated by modules/function)."
  type        = number
  default     = 128
}

variable "max_x_s" {
  description = "The longest job calc accepts, in seconds (the study's test used up to 2). The function's timeout and the queue's visibility timeout follow from it."
  type        = number
  default     = 10

  validation {
    condition     = var.max_x_s > 0 && var.max_x_s <= 120
    error_message = "max_x_s must be more than 0 and at most 120."
  }
}

variable "max_receives" {
  description = "Receives of one message before it goes to the dead-letter queue."
  type        = number
  default     = 3

  validation {
    condition     = var.max_receives >= 1 && var.max_receives <= 1000
    error_message = "max_receives must be from 1 to 1000."
  }
}

variable "log_retention_days" {
  description = "Retention of the log groups, in days."
  type        = number
  default     = 14
}
