//! One description per architecture: everything both the local lab and the cloud deploy
//! need to stand a row up, read from `deploy/architectures/<id>.json`.
//!
//! # Contract
//! - There is exactly one file per [`ArchitectureId`], named by the id, and it is the only
//!   place that states a function setting (artifact, runtime, handler, CPU architecture,
//!   memory, timeout, reserved concurrency, environment), a table's key and key type, how
//!   the counter is created, a queue, or a container's or instance's command, port, CPU
//!   and memory. Terraform reads the same file with `jsondecode`, the Kubernetes
//!   manifests take a patch generated from it ([`kubernetes`]), and the lab launches its
//!   local rows from it.
//! - Environment values, commands and arguments are templates in Terraform's syntax:
//!   `${name}` is replaced by a value the deploying side supplies, and `$${` writes a
//!   literal `${`. The names are [`TEMPLATE_VARIABLES`]; each side supplies its own
//!   values (a table's name, Redis's address, a data directory), and nothing else
//!   differs. The lab then adds the local endpoint to AWS store URLs
//!   ([`with_endpoint`]); in the cloud the SDKs find theirs.
//! - The files are embedded in the binary ([`Description::all`]), so `latency lab` runs
//!   from anywhere on the descriptions it was built with.
//!
//! # Layout
//! - this file: the types, loading and validation;
//! - [`template`]: `${name}` rendering;
//! - [`limits`]: the account limits a set of descriptions must fit (reserved
//!   concurrency);
//! - [`kubernetes`]: the patches `deploy/k8s` applies, generated from the descriptions.
//!
//! The design document is `docs/architecture.md`; `docs/deploy.md` shows how Terraform
//! reads these files.

use std::collections::BTreeMap;

use latency_arch::ArchitectureId;
use serde::{Deserialize, Serialize};

pub mod kubernetes;
pub mod limits;
pub mod template;

pub use template::{TEMPLATE_VARIABLES, render, with_endpoint};

/// A description that cannot be read or does not hold together. Every message names the
/// file and the setting.
#[derive(Debug, thiserror::Error)]
pub enum DescriptionError {
    /// The file is not valid JSON, or a field is unknown, missing or of the wrong type.
    #[error("{file}: {source}")]
    Parse {
        /// The description's file, e.g. `deploy/architectures/k8s.json`.
        file: String,
        /// serde's message, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The settings parse but contradict each other or the cloud's rules.
    #[error("{file}: {setting}: {reason}")]
    Invalid {
        /// The description's file.
        file: String,
        /// The setting, as a JSON path such as `function.memory_mb`.
        setting: String,
        /// What is wrong, and what is accepted.
        reason: String,
    },
    /// A template names a variable the deploying side does not supply.
    #[error(
        "template `{template}` uses `${{{name}}}`, which is not supplied here (supplied: {supplied})"
    )]
    UnknownVariable {
        /// The template.
        template: String,
        /// The variable it names.
        name: String,
        /// The variables that were supplied, comma-separated.
        supplied: String,
    },
    /// A template has a `${` without its closing `}` or with an empty name.
    #[error("template `{template}` has a malformed `${{…}}` at byte {at}")]
    MalformedTemplate {
        /// The template.
        template: String,
        /// Where the bad placeholder starts.
        at: usize,
    },
}

/// How requests reach the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrontKind {
    /// API Gateway HTTP API (payload 2.0) in front of the function.
    HttpApi,
    /// The instance's own port, from outside (EC2).
    InstancePort,
    /// A load balancer in front of containers (an ALB; a LoadBalancer Service).
    LoadBalancer,
    /// `POST /calc` into a queue (API Gateway's SQS integration, or the producer app).
    QueueApi,
}

/// The front door.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Front {
    /// Its kind.
    pub kind: FrontKind,
}

/// The language a function's handler is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// A Rust binary on the `provided.al2023` custom runtime.
    Rust,
    /// The study's Python handler on a managed Python runtime.
    Python,
    /// The study's JavaScript handler on a managed Node.js runtime.
    Nodejs,
    /// The study's C++ handler, a `provided.al2023` bootstrap.
    Cpp,
}

