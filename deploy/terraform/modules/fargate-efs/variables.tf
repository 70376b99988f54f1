variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "description" {
  description = "The row's description (deploy/architectures/fargate-efs.json, decoded): the container's command, port, CPU, memory and data directory."
  type        = any

  validation {
    # Fargate's documented task sizes for 0.25 vCPU (the smallest).
    condition     = var.description.container.vcpu != 0.25 || contains([512, 1024, 2048], var.description.container.memory_mb)
    error_message = "deploy/architectures/fargate-efs.json: a 0.25 vCPU Fargate task takes 512, 1024 or 2048 MB."
  }
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

variable "log_retention_days" {
  description = "Retention of the task's log group, in days."
  type        = number
  default     = 14
}
