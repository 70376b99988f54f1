//! What is priced: one [`Row`] per architecture, and the catalogue of the study's rows
//! plus the newer ones.
//!
//! A row is either a [`Server`] (provisioned: it costs the same every month, whatever
//! the traffic) or a [`Function`] (billed per call). Rows are plain data with public
//! fields, so a caller such as the lab can take a catalogue row and put its own measured
//! durations in, or build a row of its own.

use latency_arch::ArchitectureId;
use serde::{Deserialize, Serialize};

use crate::CostError;

/// What one "call" of a row is, so that only like is compared with like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// The web app: one call is one `GET /hits`.
    Hits,
    /// The queue workload: one call is one `calc(x)` job.
    CalcJobs,
}

impl Workload {
    /// How a call of this workload is named in output, e.g. `calls (GET /hits)`.
    pub fn describe(self) -> &'static str {
        match self {
            Workload::Hits => "calls (GET /hits)",
            Workload::CalcJobs => "jobs (calc(x))",
        }
    }
}

/// How the counter is updated, which decides the storage operations per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreMode {
    /// One atomic update: DynamoDB `UpdateItem ADD` is one write. S3 has no atomic
    /// increment; its conditional write needs the object's ETag first, so it still takes
    /// one GET and one PUT (retries after a lost race are not counted).
    Atomic,
    /// The study's read-then-write: one strongly consistent read (a correct
    /// read-modify-write needs the latest value) and one write.
    ReadModifyWrite,
}

impl StoreMode {
    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            StoreMode::Atomic => "atomic",
            StoreMode::ReadModifyWrite => "read-modify-write",
        }
    }
}

/// Where a function keeps its counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Store {
    /// An S3 object: GET and PUT requests.
    S3,
    /// A DynamoDB item, on-demand: read and write request units (items under 1 KB).
    #[serde(rename = "dynamodb")]
    DynamoDb,
}

/// A row billed per call: API Gateway, optionally SQS, one Lambda invocation, and its
/// store operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    /// Configured Lambda memory, 128 to 10,240 MB; GB-seconds are `memory_mb / 1024`
    /// times the billed seconds.
    pub memory_mb: u32,
    /// Mean billed duration per invocation, in ms. Each invocation is billed rounded up
    /// to the sheet's billing step ([`crate::PriceSheet::billed_duration_ms`]); this is
    /// the mean of those billed figures, so it is not rounded again.
    pub billed_duration_ms: f64,
    /// Where `billed_duration_ms` comes from, e.g. "implied by the study's $3.24".
    pub duration_basis: String,
    /// API Gateway HTTP API requests per call.
    pub api_gateway_requests: f64,
    /// SQS requests per call (send, receive and delete for a queued job), or 0.
    pub sqs_requests: f64,
    /// The counter's store.
    pub store: Store,
    /// How the counter is updated.
    pub store_mode: StoreMode,
}

/// A resource billed by the month whatever the traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Resource {
    /// EC2 t2.micro instances, on-demand, all month.
    Ec2T2Micro {
        /// How many.
        count: u32,
    },
    /// EBS gp2 volume space.
    Gp2 {
        /// Gigabytes provisioned.
        gb: f64,
    },
    /// A Fargate task running all month.
    Fargate {
        /// vCPUs of the task (0.25 is the smallest).
        vcpu: f64,
        /// Memory of the task in GB (0.5 is the smallest).
        memory_gb: f64,
        /// Whether it runs on Fargate Spot, at the sheet's discount.
        spot: bool,
    },
    /// EFS Standard storage in use.
    Efs {
        /// Gigabytes stored.
        gb: f64,
    },
    /// An EKS control plane, all month.
    EksControlPlane,
    /// Public IPv4 addresses held all month.
    PublicIpv4 {
        /// How many.
        count: u32,
    },
}

/// One resource of a [`Server`], with what it is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// What the resource is for, e.g. "worker node".
    pub what: String,
    /// The resource.
    pub resource: Resource,
}

/// A provisioned row: a fixed set of resources, the same cost at any volume.
///
/// One instance or task is assumed to carry every volume priced (the counter app
/// answers far more than 1e8 calls a month, ~38 a second, on one small instance); the
/// model does not add instances as traffic grows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    /// What is paid for all month.
    pub parts: Vec<Part>,
    /// Whether the real deployment sits behind a load balancer. Its cost (one ALB and
    /// its two public IPv4 addresses, one per availability zone) is added only when the
    /// caller asks for it, because the study left it out.
    pub load_balancer: bool,
}