/// A CPU architecture, in AWS's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuArchitecture {
    /// Graviton (aarch64).
    Arm64,
    /// Intel/AMD (x86-64).
    #[serde(rename = "x86_64")]
    X86_64,
}

impl CpuArchitecture {
    /// AWS's spelling: `arm64` or `x86_64` (Lambda's `architectures`).
    pub fn as_str(self) -> &'static str {
        match self {
            CpuArchitecture::Arm64 => "arm64",
            CpuArchitecture::X86_64 => "x86_64",
        }
    }

    /// Kubernetes' `kubernetes.io/arch` label value: `arm64` or `amd64`.
    pub fn kubernetes(self) -> &'static str {
        match self {
            CpuArchitecture::Arm64 => "arm64",
            CpuArchitecture::X86_64 => "amd64",
        }
    }

    /// What `file(1)` says of an ELF binary built for it (`ARM aarch64`, `x86-64`).
    pub fn elf_machine(self) -> &'static str {
        match self {
            CpuArchitecture::Arm64 => "ARM aarch64",
            CpuArchitecture::X86_64 => "x86-64",
        }
    }
}

/// A Lambda function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    /// What `scripts/build-lambdas` builds for it (its NAME argument), e.g.
    /// `latency-lambda`.
    pub artifact: String,
    /// The handler's language.
    pub language: Language,
    /// Lambda's runtime identifier, e.g. `provided.al2023`, `python3.12`.
    pub runtime: String,
    /// Lambda's handler setting, e.g. `bootstrap`, `handler.handler`.
    pub handler: String,
    /// The CPU architecture the artifact is built for and the function runs on.
    pub architecture: CpuArchitecture,
    /// Memory, MB (Lambda: 128 to 10,240; 1,769 MB buys one vCPU).
    pub memory_mb: u32,
    /// Invocation timeout, seconds (1 to 900).
    pub timeout_s: u32,
    /// Reserved concurrency, or `null` for the account's unreserved pool.
    pub reserved_concurrency: Option<u32>,
    /// Environment variables: templates over [`TEMPLATE_VARIABLES`].
    pub environment: BTreeMap<String, String>,
    /// The queue that invokes it, for queue rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source: Option<EventSource>,
}

/// An SQS event source mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSource {
    /// The queue, by its name in [`Description::queues`].
    pub queue: String,
    /// Messages per invocation (SQS: 1 to 10 without a batching window).
    pub batch_size: u32,
    /// Most instances the mapping invokes at once (SQS: 2 to 1,000). It bounds the queue's
    /// concurrency without reserving any of the account's.
    pub maximum_concurrency: u32,
}

/// A virtual machine running one server process (EC2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// What `scripts/build-lambdas` builds for it.
    pub artifact: String,
    /// The EC2 instance type, e.g. `t2.micro`.
    pub instance_type: String,
    /// Its CPU architecture (the artifact's).
    pub architecture: CpuArchitecture,
    /// vCPUs the instance type has (the lab's CPU budget).
    pub vcpu: f64,
    /// Its memory, MB (the lab's memory limit).
    pub memory_mb: u32,
    /// The program and its arguments: templates. The program is looked up in the
    /// instance's install directory (`latency`, or `python3` of the app's venv).
    pub command: Vec<String>,
    /// Environment variables: templates.
    pub environment: BTreeMap<String, String>,
    /// The port it listens on (`${port}`).
    pub port: u16,
}

/// A container image of `deploy/Dockerfile` (Fargate, Kubernetes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// The CPU architecture the image is built for and the task or node runs.
    pub architecture: CpuArchitecture,
    /// CPU per replica, in vCPU (Fargate: 0.25 = 256 units; Kubernetes: 250m).
    pub vcpu: f64,
    /// Memory per replica, MB.
    pub memory_mb: u32,
    /// How many replicas.
    pub replicas: u32,
    /// The arguments to the image's entry point (`/latency`): templates.
    pub args: Vec<String>,
    /// The port it listens on (`${port}`), or `null` for a container that serves none.
    pub port: Option<u16>,
    /// Where its data volume is mounted (`${data_dir}`), for a file counter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
    /// Environment variables: templates.
    pub environment: BTreeMap<String, String>,
}

