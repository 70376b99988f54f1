# The k8s-eks row's cluster: an EKS control plane (the study: $73/month before nodes,
# against kOps' $12) with two managed nodes in the default VPC. Secrets are encrypted with
# a KMS key, the API endpoint takes only api_allowed_cidrs, control plane logs are kept
# log_retention_days. The manifests are applied by the k8s module.

locals {
  cluster = "${var.name}-eks"
}

data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }
  filter {
    name   = "default-for-az"
    values = ["true"]
  }
}

data "aws_region" "current" {}

data "aws_iam_policy_document" "cluster_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name               = "${local.cluster}-cluster"
  assume_role_policy = data.aws_iam_policy_document.cluster_assume.json
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
}

resource "aws_kms_key" "secrets" {
  description             = "Encrypts the ${local.cluster} cluster's Secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.key.json
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:A key policy's resource "*" means this key only; the account's own administrators manage it (AWS's default key policy).
  #checkov:skip=CKV_AWS_356:A key policy's resource "*" means this key only (AWS's default key policy).
  #checkov:skip=CKV_AWS_109:The account's own administrators manage the key (AWS's default key policy); no other principal is named.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_cloudwatch_log_group" "cluster" {
  #checkov:skip=CKV_AWS_158:Control plane logs need no key of their own for a short experiment; CloudWatch encrypts them by default.
  #checkov:skip=CKV_AWS_338:A latency experiment needs days of logs, not a year; retention is a variable.
  # EKS writes here; creating it first sets the retention.
  name              = "/aws/eks/${local.cluster}/cluster"
  retention_in_days = var.log_retention_days
}

resource "aws_eks_cluster" "cluster" {
  #checkov:skip=CKV_AWS_38:public_access_cidrs is var.api_allowed_cidrs, whose validation refuses an empty list and 0.0.0.0/0; checkov cannot see variable values.
  #checkov:skip=CKV_AWS_39:kubectl and Terraform run from outside the VPC; the public endpoint only takes api_allowed_cidrs only.
  name     = local.cluster
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = true
  }

  vpc_config {
    subnet_ids              = data.aws_subnets.default.ids
    endpoint_public_access  = true
    endpoint_private_access = true
    public_access_cidrs     = var.api_allowed_cidrs
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.secrets.arn
    }
  }

  depends_on = [aws_iam_role_policy_attachment.cluster, aws_cloudwatch_log_group.cluster]
}

data "aws_iam_policy_document" "node_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${local.cluster}-node"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json
}

# The three managed policies EKS nodes need (kubelet, VPC CNI, image pulls).
resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset([
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
  ])
  role       = aws_iam_role.node.name
  policy_arn = each.value
}

resource "aws_eks_node_group" "nodes" {
  cluster_name    = aws_eks_cluster.cluster.name
  node_group_name = "${local.cluster}-nodes"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = data.aws_subnets.default.ids
  instance_types  = [var.node_instance_type]

  scaling_config {
    desired_size = 2
    min_size     = 1
    max_size     = 4
  }

  depends_on = [aws_iam_role_policy_attachment.node]
}
