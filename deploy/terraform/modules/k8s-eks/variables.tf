variable "name" {
  description = "Prefix of the resource names; the cluster is <name>-eks."
  type        = string
}

variable "api_allowed_cidrs" {
  description = "Who may reach the cluster's API endpoint (kubectl, Terraform): your own address, e.g. [\"203.0.113.7/32\"]. Never the whole internet."
  type        = list(string)

  validation {
    condition     = length(var.api_allowed_cidrs) > 0 && alltrue([for c in var.api_allowed_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "Set eks_api_cidrs to the CIDR blocks that may use kubectl, e.g. [\"203.0.113.7/32\"]; 0.0.0.0/0 is refused."
  }
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.33."
  }
}

variable "node_instance_type" {
  description = "Worker node type (two nodes)."
  type        = string
  default     = "t3.small"
}

variable "log_retention_days" {
  description = "Retention of the control plane's log group, in days."
  type        = number
  default     = 14
}