/// How a row is billed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "billing", rename_all = "kebab-case")]
pub enum Kind {
    /// Billed by the month: serverful.
    Provisioned(Server),
    /// Billed per call: serverless.
    PerCall(Function),
}

/// What the original study published for a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyFigure {
    /// The study's name for the row.
    pub label: String,
    /// Its "Monthly cost ($)", if it gave one.
    pub monthly: Option<f64>,
    /// Its "Cost per million calls ($)", if it gave one.
    pub per_million: Option<f64>,
}

/// One architecture to price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Stable kebab-case id, used to select and override the row.
    pub id: String,
    /// Human name for tables.
    pub label: String,
    /// What a call is.
    pub workload: Workload,
    /// How it is billed, and what it is made of.
    pub kind: Kind,
    /// What the study published for it, if it is one of the study's rows.
    pub study: Option<StudyFigure>,
    /// Assumptions behind the row that a reader must know.
    pub notes: Vec<String>,
}

impl Row {
    /// The function part, if the row is billed per call.
    pub fn function(&self) -> Option<&Function> {
        match &self.kind {
            Kind::PerCall(function) => Some(function),
            Kind::Provisioned(_) => None,
        }
    }

    /// Whether the row is billed per call (serverless).
    pub fn is_per_call(&self) -> bool {
        matches!(self.kind, Kind::PerCall(_))
    }

    /// A web-app row billed per call, API Gateway -> Lambda -> `store`, as the lab's
    /// function platform runs it: one API Gateway request and one invocation per call.
    ///
    /// The memory and duration are checked when the row is priced.
    pub fn api_lambda(
        id: &str,
        label: &str,
        store: Store,
        store_mode: StoreMode,
        memory_mb: u32,
        billed_duration_ms: f64,
        duration_basis: &str,
    ) -> Row {
        Row {
            id: id.to_owned(),
            label: label.to_owned(),
            workload: Workload::Hits,
            kind: Kind::PerCall(Function {
                memory_mb,
                billed_duration_ms,
                duration_basis: duration_basis.to_owned(),
                api_gateway_requests: 1.0,
                sqs_requests: 0.0,
                store,
                store_mode,
            }),
            study: None,
            notes: Vec::new(),
        }
    }
}

/// Lambda's memory limits, in MB.
pub const LAMBDA_MEMORY_MB: std::ops::RangeInclusive<u32> = 128..=10_240;

/// Lambda's longest invocation, 15 minutes, in ms.
pub const LAMBDA_MAX_DURATION_MS: f64 = 900_000.0;

/// The memory every study row used: 128 MB, Lambda's smallest.
pub const STUDY_MEMORY_MB: u32 = 128;

/// The counter file on EFS: a few bytes, metered here as one 4 KiB block, in GB.
const COUNTER_FILE_GB: f64 = 4096.0 / 1_073_741_824.0;

fn study_function(duration_ms: f64, basis: &str, store: Store) -> Function {
    Function {
        memory_mb: STUDY_MEMORY_MB,
        billed_duration_ms: duration_ms,
        duration_basis: basis.to_owned(),
        api_gateway_requests: 1.0,
        sqs_requests: 0.0,
        store,
        store_mode: StoreMode::ReadModifyWrite,
    }
}

fn part(what: &str, resource: Resource) -> Part {
    Part {
        what: what.to_owned(),
        resource,
    }
}

/// What the study published for `id`, under the study's own name for the row.
fn study(
    id: ArchitectureId,
    monthly: Option<f64>,
    per_million: Option<f64>,
) -> Option<StudyFigure> {
    Some(StudyFigure {
        label: id.study_name()?.to_owned(),
        monthly,
        per_million,
    })
}

/// The kOps cluster shape assumed for the study's Kubernetes row: one t2.micro control
/// plane node with 20 GB gp2 (root and etcd data; the study says the control node
/// "costs a minimum of $12.06", and does not give its shape), and one t2.micro worker
/// with the EC2 row's 8 GB gp2 root volume. Each node holds a public IPv4 address.
fn kops_parts() -> Vec<Part> {
    vec![
        part("control-plane node", Resource::Ec2T2Micro { count: 1 }),
        part(
            "control-plane volume (root + etcd)",
            Resource::Gp2 { gb: 20.0 },
        ),
        part("worker node", Resource::Ec2T2Micro { count: 1 }),
        part("worker root volume", Resource::Gp2 { gb: 8.0 }),
        part(
            "node public IPv4 addresses",
            Resource::PublicIpv4 { count: 2 },
        ),
    ]
}

