output "url" {
  description = "The LoadBalancer Service's URL (empty until the cloud has assigned its address; re-run `terraform apply -refresh-only`)."
  value       = local.host == "" ? "" : "http://${local.host}"
}
