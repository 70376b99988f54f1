output "url" {
  description = "The load balancer's URL."
  value       = "http://${aws_lb.app.dns_name}"
}

output "file_system_id" {
  description = "The EFS file system holding the counter (deleted by terraform destroy)."
  value       = aws_efs_file_system.data.id
}
