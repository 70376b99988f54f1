variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "description" {
  description = "The row's description (deploy/architectures/ec2.json or ec2-fastapi.json, decoded): the instance type, CPU architecture, command, environment and port."
  type        = any
}

variable "package" {
  description = "Path of the server's artifact (scripts/build-lambdas): the `latency` binary, or the zipped FastAPI app."
  type        = string
}

variable "http_ingress_cidrs" {
  description = "Who may reach the server's port. Nothing else is open: no SSH (use SSM Session Manager)."
  type        = list(string)

  validation {
    condition     = alltrue([for c in var.http_ingress_cidrs : can(cidrhost(c, 0))])
    error_message = "http_ingress_cidrs must be CIDR blocks."
  }
}
