# A stand-in for deploy/terraform that needs no cloud account and no provider download:
# only Terraform's built-in provider (terraform_data + local-exec). It takes the same
# variables `latency cloud` passes and has the same outputs, and "deploys" a row by
# starting a local `latency serve` process, so that the real `terraform` binary and
# `latency cloud run` can go end to end on any machine (tests/cloud_cli.rs).
#
# State lives where `latency cloud` puts it (its --state-dir, through the local backend's
# -backend-config path and workspace_dir), never in this directory.
terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  # Only the built-in provider, which ships inside terraform: nothing to download, so
  # `terraform init` works offline. Terraform refuses a version constraint on a built-in
  # provider; its version is terraform's own (required_version above).
  required_providers {
    terraform = {
      source = "terraform.io/builtin/terraform"
    }
  }

  backend "local" {}
}
