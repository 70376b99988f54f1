variable "prefix" {
  description = "Bucket name prefix; S3 appends a unique suffix."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,36}$", var.prefix))
    error_message = "prefix must be 2-37 lower-case letters, digits or '-'."
  }
}

variable "purpose" {
  description = "What the bucket holds, for the KMS key's description."
  type        = string
}