/// A DynamoDB key attribute's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    /// String.
    S,
    /// Number.
    N,
}

/// A DynamoDB table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The partition key's attribute name.
    pub key: String,
    /// Its type.
    pub key_type: KeyType,
}

/// An S3 bucket (private, encrypted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {}

/// An SQS queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Receives before a message moves to the dead-letter queue.
    pub max_receives: u32,
    /// Whether it has a dead-letter queue.
    pub dead_letter: bool,
}

/// Who creates the counter before the first request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CreatedBy {
    /// The deployment (Terraform's `aws_s3_object` / `aws_dynamodb_table_item`; the lab
    /// the same way, before the row starts). The app never creates it.
    Deploy,
    /// The app, when it starts (a file store creates a missing file at 0).
    FirstStart,
}

/// The counter and how it is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "store", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Counter {
    /// In the server's memory.
    Memory,
    /// A file (EFS, or the instance's disk).
    File {
        /// Its path: a template.
        path: String,
        /// Who creates it.
        created_by: CreatedBy,
    },
    /// A key in Redis.
    Redis {
        /// The key.
        key: String,
    },
    /// One S3 object holding the count as text.
    S3Object {
        /// The bucket, by its name in [`Description::buckets`].
        bucket: String,
        /// The object's key.
        key: String,
        /// Who creates it.
        created_by: CreatedBy,
    },
    /// One DynamoDB item holding the count in a number attribute.
    DynamodbItem {
        /// The table, by its name in [`Description::tables`].
        table: String,
        /// The item's key value (typed by the table's key type).
        key_value: String,
        /// The count's attribute.
        attribute: String,
        /// Who creates it.
        created_by: CreatedBy,
    },
}

/// One architecture, as both the lab and the cloud stand it up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// For editors: the JSON schema's path.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The architecture id; the file is named by it.
    #[serde(with = "id_serde")]
    pub id: ArchitectureId,
    /// The table's name for the row.
    pub title: String,
    /// One line saying what it is.
    pub summary: String,
    /// How requests reach it.
    pub front: Front,
    /// The Lambda function, for function rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<Function>,
    /// The VM, for instance rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<Instance>,
    /// The containers, for Fargate and Kubernetes rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// DynamoDB tables, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, Table>,
    /// S3 buckets, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub buckets: BTreeMap<String, Bucket>,
    /// Queues, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub queues: BTreeMap<String, Queue>,
    /// The counter, for the counter app's rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<Counter>,
}

