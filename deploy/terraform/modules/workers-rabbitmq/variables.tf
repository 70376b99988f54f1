variable "description" {
  description = "The row's description (deploy/architectures/workers-rabbitmq.json, decoded): its queue's name (the worker pool's arguments and size reach the manifests through deploy/k8s/workers/generated-*.yaml)."
  type        = any
}

variable "image" {
  description = "The server image (deploy/Dockerfile): the producer and the workers."
  type        = string
}
