# The k8s rows: the manifests of deploy/k8s (one source of truth, also usable with
# `kubectl apply -k`), applied through the kustomize provider to the cluster the root
# module's providers point at, and the LoadBalancer's address read back as the URL.

data "kustomization_overlay" "row" {
  resources = ["${path.module}/../../../k8s/overlays/${var.overlay}"]

  images {
    name     = "latency"
    new_name = split(":", var.image)[0]
    new_tag  = try(split(":", var.image)[1], null)
  }
}

# Namespaces and CRD-free kinds first, then the rest (the provider's documented pattern).
resource "kustomization_resource" "p0" {
  for_each = data.kustomization_overlay.row.ids_prio[0]
  manifest = data.kustomization_overlay.row.manifests[each.value]
}

resource "kustomization_resource" "p1" {
  for_each   = data.kustomization_overlay.row.ids_prio[1]
  manifest   = data.kustomization_overlay.row.manifests[each.value]
  wait       = true
  depends_on = [kustomization_resource.p0]
}

resource "kustomization_resource" "p2" {
  for_each   = data.kustomization_overlay.row.ids_prio[2]
  manifest   = data.kustomization_overlay.row.manifests[each.value]
  depends_on = [kustomization_resource.p1]
}

data "kubernetes_service_v1" "app" {
  metadata {
    name      = "app"
    namespace = "latency"
  }
  depends_on = [kustomization_resource.p1]
}

locals {
  ingress = try(data.kubernetes_service_v1.app.status[0].load_balancer[0].ingress[0], {})
  host    = try(coalesce(local.ingress.hostname, local.ingress.ip), "")
}