mod id_serde {
    use latency_arch::ArchitectureId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &ArchitectureId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(id.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ArchitectureId, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The embedded files: `(file name, text)`, one per architecture id.
const FILES: &[(&str, &str)] = &[
    (
        "ec2.json",
        include_str!("../../../deploy/architectures/ec2.json"),
    ),
    (
        "lambda-s3.json",
        include_str!("../../../deploy/architectures/lambda-s3.json"),
    ),
    (
        "lambda-dynamodb.json",
        include_str!("../../../deploy/architectures/lambda-dynamodb.json"),
    ),
    (
        "lambda-python-s3.json",
        include_str!("../../../deploy/architectures/lambda-python-s3.json"),
    ),
    (
        "lambda-python-dynamodb.json",
        include_str!("../../../deploy/architectures/lambda-python-dynamodb.json"),
    ),
    (
        "lambda-js-dynamodb.json",
        include_str!("../../../deploy/architectures/lambda-js-dynamodb.json"),
    ),
    (
        "lambda-cpp-dynamodb.json",
        include_str!("../../../deploy/architectures/lambda-cpp-dynamodb.json"),
    ),
    (
        "ec2-fastapi.json",
        include_str!("../../../deploy/architectures/ec2-fastapi.json"),
    ),
    (
        "fargate-efs.json",
        include_str!("../../../deploy/architectures/fargate-efs.json"),
    ),
    (
        "k8s.json",
        include_str!("../../../deploy/architectures/k8s.json"),
    ),
    (
        "k8s-eks.json",
        include_str!("../../../deploy/architectures/k8s-eks.json"),
    ),
    (
        "lambda-sqs.json",
        include_str!("../../../deploy/architectures/lambda-sqs.json"),
    ),
    (
        "workers-rabbitmq.json",
        include_str!("../../../deploy/architectures/workers-rabbitmq.json"),
    ),
];

/// The bench function's settings (`deploy/bench-function.json`): not an architecture, but
/// deployed beside every row for `latency bench --via-lambda`.
const BENCH_FUNCTION: &str = include_str!("../../../deploy/bench-function.json");

/// Where the descriptions live in the repository, for messages.
pub const DIRECTORY: &str = "deploy/architectures";

impl Description {
    /// Parses and checks one description; `file` names it in errors.
    ///
    /// # Errors
    /// [`DescriptionError::Parse`] for bad JSON or an unknown field;
    /// [`DescriptionError::Invalid`] when settings contradict each other or a cloud limit
    /// (see [`Description::validate`]).
    pub fn parse(file: &str, text: &str) -> Result<Description, DescriptionError> {
        let description: Description =
            serde_json::from_str(text).map_err(|source| DescriptionError::Parse {
                file: file.to_owned(),
                source,
            })?;
        description.validate(file)?;
        Ok(description)
    }

    /// Every architecture's description, as embedded at build time, in
    /// [`ArchitectureId::ALL`]'s order.
    ///
    /// # Errors
    /// The first file that does not parse or validate (a test checks that none fails).
    pub fn all() -> Result<Vec<Description>, DescriptionError> {
        let mut all = FILES
            .iter()
            .map(|(name, text)| Description::parse(&format!("{DIRECTORY}/{name}"), text))
            .collect::<Result<Vec<_>, _>>()?;
        all.sort_by_key(|d| ArchitectureId::ALL.iter().position(|id| *id == d.id));
        Ok(all)
    }

    /// The description of `id`.
    ///
    /// # Errors
    /// As [`Description::all`] for that file.
    pub fn of(id: ArchitectureId) -> Result<Description, DescriptionError> {
        let name = format!("{id}.json");
        let text = FILES
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, text)| *text)
            .ok_or_else(|| DescriptionError::Invalid {
                file: format!("{DIRECTORY}/{name}"),
                setting: "id".to_owned(),
                reason: "no description is embedded for this architecture".to_owned(),
            })?;
        Description::parse(&format!("{DIRECTORY}/{name}"), text)
    }

    /// The bench function's settings.
    ///
    /// # Errors
    /// [`DescriptionError::Parse`] if `deploy/bench-function.json` does not parse.
    pub fn bench_function() -> Result<Function, DescriptionError> {
        let file = "deploy/bench-function.json";
        let function: Function =
            serde_json::from_str(BENCH_FUNCTION).map_err(|source| DescriptionError::Parse {
                file: file.to_owned(),
                source,
            })?;
        validate_function(file, "", &function)?;
        Ok(function)
    }

    /// The file this description was read from, for messages.
    pub fn file(&self) -> String {
        format!("{DIRECTORY}/{}.json", self.id)
    }

