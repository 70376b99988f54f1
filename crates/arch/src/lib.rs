//! The one vocabulary of architectures: [`ArchitectureId`].
//!
//! Every command names an architecture the same way (`latency lab --only k8s`,
//! `latency cost --only k8s`, and the `deploy/` directories). A store mode is not an
//! architecture: the read-modify-write variants of the Lambda rows are `lambda-s3` and
//! `lambda-dynamodb` with `?mode=read-modify-write`, chosen by whoever runs them.
//!
//! ```
//! use latency_arch::ArchitectureId;
//!
//! let id: ArchitectureId = "k8s".parse()?;
//! assert_eq!(id.to_string(), "k8s");
//! assert_eq!(id.study_name(), Some("Kubernetes"));
//! let err = "kubernetes-kops".parse::<ArchitectureId>().unwrap_err();
//! assert!(err.to_string().contains("fargate-efs")); // the error lists the valid ids
//! # Ok::<(), latency_arch::UnknownArchitecture>(())
//! ```

use std::fmt;
use std::str::FromStr;

use strum::{IntoStaticStr, VariantArray};

/// One architecture of the comparison. The string form (`as_str`, `Display`, `FromStr`)
/// is the id every command accepts; it never changes once published, because Reports,
/// cost overrides and `deploy/` directories are named by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, IntoStaticStr, VariantArray)]
pub enum ArchitectureId {
    /// The Rust server on one VM (t2.micro), counter in memory.
    #[strum(serialize = "ec2")]
    Ec2,
    /// The Rust Lambda function behind API Gateway, counter in S3.
    #[strum(serialize = "lambda-s3")]
    LambdaS3,
    /// The Rust Lambda function behind API Gateway, counter in DynamoDB.
    #[strum(serialize = "lambda-dynamodb")]
    LambdaDynamoDb,
    /// The study's Python Lambda function, counter in S3.
    #[strum(serialize = "lambda-python-s3")]
    LambdaPythonS3,
    /// The study's Python Lambda function, counter in DynamoDB.
    #[strum(serialize = "lambda-python-dynamodb")]
    LambdaPythonDynamoDb,
    /// The study's JavaScript (Node.js) Lambda function, counter in DynamoDB.
    #[strum(serialize = "lambda-js-dynamodb")]
    LambdaJsDynamoDb,
    /// The study's C++ Lambda function, counter in DynamoDB.
    #[strum(serialize = "lambda-cpp-dynamodb")]
    LambdaCppDynamoDb,
    /// The study's FastAPI server on one VM: a comparison variant of `ec2`.
    #[strum(serialize = "ec2-fastapi")]
    Ec2FastApi,
    /// One Fargate task behind a load balancer, counter in a file on EFS.
    #[strum(serialize = "fargate-efs")]
    FargateEfs,
    /// Replicas on a Kubernetes cluster (kOps, as the study), counter in Redis.
    #[strum(serialize = "k8s")]
    K8s,
    /// As `k8s`, on EKS (a managed control plane).
    #[strum(serialize = "k8s-eks")]
    K8sEks,
    /// The queue workload: jobs through SQS to a Lambda function.
    #[strum(serialize = "lambda-sqs")]
    LambdaSqs,
    /// The queue workload: jobs through RabbitMQ to a pool of workers.
    #[strum(serialize = "workers-rabbitmq")]
    WorkersRabbitMq,
}

/// A string that is not an architecture id. Its message lists every valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown architecture `{name}`; valid ids: {}",
    ArchitectureId::valid_ids()
)]
pub struct UnknownArchitecture {
    /// The string given.
    pub name: String,
}

impl ArchitectureId {
    /// Every architecture, in the order of docs/architecture.md's table.
    pub const ALL: &'static [ArchitectureId] = <Self as VariantArray>::VARIANTS;

    /// The id, e.g. `lambda-dynamodb`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every id, comma-separated, for help texts and errors.
    pub fn valid_ids() -> String {
        Self::ALL
            .iter()
            .map(|id| id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The original study's name for this row (its table's first column), or `None`
    /// when the study did not measure it.
    pub fn study_name(self) -> Option<&'static str> {
        use ArchitectureId::*;
        match self {
            Ec2FastApi => Some("FastAPI + EC2"),
            LambdaPythonS3 => Some("Lambda Python + S3"),
            LambdaPythonDynamoDb => Some("Lambda Python + DynamoDB"),
            LambdaJsDynamoDb => Some("Lambda JavaScript + DynamoDB"),
            LambdaCppDynamoDb => Some("Lambda C++ + DynamoDB"),
            LambdaDynamoDb => Some("Lambda Rust + DynamoDB"),
            FargateEfs => Some("Fargate Spot ECS"),
            K8s => Some("Kubernetes"),
            Ec2 | LambdaS3 | K8sEks | LambdaSqs | WorkersRabbitMq => None,
        }
    }

    /// One line saying what the architecture is, for `--list` and help texts.
    pub fn description(self) -> &'static str {
        use ArchitectureId::*;
        match self {
            Ec2 => "the Rust server on one VM (EC2 t2.micro); counter in memory",
            LambdaS3 => "the Rust function on Lambda behind API Gateway; counter in S3",
            LambdaDynamoDb => "the Rust function on Lambda behind API Gateway; counter in DynamoDB",
            LambdaPythonS3 => "the study's Python function on Lambda; counter in S3",
            LambdaPythonDynamoDb => "the study's Python function on Lambda; counter in DynamoDB",
            LambdaJsDynamoDb => "the study's Node.js function on Lambda; counter in DynamoDB",
            LambdaCppDynamoDb => "the study's C++ function on Lambda; counter in DynamoDB",
            Ec2FastApi => "the study's FastAPI server on one VM (EC2 t2.micro)",
            FargateEfs => "one Fargate task behind a load balancer; counter in a file on EFS",
            K8s => {
                "replicas on a Kubernetes cluster (kOps) behind a load balancer; counter in Redis"
            }
            K8sEks => "as k8s, on EKS's managed control plane",
            LambdaSqs => "queue workload: jobs through SQS to a Lambda function",
            WorkersRabbitMq => "queue workload: jobs through RabbitMQ to a worker pool",
        }
    }
}

impl fmt::Display for ArchitectureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ArchitectureId {
    type Err = UnknownArchitecture;

    /// Parses an id exactly as [`as_str`](Self::as_str) writes it (surrounding spaces
    /// are ignored, case is not: ids are case-sensitive everywhere they are used).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|id| id.as_str() == text)
            .ok_or_else(|| UnknownArchitecture {
                name: text.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_round_trips_and_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for &id in ArchitectureId::ALL {
            assert_eq!(id.as_str().parse::<ArchitectureId>(), Ok(id));
            assert!(seen.insert(id.as_str()), "{id} twice");
            assert!(!id.description().is_empty());
        }
        assert_eq!(seen.len(), 13);
    }

    #[test]
    fn an_unknown_id_lists_the_valid_ones() {
        let err = "fargate-spot"
            .parse::<ArchitectureId>()
            .expect_err("not an id");
        let message = err.to_string();
        assert!(message.contains("`fargate-spot`"), "{message}");
        for id in ArchitectureId::ALL {
            assert!(message.contains(id.as_str()), "{message}");
        }
        assert!(
            "EC2".parse::<ArchitectureId>().is_err(),
            "ids are case-sensitive"
        );
    }

    #[test]
    fn the_study_names_its_eight_rows() {
        let named = ArchitectureId::ALL
            .iter()
            .filter(|id| id.study_name().is_some())
            .count();
        assert_eq!(named, 8);
    }
}
