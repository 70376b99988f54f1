output "url" {
  description = "The producer's URL: POST <url>/calc {\"x\": seconds}."
  value       = local.host == "" ? "" : "http://${local.host}"
}

output "queue_url" {
  description = "The queue inside the cluster, without its credentials (they are in the `rabbitmq` Secret)."
  value       = "amqp://rabbitmq.latency.svc.cluster.local:5672/%2f (queue calc)"
}