    /// Checks what serde cannot: the id matches the file, exactly one kind of compute,
    /// names refer to declared tables, buckets and queues, and each number is within the
    /// cloud's documented range.
    ///
    /// # Errors
    /// [`DescriptionError::Invalid`] naming the first setting that is wrong.
    pub fn validate(&self, file: &str) -> Result<(), DescriptionError> {
        let invalid = |setting: &str, reason: String| DescriptionError::Invalid {
            file: file.to_owned(),
            setting: setting.to_owned(),
            reason,
        };
        let expected = format!("{}.json", self.id);
        if !file.ends_with(&expected) {
            return Err(invalid("id", format!("the file must be named {expected}")));
        }
        let computes = [
            self.function.is_some(),
            self.instance.is_some(),
            self.container.is_some(),
        ];
        if computes.iter().filter(|c| **c).count() != 1 {
            return Err(invalid(
                "function/instance/container",
                "exactly one of them must be given".to_owned(),
            ));
        }
        if let Some(function) = &self.function {
            validate_function(file, "function.", function)?;
            if let Some(source) = &function.event_source {
                if !self.queues.contains_key(&source.queue) {
                    return Err(invalid(
                        "function.event_source.queue",
                        format!("`{}` is not one of `queues`", source.queue),
                    ));
                }
                if !(1..=10).contains(&source.batch_size) {
                    return Err(invalid(
                        "function.event_source.batch_size",
                        format!("{} is outside SQS's 1 to 10", source.batch_size),
                    ));
                }
                if !(2..=1000).contains(&source.maximum_concurrency) {
                    return Err(invalid(
                        "function.event_source.maximum_concurrency",
                        format!("{} is outside SQS's 2 to 1000", source.maximum_concurrency),
                    ));
                }
            }
        }
        if let Some(container) = &self.container {
            // Fargate's documented task sizes start at 0.25 vCPU with 512 MB; Kubernetes
            // takes any; the check is the common floor and a sane ceiling.
            if !(container.vcpu >= 0.125 && container.vcpu <= 16.0) {
                return Err(invalid(
                    "container.vcpu",
                    format!("{} is outside 0.125 to 16", container.vcpu),
                ));
            }
            if !(64..=122_880).contains(&container.memory_mb) {
                return Err(invalid(
                    "container.memory_mb",
                    format!("{} is outside 64 to 122880", container.memory_mb),
                ));
            }
            if !(1..=100).contains(&container.replicas) {
                return Err(invalid(
                    "container.replicas",
                    format!("{} is outside 1 to 100", container.replicas),
                ));
            }
        }
        if let Some(instance) = &self.instance
            && instance.command.is_empty()
        {
            return Err(invalid("instance.command", "is empty".to_owned()));
        }
        match &self.counter {
            Some(Counter::S3Object { bucket, .. }) if !self.buckets.contains_key(bucket) => {
                return Err(invalid(
                    "counter.bucket",
                    format!("`{bucket}` is not one of `buckets`"),
                ));
            }
            Some(Counter::DynamodbItem {
                table, key_value, ..
            }) => {
                let Some(declared) = self.tables.get(table) else {
                    return Err(invalid(
                        "counter.table",
                        format!("`{table}` is not one of `tables`"),
                    ));
                };
                if declared.key_type == KeyType::N && key_value.parse::<f64>().is_err() {
                    return Err(invalid(
                        "counter.key_value",
                        format!("`{key_value}` is not a number, but table `{table}`'s key is"),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The CPU architecture the row's artifact or image is built for.
    pub fn cpu_architecture(&self) -> CpuArchitecture {
        match (&self.function, &self.instance, &self.container) {
            (Some(f), _, _) => f.architecture,
            (_, Some(i), _) => i.architecture,
            (_, _, Some(c)) => c.architecture,
            // validate() guarantees one of the three.
            _ => CpuArchitecture::X86_64,
        }
    }
}

/// Lambda's documented ranges for a function's settings.
fn validate_function(
    file: &str,
    prefix: &str,
    function: &Function,
) -> Result<(), DescriptionError> {
    let invalid = |setting: &str, reason: String| DescriptionError::Invalid {
        file: file.to_owned(),
        setting: format!("{prefix}{setting}"),
        reason,
    };
    if !(128..=10_240).contains(&function.memory_mb) {
        return Err(invalid(
            "memory_mb",
            format!("{} is outside Lambda's 128 to 10240 MB", function.memory_mb),
        ));
    }
    if !(1..=900).contains(&function.timeout_s) {
        return Err(invalid(
            "timeout_s",
            format!("{} is outside Lambda's 1 to 900 s", function.timeout_s),
        ));
    }
    if function.reserved_concurrency == Some(0) {
        return Err(invalid(
            "reserved_concurrency",
            "0 would stop every invocation; use null for the unreserved pool".to_owned(),
        ));
    }
    // Lambda's custom runtime runs a file named `bootstrap`; managed runtimes take
    // `file.function`.
    let custom = function.runtime.starts_with("provided.");
    if custom != matches!(function.language, Language::Rust | Language::Cpp) {
        return Err(invalid(
            "runtime",
            format!(
                "`{}` does not run a {:?} handler",
                function.runtime, function.language
            ),
        ));
    }
    if custom && function.handler != "bootstrap" {
        return Err(invalid(
            "handler",
            "a provided.* runtime runs `bootstrap`".to_owned(),
        ));
    }
    Ok(())
}
