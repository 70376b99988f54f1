//! The Kubernetes side of a description: a strategic-merge patch per row that sets what
//! the description states (replicas, arguments, environment, port, CPU and memory, the
//! node's CPU architecture), written as JSON (which is YAML) beside the manifests it
//! patches. The manifests in `deploy/k8s` keep only what no description states (probes,
//! security context, Services, network policies).
//!
//! The files are generated, committed, and checked: `tests/drift.rs` fails when a
//! committed patch differs from what [`patches`] generates, and
//! `LATENCY_BLESS=1 cargo test -p latency-description` rewrites them.

use std::collections::BTreeMap;

use latency_arch::ArchitectureId;
use serde_json::{Value, json};

use crate::{Container, Description, DescriptionError, render};

/// Where each row's patches go (a directory of deploy/k8s), and the Deployment they patch.
pub const PATCHES: &[(ArchitectureId, &str, &str)] = &[
    (ArchitectureId::K8s, "deploy/k8s/base", "app"),
    (ArchitectureId::K8sEks, "deploy/k8s/overlays/eks", "app"),
    (
        ArchitectureId::WorkersRabbitMq,
        "deploy/k8s/workers",
        "worker",
    ),
];

/// The container's name in every Deployment of `deploy/k8s`.
const CONTAINER: [(&str, &str); 2] = [("app", "latency"), ("worker", "worker")];

/// The Secret (created by Terraform's workers-rabbitmq module) holding the broker URL.
pub const QUEUE_SECRET: (&str, &str) = ("rabbitmq", "amqp");

/// The template values on a cluster: Redis is the `redis` Service of deploy/k8s/base.
fn values(container: &Container) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("redis_address", "redis:6379".to_owned()),
        (
            "port",
            container.port.map(|p| p.to_string()).unwrap_or_default(),
        ),
    ])
}

/// CPU in Kubernetes' millicores, e.g. 0.25 → `250m`.
fn millicores(vcpu: f64) -> String {
    format!("{}m", (vcpu * 1000.0).round() as u64)
}

/// The patch for one row's Deployment (and, for the k8s rows, its HPA's floor; for the
/// workers, the KEDA ScaledObject's floor and queue).
///
/// # Errors
/// A template that names a variable a cluster does not supply, or a row without a
/// container.
pub fn patch(description: &Description, deployment: &str) -> Result<Value, DescriptionError> {
    let file = description.file();
    let container = description
        .container
        .as_ref()
        .ok_or_else(|| DescriptionError::Invalid {
            file: file.clone(),
            setting: "container".to_owned(),
            reason: "a Kubernetes row needs a container".to_owned(),
        })?;
    let values = values(container);
    let args = container
        .args
        .iter()
        .map(|arg| render(arg, &values))
        .collect::<Result<Vec<_>, _>>()?;
    let mut env = Vec::new();
    for (name, template) in &container.environment {
        // The broker URL holds a password: it comes from the Secret, never from the
        // manifest.
        if template == "${queue_url}" {
            env.push(json!({"name": name, "valueFrom": {"secretKeyRef": {
                "name": QUEUE_SECRET.0, "key": QUEUE_SECRET.1}}}));
        } else {
            env.push(json!({"name": name, "value": render(template, &values)?}));
        }
    }
    let container_name = CONTAINER
        .iter()
        .find(|(d, _)| *d == deployment)
        .map_or(deployment, |(_, c)| c);
    let memory = format!("{}Mi", container.memory_mb);
    let cpu = millicores(container.vcpu);
    let mut spec_container = json!({
        "name": container_name,
        "args": args,
        "env": env,
        "resources": {
            "requests": {"cpu": cpu, "memory": memory},
            "limits": {"cpu": cpu, "memory": memory},
        },
    });
    if let Some(port) = container.port {
        spec_container["ports"] = json!([{"name": "http", "containerPort": port}]);
    }
    Ok(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": deployment,
            "annotations": {
                "latency.dev/generated-from": file,
            },
        },
        "spec": {
            "replicas": container.replicas,
            "template": {"spec": {
                "nodeSelector": {"kubernetes.io/arch": container.architecture.kubernetes()},
                "containers": [spec_container],
            }},
        },
    }))
}

/// The floor of the row's autoscaler: the HPA of the app (`minReplicas`), or the KEDA
/// ScaledObject of the workers (`minReplicaCount`, and the queue it watches).
fn scaler_patch(description: &Description, deployment: &str) -> Option<Value> {
    let container = description.container.as_ref()?;
    if deployment == "worker" {
        let queue = description.queues.keys().next()?;
        return Some(json!({
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": deployment},
            "spec": {
                "minReplicaCount": container.replicas,
                "triggers": [{"type": "rabbitmq", "metadata": {
                    "queueName": queue,
                    "mode": "QueueLength",
                    "value": "10",
                    "hostFromEnv": "LATENCY_QUEUE_HOST",
                }}],
            },
        }));
    }
    Some(json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": deployment},
        "spec": {"minReplicas": container.replicas},
    }))
}

/// Every generated patch: `(repository path, file text)`.
///
/// # Errors
/// As [`patch`].
pub fn patches(descriptions: &[Description]) -> Result<Vec<(String, String)>, DescriptionError> {
    let mut out = Vec::new();
    for (id, directory, deployment) in PATCHES {
        let Some(description) = descriptions.iter().find(|d| d.id == *id) else {
            continue;
        };
        let header = format!(
            "# Generated from {} by crates/description; do not edit.\n\
             # Regenerate: LATENCY_BLESS=1 cargo test -p latency-description --test drift\n",
            description.file()
        );
        let scaler = scaler_patch(description, deployment);
        let documents = [
            (
                "generated-deployment.yaml",
                Some(patch(description, deployment)?),
            ),
            ("generated-scaler.yaml", scaler),
        ];
        for (name, value) in documents {
            let Some(value) = value else { continue };
            // JSON is YAML: kustomize reads it as is, and no YAML writer is needed.
            let body = serde_json::to_string_pretty(&value).unwrap_or_default();
            out.push((format!("{directory}/{name}"), format!("{header}{body}\n")));
        }
    }
    Ok(out)
}
