terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "= 2.38.0"
    }
    kustomization = {
      source  = "kbst/kustomization"
      version = "= 0.9.6"
    }
  }
}
