# Workers + RabbitMQ: deploy/k8s/workers (the producer app, RabbitMQ, the worker pool and
# its KEDA ScaledObject) on the cluster the root module's providers point at. KEDA must
# already run there (docs/deploy.md). The RabbitMQ password is generated here and only
# stored in the Secret and the Terraform state: it is never printed.

locals {
  broker = "amqp://latency:${random_password.rabbitmq.result}@rabbitmq:5672/%2f"
  queue  = one(keys(var.description.queues))
}

resource "random_password" "rabbitmq" {
  length  = 32
  special = false
}

resource "kubernetes_namespace_v1" "latency" {
  metadata {
    name = "latency"
  }
}

resource "kubernetes_secret_v1" "rabbitmq" {
  metadata {
    name      = "rabbitmq"
    namespace = kubernetes_namespace_v1.latency.metadata[0].name
  }
  data = {
    username = "latency"
    password = random_password.rabbitmq.result
    # The worker and the producer read `amqp` (LATENCY_QUEUE), with the queue the row's
    # description names; KEDA's scaler reads `host`, the same broker without the query.
    amqp = "${local.broker}?queue=${local.queue}"
    host = local.broker
  }
}

data "kustomization_overlay" "workers" {
  resources = ["${path.module}/../../../k8s/workers"]

  images {
    name     = "latency"
    new_name = split(":", var.image)[0]
    new_tag  = try(split(":", var.image)[1], null)
  }
}

resource "kustomization_resource" "workers" {
  # The namespace is Terraform's own (above), so the Secret exists before the pods.
  for_each   = setsubtract(data.kustomization_overlay.workers.ids, ["_/Namespace/_/latency"])
  manifest   = data.kustomization_overlay.workers.manifests[each.value]
  depends_on = [kubernetes_secret_v1.rabbitmq]
}

data "kubernetes_service_v1" "app" {
  metadata {
    name      = "app"
    namespace = "latency"
  }
  depends_on = [kustomization_resource.workers]
}

locals {
  ingress = try(data.kubernetes_service_v1.app.status[0].load_balancer[0].ingress[0], {})
  host    = try(coalesce(local.ingress.hostname, local.ingress.ip), "")
}
