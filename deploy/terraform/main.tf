# One root module, one variable: `architecture` picks the row to deploy (this replaces the
# study's hand-edited `source = "./1-fastapi-ec2"` line), and its description
# (deploy/architectures/<id>.json) says everything about it. Every module below has a
# count of 0 or 1, so `terraform apply -var architecture=ID` creates exactly one row (plus
# the bench Lambda, unless deploy_bench_lambda = false).

locals {
  # The row's one description: everything the lab launches and this configuration deploys
  # (crates/description reads the same file). Only names, endpoints and credentials differ.
  description    = jsondecode(file("${path.module}/../architectures/${var.architecture}.json"))
  bench_function = jsondecode(file("${path.module}/../bench-function.json"))

  # What runs the row: a function, an instance or containers (exactly one of them).
  compute  = try(local.description.function, null) != null ? local.description.function : try(local.description.instance, null)
  artifact = try(local.compute.artifact, null)
  package  = local.artifact == null ? null : lookup(local.artifacts[local.artifact], local.compute.architecture, null)
  counter  = try(local.description.counter.store, "")

  kubeconfig_path = coalesce(var.kubeconfig_path, pathexpand("~/.kube/config"))
  eks             = var.architecture == "k8s-eks"
  queue_row       = try(local.description.front.kind, "") == "queue-api"
}

# Fails the plan, naming the file, when a description asks for an artifact that
# scripts/build-lambdas does not build for its CPU architecture. (No module depends_on
# this: a module-level depends_on defers every data source inside the module to apply
# time, and a for_each over one, such as the Fargate module's subnets, then fails with
# "Invalid for_each". scripts/check_deploy_settings.py refuses such a depends_on.)
resource "terraform_data" "description_checks" {
  lifecycle {
    precondition {
      condition     = local.artifact == null || local.package != null
      error_message = "deploy/architectures/${var.architecture}.json: artifact ${coalesce(local.artifact, "-")} is not built for ${try(local.compute.architecture, "-")} (deploy/terraform/artifacts.tf lists what scripts/build-lambdas builds)."
    }
    precondition {
      condition     = local.package == null || fileexists(coalesce(local.package, "/"))
      error_message = "${coalesce(local.package, "-")} does not exist: run scripts/build-lambdas --arch ${try(local.compute.architecture, "arm64")} ${coalesce(local.artifact, "")} first."
    }
  }
}

module "ec2" {
  source = "./modules/ec2"
  count  = try(local.description.instance, null) != null ? 1 : 0

  name               = var.name
  description        = local.description
  package            = local.package
  http_ingress_cidrs = var.http_ingress_cidrs
}

module "lambda_s3" {
  source = "./modules/lambda-s3"
  count  = local.counter == "s3-object" && !local.queue_row ? 1 : 0

  name               = var.name
  description        = local.description
  package            = local.package
  log_retention_days = var.log_retention_days
}

module "lambda_dynamodb" {
  source = "./modules/lambda-dynamodb"
  count  = local.counter == "dynamodb-item" && !local.queue_row ? 1 : 0

  name               = var.name
  description        = local.description
  package            = local.package
  log_retention_days = var.log_retention_days
}

module "fargate_efs" {
  source = "./modules/fargate-efs"
  count  = var.architecture == "fargate-efs" ? 1 : 0

  name               = var.name
  description        = local.description
  image              = var.container_image
  http_ingress_cidrs = var.http_ingress_cidrs
  log_retention_days = var.log_retention_days
}

module "k8s_eks" {
  source = "./modules/k8s-eks"
  count  = local.eks ? 1 : 0

  name               = var.name
  api_allowed_cidrs  = var.eks_api_cidrs
  log_retention_days = var.log_retention_days
}

data "aws_eks_cluster_auth" "eks" {
  count = local.eks ? 1 : 0
  name  = module.k8s_eks[0].cluster_name
}

# No depends_on on module.k8s_eks: it would make the kustomize data source unknown at
# plan time, and `for_each` over its ids fails ("Invalid for_each"). The providers take
# the cluster's endpoint from module.k8s_eks's outputs, which orders the apply already.
module "k8s" {
  source = "./modules/k8s"
  count  = contains(["k8s", "k8s-eks"], var.architecture) ? 1 : 0

  overlay = local.eks ? "eks" : "any"
  image   = var.container_image
}

module "lambda_sqs" {
  source = "./modules/lambda-sqs"
  count  = var.architecture == "lambda-sqs" ? 1 : 0

  name               = var.name
  description        = local.description
  package            = local.package
  log_retention_days = var.log_retention_days
}

module "workers_rabbitmq" {
  source = "./modules/workers-rabbitmq"
  count  = var.architecture == "workers-rabbitmq" ? 1 : 0

  description = local.description
  image       = var.container_image
}

module "bench_lambda" {
  source = "./modules/bench-lambda"
  count  = var.deploy_bench_lambda ? 1 : 0

  name               = var.name
  package            = local.artifacts[local.bench_function.artifact][local.bench_function.architecture]
  settings           = local.bench_function
  log_retention_days = var.log_retention_days
}
