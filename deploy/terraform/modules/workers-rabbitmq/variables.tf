variable "image" {
  description = "The server image (deploy/Dockerfile): the producer and the workers."
  type        = string
}