/// Every built-in row, one per [`ArchitectureId`], in [`ArchitectureId::ALL`]'s order.
///
/// Function rows default to 128 MB, the study's read-modify-write store mode, and the
/// billed duration the study's per-million figure implies. With the original-era sheet
/// one billed ms at 128 MB costs 0.125 GB x 0.001 s x $0.0000166667 = $0.00208 per
/// million calls, so a published figure rounded to the cent pins the duration to a
/// window about 5 ms wide; the whole ms nearest its middle is used:
///
/// | row | per-call prices without duration | published | implied billed ms |
/// |---|---|---|---|
/// | Python + S3 | 1.11 + 0.20 + 5.30 PUT + 0.42 GET = 7.0300 | 7.16 | (7.16 - 7.03) / 0.00208 = 62.4, so 62 |
/// | Python + DynamoDB | 1.11 + 0.20 + 1.4846 WRU + 0.297 RRU = 3.0916 | 3.24 | 71.2, so 71 |
/// | JavaScript + DynamoDB | 3.0916 | 3.39 | 143.2, so 143 |
/// | C++ + DynamoDB | 3.0916 | 3.09 | at most 1.6 ms fits; 1 (the minimum bill) |
/// | Rust + DynamoDB | 3.0916 | 3.09 | 1 |
///
/// The C++ and Rust figures leave no room for the few ms two DynamoDB round trips take
/// in practice: measure them with the lab and pass the measured durations instead. The
/// Rust + S3 row (`lambda-s3`), which the study did not publish, takes the Rust row's 1 ms.
pub fn catalogue() -> Vec<Row> {
    ArchitectureId::ALL
        .iter()
        .map(|&id| catalogue_row(id))
        .collect()
}

/// The built-in row of `id`. Every architecture has one: the match is exhaustive, so a
/// new [`ArchitectureId`] does not compile until it is priced.
pub fn catalogue_row(id: ArchitectureId) -> Row {
    let implied = |published: f64| format!("implied by the study's ${published:.2} per million");
    let lambda = |ms: f64, published: f64, store: Store| Row {
        id: id.as_str().to_owned(),
        label: label_of(id).to_owned(),
        workload: Workload::Hits,
        kind: Kind::PerCall(study_function(ms, &implied(published), store)),
        study: study(id, None, Some(published)),
        notes: Vec::new(),
    };
    let provisioned =
        |parts: Vec<Part>, load_balancer: bool, monthly: Option<f64>, note: &str| Row {
            id: id.as_str().to_owned(),
            label: label_of(id).to_owned(),
            workload: Workload::Hits,
            kind: Kind::Provisioned(Server {
                parts,
                load_balancer,
            }),
            study: monthly.and_then(|monthly| study(id, Some(monthly), None)),
            notes: vec![note.to_owned()],
        };
    use ArchitectureId::*;
    match id {
        Ec2 => provisioned(
            ec2_parts(),
            false,
            None,
            "one t2.micro with an 8 GB gp2 root volume; the counter is in memory; priced as the study's FastAPI row (ec2-fastapi)",
        ),
        Ec2FastApi => provisioned(
            ec2_parts(),
            false,
            Some(10.57),
            "one t2.micro with an 8 GB gp2 root volume; the counter is in memory",
        ),
        LambdaPythonS3 => lambda(62.0, 7.16, Store::S3),
        LambdaPythonDynamoDb => lambda(71.0, 3.24, Store::DynamoDb),
        LambdaJsDynamoDb => lambda(143.0, 3.39, Store::DynamoDb),
        LambdaCppDynamoDb => lambda(1.0, 3.09, Store::DynamoDb),
        LambdaDynamoDb => lambda(1.0, 3.09, Store::DynamoDb),
        LambdaS3 => Row {
            id: id.as_str().to_owned(),
            label: label_of(id).to_owned(),
            workload: Workload::Hits,
            kind: Kind::PerCall(study_function(
                1.0,
                "not published by the study; the Rust + DynamoDB row's 1 ms",
                Store::S3,
            )),
            study: None,
            notes: Vec::new(),
        },
        FargateEfs => provisioned(
            vec![
                part(
                    "task (0.25 vCPU, 0.5 GB)",
                    Resource::Fargate {
                        vcpu: 0.25,
                        memory_gb: 0.5,
                        spot: true,
                    },
                ),
                part("counter file", Resource::Efs { gb: COUNTER_FILE_GB }),
                part("task public IPv4 address", Resource::PublicIpv4 { count: 1 }),
            ],
            true,
            Some(3.11),
            "the smallest task, 0.25 vCPU and 0.5 GB, on Spot; the counter file on EFS is one 4 KiB block",
        ),
        K8s => provisioned(
            kops_parts(),
            true,
            Some(22.63),
            "assumed shape: one t2.micro control plane with 20 GB gp2, one t2.micro worker with 8 GB gp2; the study gives only the control node's minimum, $12.06",
        ),
        K8sEks => provisioned(
            vec![
                part("control plane", Resource::EksControlPlane),
                part("worker node", Resource::Ec2T2Micro { count: 1 }),
                part("worker root volume", Resource::Gp2 { gb: 20.0 }),
                part("node public IPv4 address", Resource::PublicIpv4 { count: 1 }),
            ],
            true,
            None,
            "a lower bound: the EKS control plane and one t2.micro worker with EKS's default 20 GB volume",
        ),
        LambdaSqs => Row {
            id: id.as_str().to_owned(),
            label: label_of(id).to_owned(),
            workload: Workload::CalcJobs,
            kind: Kind::PerCall(Function {
                memory_mb: STUDY_MEMORY_MB,
                billed_duration_ms: 1000.0,
                duration_basis: "calc(x) with x uniform in 0..2 s, as the study's test: 1 s on average".to_owned(),
                api_gateway_requests: 1.0,
                sqs_requests: 3.0,
                store: Store::DynamoDb,
                store_mode: StoreMode::Atomic,
            }),
            study: None,
            notes: vec![
                "per job: POST through API Gateway, SQS send + receive + delete, one Lambda run of calc(x), one DynamoDB write to the done counter; SQS's idle long polls are not counted".to_owned(),
            ],
        },
        WorkersRabbitMq => Row {
            workload: Workload::CalcJobs,
            ..provisioned(
                kops_parts(),
                true,
                None,
                "the kOps cluster of the Kubernetes row, running RabbitMQ and the worker pool",
            )
        },
    }
}

