output "cluster_name" {
  description = "The EKS cluster's name."
  value       = aws_eks_cluster.cluster.name
}

output "cluster_endpoint" {
  description = "The API endpoint."
  value       = aws_eks_cluster.cluster.endpoint
}

output "cluster_ca_certificate" {
  description = "The cluster's CA certificate, base64."
  value       = aws_eks_cluster.cluster.certificate_authority[0].data
}

output "kubeconfig" {
  description = "A kubeconfig that authenticates through `aws eks get-token` (no credential inside)."
  value = yamlencode({
    apiVersion      = "v1"
    kind            = "Config"
    current-context = local.cluster
    clusters = [{
      name    = local.cluster
      cluster = { server = aws_eks_cluster.cluster.endpoint, certificate-authority-data = aws_eks_cluster.cluster.certificate_authority[0].data }
    }]
    contexts = [{ name = local.cluster, context = { cluster = local.cluster, user = local.cluster } }]
    users = [{
      name = local.cluster
      user = {
        exec = {
          apiVersion = "client.authentication.k8s.io/v1beta1"
          command    = "aws"
          args       = ["eks", "get-token", "--cluster-name", local.cluster, "--region", data.aws_region.current.name]
        }
      }
    }]
  })
}

output "kubeconfig_command" {
  description = "Points kubectl at the cluster."
  value       = "aws eks update-kubeconfig --name ${aws_eks_cluster.cluster.name} --region ${data.aws_region.current.name}"
}
