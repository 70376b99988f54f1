variable "overlay" {
  description = "Which kustomize overlay of deploy/k8s to apply: any (any cluster, e.g. kOps as the study) or eks."
  type        = string
  default     = "any"

  validation {
    condition     = contains(["any", "eks"], var.overlay)
    error_message = "overlay must be any or eks."
  }
}

variable "image" {
  description = "The server image (deploy/Dockerfile) that replaces the overlay's placeholder."
  type        = string
}
