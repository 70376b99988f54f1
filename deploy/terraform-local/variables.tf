# The variables `latency cloud` passes to every configuration, as in deploy/terraform.

variable "architecture" {
  description = "The row to \"deploy\", by id. Every row becomes one local `latency serve` process (the stand-in does not model the row's architecture)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.architecture))
    error_message = "architecture must be an architecture id such as ec2 or lambda-dynamodb."
  }
}

variable "region" {
  description = "AWS region, as deploy/terraform takes it; recorded in the tags only."
  type        = string
  default     = "eu-west-2"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-2."
  }
}

variable "run_id" {
  description = "The `latency cloud` run that created the row, as a tag."
  type        = string
  default     = "manual"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,62}$", var.run_id))
    error_message = "run_id must be 1-63 characters: lower-case letters, digits and '-'."
  }
}

variable "expires_at" {
  description = "When the row should be gone (RFC 3339, UTC), as a tag; empty for no expiry."
  type        = string
  default     = ""

  validation {
    condition     = var.expires_at == "" || can(formatdate("YYYY", var.expires_at))
    error_message = "expires_at must be an RFC 3339 time such as 2026-01-31T18:00:00Z, or empty."
  }
}

# The stand-in's own variables (passed with `latency cloud --var NAME=VALUE`).

variable "latency_bin" {
  description = "Absolute path of the `latency` binary whose `serve` stands in for the row."
  type        = string

  validation {
    condition     = startswith(var.latency_bin, "/")
    error_message = "latency_bin must be an absolute path."
  }
}

variable "run_dir" {
  description = "Absolute directory where each row's process records its pid, bound address and logs (ROW/), and where every pid started is appended to pids.log, which is never deleted: a test reads it to check that nothing is left running."
  type        = string

  validation {
    condition     = startswith(var.run_dir, "/")
    error_message = "run_dir must be an absolute path."
  }
}

variable "fail_halfway" {
  description = "Make the apply fail after the server process has started, as a cloud apply fails halfway (for the failure-path tests)."
  type        = bool
  default     = false
}

variable "counter_start" {
  description = "Serve the counter from a file holding this value instead of memory://. 18446744073709551615 (u64::MAX) makes every GET /hits fail while /healthz answers: a bench that fails."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[0-9]*$", var.counter_start))
    error_message = "counter_start must be a whole number, or empty for memory://."
  }
}

variable "hold_apply" {
  description = "Make the apply hang after the server has started (a provisioner that writes RUN_DIR/ROW.holding, records its pid in pids.log, and sleeps), as a long cloud apply does, so that a test can interrupt it."
  type        = bool
  default     = false
}

variable "bench_function" {
  description = "The name the `bench_function` output gives (deploy/terraform's bench Lambda); empty for none. A test serves the real bench Lambda under this name on the local function platform (`latency cloud --via-lambda --lambda-endpoint`)."
  type        = string
  default     = ""
}
