terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  # State is local. `latency cloud` fills in where, outside the repository (its
  # --state-dir: -backend-config path and workspace_dir), with one workspace per row; a
  # plain `terraform init` keeps the default, terraform.tfstate(.d) in this directory.
  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 5.100.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "= 2.38.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "= 3.7.2"
    }
    kustomization = {
      source  = "kbst/kustomization"
      version = "= 0.9.6"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project      = "latency"
      architecture = var.architecture
      run_id       = var.run_id
      expires_at   = coalesce(var.expires_at, "none")
    }
  }
}

# The Kubernetes providers are configured for every architecture (Terraform needs a
# configuration for each provider a module might use) but only contacted by the k8s rows:
# `k8s` talks to the cluster of var.kubeconfig_path, `k8s-eks` to the cluster it creates.
provider "kubernetes" {
  config_path    = local.eks ? null : local.kubeconfig_path
  config_context = local.eks ? null : var.kube_context
  host           = local.eks ? module.k8s_eks[0].cluster_endpoint : null
  cluster_ca_certificate = (
    local.eks ? base64decode(module.k8s_eks[0].cluster_ca_certificate) : null
  )
  token = local.eks ? data.aws_eks_cluster_auth.eks[0].token : null
}

provider "kustomization" {
  kubeconfig_path = local.eks ? null : local.kubeconfig_path
  context         = local.eks ? null : var.kube_context
  kubeconfig_raw  = local.eks ? module.k8s_eks[0].kubeconfig : null
}
