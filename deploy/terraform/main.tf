# One root module, one variable: `architecture` picks the row to deploy (this replaces the
# study's hand-edited `source = "./1-fastapi-ec2"` line). Every module below has a count of
# 0 or 1, so `terraform apply -var architecture=ID` creates exactly one row (plus the bench
# Lambda, unless deploy_bench_lambda = false).

locals {
  arch = var.architecture

  kubeconfig_path = coalesce(var.kubeconfig_path, pathexpand("~/.kube/config"))

  # Rows that are a language variant of an app Lambda, and the runtime each one uses.
  lambda_rows = {
    "lambda-s3"              = { store = "s3", runtime = "rust" }
    "lambda-dynamodb"        = { store = "dynamodb", runtime = "rust" }
    "lambda-python-s3"       = { store = "s3", runtime = "python" }
    "lambda-python-dynamodb" = { store = "dynamodb", runtime = "python" }
    "lambda-js-dynamodb"     = { store = "dynamodb", runtime = "js" }
    "lambda-cpp-dynamodb"    = { store = "dynamodb", runtime = "cpp" }
  }
  lambda_row = lookup(local.lambda_rows, local.arch, null)

  eks = local.arch == "k8s-eks"
}

module "ec2" {
  source = "./modules/ec2"
  count  = contains(["ec2", "ec2-fastapi"], local.arch) ? 1 : 0

  name               = var.name
  server             = local.arch == "ec2-fastapi" ? "fastapi" : "rust"
  instance_type      = var.ec2_instance_type
  server_binary      = local.artifacts.server_x86_64
  fastapi_bundle     = local.artifacts.fastapi
  http_ingress_cidrs = var.http_ingress_cidrs
}

module "lambda_s3" {
  source = "./modules/lambda-s3"
  count  = try(local.lambda_row.store, "") == "s3" ? 1 : 0

  name               = var.name
  runtime            = try(local.lambda_row.runtime, "rust")
  package            = local.artifacts.app_lambda[try(local.lambda_row.runtime, "rust")][var.lambda_architecture]
  memory_mb          = var.lambda_memory_mb
  architecture       = var.lambda_architecture
  log_retention_days = var.log_retention_days
}

module "lambda_dynamodb" {
  source = "./modules/lambda-dynamodb"
  count  = try(local.lambda_row.store, "") == "dynamodb" ? 1 : 0

  name               = var.name
  runtime            = try(local.lambda_row.runtime, "rust")
  package            = local.artifacts.app_lambda[try(local.lambda_row.runtime, "rust")][var.lambda_architecture]
  memory_mb          = var.lambda_memory_mb
  architecture       = var.lambda_architecture
  log_retention_days = var.log_retention_days
}

module "fargate_efs" {
  source = "./modules/fargate-efs"
  count  = local.arch == "fargate-efs" ? 1 : 0

  name               = var.name
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

module "k8s" {
  source = "./modules/k8s"
  count  = contains(["k8s", "k8s-eks"], local.arch) ? 1 : 0

  overlay = local.eks ? "eks" : "any"
  image   = var.container_image

  depends_on = [module.k8s_eks]
}

module "lambda_sqs" {
  source = "./modules/lambda-sqs"
  count  = local.arch == "lambda-sqs" ? 1 : 0

  name               = var.name
  package            = local.artifacts.calc_lambda[var.lambda_architecture]
  architecture       = var.lambda_architecture
  memory_mb          = var.lambda_memory_mb
  log_retention_days = var.log_retention_days
}

module "workers_rabbitmq" {
  source = "./modules/workers-rabbitmq"
  count  = local.arch == "workers-rabbitmq" ? 1 : 0

  image = var.container_image
}

module "bench_lambda" {
  source = "./modules/bench-lambda"
  count  = var.deploy_bench_lambda ? 1 : 0

  name               = var.name
  package            = local.artifacts.bench_lambda[var.lambda_architecture]
  architecture       = var.lambda_architecture
  log_retention_days = var.log_retention_days
}
