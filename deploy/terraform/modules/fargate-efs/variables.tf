variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "image" {
  description = "The server image (deploy/Dockerfile), by tag or digest."
  type        = string
}

variable "http_ingress_cidrs" {
  description = "Who may reach the load balancer's port 80."
  type        = list(string)

  validation {
    condition     = alltrue([for c in var.http_ingress_cidrs : can(cidrhost(c, 0))])
    error_message = "http_ingress_cidrs must be CIDR blocks."
  }
}

variable "cpu_units" {
  description = "Task CPU in units of 1/1024 vCPU; the study's task had 256 (0.25 vCPU)."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.cpu_units)
    error_message = "cpu_units must be one of Fargate's sizes: 256, 512, 1024, 2048, 4096."
  }
}

variable "memory_mb" {
  description = "Task memory in MB (512 is the least Fargate allows with 256 CPU units)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_mb >= 512 && var.memory_mb <= 30720
    error_message = "memory_mb must be from 512 to 30720."
  }
}

variable "log_retention_days" {
  description = "Retention of the task's log group, in days."
  type        = number
  default     = 14
}
