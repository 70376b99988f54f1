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
  description = "Path of the zip to deploy (built by scripts/build-lambdas for settings.architecture)."
  type        = string
}

variable "settings" {
  description = "The function's settings, exactly as its description states them (the `function` object of deploy/architectures/<id>.json, or deploy/bench-function.json); crates/description validates them against Lambda's ranges."
  type = object({
    artifact             = string
    language             = string
    runtime              = string
    handler              = string
    architecture         = string
    memory_mb            = number
    timeout_s            = number
    reserved_concurrency = optional(number)
    environment          = map(string)
    event_source = optional(object({
      queue               = string
      batch_size          = number
      maximum_concurrency = number
    }))
  })

  validation {
    condition     = contains(["arm64", "x86_64"], var.settings.architecture)
    error_message = "settings.architecture must be arm64 or x86_64."
  }
}

variable "template_values" {
  description = "Values of the `$${name}` templates in settings.environment (names listed in crates/description/src/template.rs)."
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
