variable "architecture" {
  description = "The row to deploy, by the id that `latency lab --only` and `latency cost --only` use. Its description, deploy/architectures/<id>.json, holds every setting of the row (function memory, runtime and CPU architecture, instance type, container size, tables, queues); edit it there, and the lab runs the same settings."
  type        = string

  validation {
    # The ids are the description files' names (crates/description checks that they are
    # exactly `latency lab --list`'s ids).
    condition     = can(regex("^[a-z0-9-]+$", var.architecture)) && fileexists("${path.module}/../architectures/${var.architecture}.json")
    error_message = "Unknown architecture: there is no deploy/architectures/<id>.json for it. Valid ids: the file names in deploy/architectures (latency lab --list)."
  }
}

variable "region" {
  description = "AWS region. The study measured eu-west-2 (London), and `latency cost` prices it."
  type        = string
  default     = "eu-west-2"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-2."
  }
}

variable "name" {
  description = "Prefix of every resource name, so that two deployments can share an account."
  type        = string
  default     = "latency"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must be 2-21 characters: lower-case letters, digits and '-', starting with a letter."
  }
}

variable "artifacts_dir" {
  description = "Directory holding what scripts/build-lambdas builds (default: its output directory in this repository; see artifacts.tf)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group, in days."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "http_ingress_cidrs" {
  description = "Who may reach the app's HTTP port. The default, the whole internet, is what a latency test from outside the region needs; narrow it to your own address to keep the app private."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.http_ingress_cidrs) > 0 && alltrue([for c in var.http_ingress_cidrs : can(cidrhost(c, 0))])
    error_message = "http_ingress_cidrs must be a non-empty list of CIDR blocks such as 203.0.113.7/32."
  }
}

variable "container_image" {
  description = "Image of the server for fargate-efs and the k8s rows, built from deploy/Dockerfile and pushed to a registry (e.g. ECR)."
  type        = string
  default     = "ghcr.io/example/latency:0.1.0"

  validation {
    condition     = length(var.container_image) > 0 && !can(regex(":latest$", var.container_image))
    error_message = "container_image must name a tag or digest other than :latest, so that a deployment is repeatable."
  }
}

variable "kubeconfig_path" {
  description = "For architecture k8s: the kubeconfig of the cluster to deploy to (kOps, kind, any). Default ~/.kube/config."
  type        = string
  default     = null
}

variable "kube_context" {
  description = "For architecture k8s: the kubeconfig context to use (default: the current one)."
  type        = string
  default     = null
}

variable "deploy_bench_lambda" {
  description = "Also deploy the bench Lambda (latency-lambda-bench) in the region, for `latency bench --via-lambda`."
  type        = bool
  default     = true
}

variable "eks_api_cidrs" {
  description = "For architecture k8s-eks: the CIDR blocks that may reach the cluster's API (kubectl), e.g. [\"203.0.113.7/32\"]."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.eks_api_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "eks_api_cidrs must be CIDR blocks, and not 0.0.0.0/0."
  }
}

variable "run_id" {
  description = "The `latency cloud` run that creates the row, as the run_id tag on every resource (`latency cloud ls` shows it). A plain `terraform apply` leaves it at manual."
  type        = string
  default     = "manual"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,62}$", var.run_id))
    error_message = "run_id must be 1-63 characters: lower-case letters, digits and '-', starting with a letter or digit."
  }
}

variable "expires_at" {
  description = "When the row should be gone, RFC 3339 in UTC (e.g. 2026-01-31T18:00:00Z), as the expires_at tag on every resource; `latency cloud` sets it to now + --max-hours and `latency cloud ls` flags what has expired. Empty (the default) tags expires_at = none."
  type        = string
  default     = ""

  validation {
    condition     = var.expires_at == "" || can(formatdate("YYYY", var.expires_at))
    error_message = "expires_at must be an RFC 3339 time such as 2026-01-31T18:00:00Z, or empty."
  }
}
