variable "name" {
  description = "Prefix of the resource names."
  type        = string
}

variable "server" {
  description = "Which server to run on port 8000: rust (`latency serve`, the ec2 row) or fastapi (the study's FastAPI server, the ec2-fastapi row)."
  type        = string
  default     = "rust"

  validation {
    condition     = contains(["rust", "fastapi"], var.server)
    error_message = "server must be rust or fastapi."
  }
}

variable "instance_type" {
  description = "x86_64 instance type; the study used t2.micro."
  type        = string
  default     = "t3.micro"
}

variable "server_binary" {
  description = "Path of the x86_64 `latency` binary (scripts/build-lambdas)."
  type        = string
}

variable "fastapi_bundle" {
  description = "Path of the zipped FastAPI server (scripts/build-lambdas)."
  type        = string
}

variable "http_ingress_cidrs" {
  description = "Who may reach port 8000. Nothing else is open: no SSH (use SSM Session Manager)."
  type        = list(string)

  validation {
    condition     = alltrue([for c in var.http_ingress_cidrs : can(cidrhost(c, 0))])
    error_message = "http_ingress_cidrs must be CIDR blocks."
  }
}
