output "url" {
  description = "The server's base URL."
  value       = "http://${aws_instance.server.public_dns}:${local.port}"
}

output "instance_id" {
  description = "The instance, for SSM and the console."
  value       = aws_instance.server.id
}

output "ssm_session_command" {
  description = "A shell on the instance without SSH."
  value       = "aws ssm start-session --target ${aws_instance.server.id}"
}