/// The cost table's name for a row.
fn label_of(id: ArchitectureId) -> &'static str {
    use ArchitectureId::*;
    match id {
        Ec2 => "Server + EC2",
        Ec2FastApi => "FastAPI + EC2",
        LambdaS3 => "Lambda Rust + S3",
        LambdaDynamoDb => "Lambda Rust + DynamoDB",
        LambdaPythonS3 => "Lambda Python + S3",
        LambdaPythonDynamoDb => "Lambda Python + DynamoDB",
        LambdaJsDynamoDb => "Lambda JavaScript + DynamoDB",
        LambdaCppDynamoDb => "Lambda C++ + DynamoDB",
        FargateEfs => "Fargate Spot + EFS",
        K8s => "Kubernetes (kOps)",
        K8sEks => "Kubernetes (EKS)",
        LambdaSqs => "Lambda + SQS (calc)",
        WorkersRabbitMq => "Workers + RabbitMQ (kOps)",
    }
}

/// One t2.micro with the study's 8 GB gp2 root volume and a public IPv4 address.
fn ec2_parts() -> Vec<Part> {
    vec![
        part("instance", Resource::Ec2T2Micro { count: 1 }),
        part("root volume", Resource::Gp2 { gb: 8.0 }),
        part("public IPv4 address", Resource::PublicIpv4 { count: 1 }),
    ]
}

/// The row with this id in `rows`, or [`CostError::UnknownRow`] listing the ids.
pub fn find_row<'a>(rows: &'a [Row], id: &str) -> Result<&'a Row, CostError> {
    rows.iter()
        .find(|row| row.id == id)
        .ok_or_else(|| unknown_row(rows, id))
}

pub(crate) fn unknown_row(rows: &[Row], id: &str) -> CostError {
    CostError::UnknownRow {
        name: id.to_owned(),
        known: rows
            .iter()
            .map(|row| row.id.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalogue and the architecture ids cannot drift apart: one row per id, named
    /// by it, so `latency cost --only ID` accepts exactly the ids `latency lab` does.
    #[test]
    fn every_architecture_has_exactly_one_row_named_by_its_id() {
        let rows = catalogue();
        assert_eq!(rows.len(), ArchitectureId::ALL.len());
        for (row, id) in rows.iter().zip(ArchitectureId::ALL) {
            assert_eq!(row.id, id.as_str());
            assert_eq!(row.id.parse::<ArchitectureId>(), Ok(*id));
        }
    }

    #[test]
    fn rows_the_study_published_carry_its_name() {
        for row in catalogue() {
            let id: ArchitectureId = row.id.parse().expect("an id");
            assert_eq!(
                row.study.as_ref().map(|s| s.label.as_str()),
                id.study_name(),
                "{}",
                row.id
            );
        }
    }
}
