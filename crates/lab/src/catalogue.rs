//! The architecture catalogue: one entry per row of the comparison, named by the shared
//! [`ArchitectureId`] and built from that architecture's one description
//! (`deploy/architectures/<id>.json`, [`latency_description`]): its title, how it is
//! stood up, its counter, its CPU and memory come from the file Terraform deploys, so a
//! lab row that passes is evidence that the description works. What is the lab's own is
//! only the local analogue's wording and the rows' store modes.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use latency_arch::ArchitectureId;
use latency_description::{Counter, Description, FrontKind};

use crate::error::Skip;

/// How a row updates its counter. A store mode is not an architecture: the lab's
/// read-modify-write rows are `lambda-s3` and `lambda-dynamodb` with
/// `?mode=read-modify-write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// One atomic update (the default; the fix).
    Atomic,
    /// The original study's read-then-write, which loses updates under concurrency.
    ReadModifyWrite,
}

/// Where a row keeps its counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterBackend {
    /// `memory://`: an atomic in the server process.
    Memory,
    /// `file://`: a durable file (EFS's stand-in).
    File,
    /// `redis://` on the machine's Redis, shared by replicas.
    Redis,
    /// `s3://` on a local S3-compatible endpoint (moto).
    S3(Mode),
    /// `dynamodb://` on a local DynamoDB-compatible endpoint (dynalite).
    DynamoDb(Mode),
}

impl CounterBackend {
    /// The store mode: read-modify-write only where the row asks for it.
    pub fn mode(self) -> Mode {
        match self {
            CounterBackend::S3(mode) | CounterBackend::DynamoDb(mode) => mode,
            CounterBackend::Memory | CounterBackend::File | CounterBackend::Redis => Mode::Atomic,
        }
    }
}

/// The language a function row's handler is written in; the runtime that runs it is
/// configured per language ([`FunctionRuntime`](crate::FunctionRuntime)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// The `latency-lambda` binary (a custom runtime, as `provided.al2023`).
    Rust,
    /// The study's Python handler.
    Python,
    /// The study's Node.js handler.
    NodeJs,
    /// The study's C++ handler.
    Cpp,
}

impl Language {
    /// Why a row in this language is skipped when no runtime is configured for it, and
    /// the command that provides one.
    pub fn missing_runtime(self) -> Skip {
        match self {
            Language::Rust => Skip::new(
                "the Lambda binary is missing",
                "cargo build --release -p latency-lambda",
            ),
            Language::Python | Language::NodeJs | Language::Cpp => Skip::new(
                format!("no {self} runtime was prepared from the repository's variants/"),
                "run `latency lab` from the repository (it prepares variants/ into .cache/variants)",
            ),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::NodeJs => "Node.js",
            Language::Cpp => "C++",
        })
    }
}

/// How an architecture is stood up locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployment {
    /// `replicas` × `latency serve`, behind the lab's load balancer when `balanced`
    /// (one VM; a Fargate task behind an ALB; a Kubernetes Deployment behind a
    /// LoadBalancer Service).
    Servers {
        /// How many server processes (at least one).
        replicas: usize,
        /// Whether requests go through the lab's load balancer.
        balanced: bool,
        /// Where the counter lives (shared by the replicas).
        counter: CounterBackend,
    },
    /// A handler on the local function platform, behind its API Gateway front.
    Function {
        /// Which configured runtime runs it.
        language: Language,
        /// Where the counter lives.
        counter: CounterBackend,
    },
    /// One server process other than `latency serve` (the study's FastAPI server): the
    /// program configured for the row's id in
    /// [`LabConfig::server_programs`](crate::LabConfig::server_programs), started with
    /// `--listen 127.0.0.1:0`.
    Program {
        /// Where the counter lives.
        counter: CounterBackend,
    },
    /// A queue workload (`calc(x)` jobs) with these consumers, measured as a queue run
    /// (see [`QueueRowsConfig`](crate::QueueRowsConfig)) rather than with `GET /hits`.
    Queue(crate::QueueConsumers),
    /// Not built in this version: always skipped, with this reason.
    NotBuilt {
        /// Why, and what would enable it.
        skip: Skip,
    },
}

/// The compute a cloud row gets, applied locally as a cgroup CPU quota and memory limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Share of one CPU (1.0 = one vCPU).
    pub vcpu: f64,
    /// Memory limit, MB.
    pub memory_mb: u32,
}

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Architecture {
    /// The architecture (the same id `latency cost` prices).
    pub id: ArchitectureId,
    /// Its one description, which the lab launches from and Terraform deploys.
    pub description: &'static Description,
    /// The table's name for the row.
    pub title: &'static str,
    /// What stands for the cloud architecture on this machine.
    pub analogue: &'static str,
    /// How to start it.
    pub deployment: Deployment,
    /// The compute each server process gets (function rows take theirs from the
    /// function's memory size, as Lambda does).
    pub budget: Option<Budget>,
    /// Whether a default run includes it.
    pub default: bool,
}

impl Architecture {
    /// The row's counter, if it has one (rows not built yet have none).
    pub fn counter(&self) -> Option<CounterBackend> {
        match &self.deployment {
            Deployment::Servers { counter, .. }
            | Deployment::Function { counter, .. }
            | Deployment::Program { counter } => Some(*counter),
            Deployment::Queue(_) | Deployment::NotBuilt { .. } => None,
        }
    }

    /// The row's store mode.
    pub fn mode(&self) -> Mode {
        self.counter().map_or(Mode::Atomic, CounterBackend::mode)
    }

    /// How `--only` names this row: the id, plus `?mode=read-modify-write` for the
    /// read-modify-write variants.
    pub fn selector(&self) -> String {
        RowSelector {
            id: self.id,
            mode: self.mode(),
        }
        .to_string()
    }

    /// The stem of this row's files (`ID-sequential.json`): the id, plus `-rmw` for the
    /// read-modify-write variants (a `?` does not belong in a file name).
    pub fn file_stem(&self) -> String {
        match self.mode() {
            Mode::Atomic => self.id.to_string(),
            Mode::ReadModifyWrite => format!("{}-rmw", self.id),
        }
    }
}

/// A `--only` entry: an architecture id, optionally with `?mode=read-modify-write` (or
/// `?mode=atomic`, the default), as in a store URL. Each row has exactly one selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowSelector {
    /// The architecture.
    pub id: ArchitectureId,
    /// The store mode.
    pub mode: Mode,
}

impl RowSelector {
    /// Whether `row` is selected.
    pub fn selects(&self, row: &Architecture) -> bool {
        row.id == self.id && row.mode() == self.mode
    }
}

impl fmt::Display for RowSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            Mode::ReadModifyWrite => write!(f, "{}?mode=read-modify-write", self.id),
            Mode::Atomic => write!(f, "{}", self.id),
        }
    }
}

/// A `--only` entry that names no row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSelector {
    /// Not an architecture id (the message lists the valid ones).
    #[error(transparent)]
    Id(#[from] latency_arch::UnknownArchitecture),
    /// A `?…` part other than `mode=atomic` or `mode=read-modify-write`.
    #[error("unknown option `{0}`; expected ?mode=atomic or ?mode=read-modify-write")]
    Option(String),
}

impl FromStr for RowSelector {
    type Err = BadSelector;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (id, option) = match text.trim().split_once('?') {
            Some((id, option)) => (id, Some(option)),
            None => (text, None),
        };
        let mode = match option {
            None | Some("mode=atomic") => Mode::Atomic,
            Some("mode=read-modify-write") => Mode::ReadModifyWrite,
            Some(other) => return Err(BadSelector::Option(other.to_owned())),
        };
        Ok(RowSelector {
            id: id.parse()?,
            mode,
        })
    }
}

/// The rows `only` selects, in catalogue order, or every default row when `only` is
/// empty. Each returned row keeps its catalogue position, by which results are keyed.
pub fn select(only: &[RowSelector]) -> Vec<(usize, Architecture)> {
    catalogue()
        .into_iter()
        .enumerate()
        .filter(|(_, row)| {
            if only.is_empty() {
                row.default
            } else {
                only.iter().any(|selector| selector.selects(row))
            }
        })
        .collect()
}

/// Every architecture's description, parsed once. The files are embedded at build time,
/// and `crates/description`'s tests check that each parses, so a failure here is a build
/// of a broken checkout: it stops with the file and setting named.
pub fn descriptions() -> &'static [Description] {
    static DESCRIPTIONS: OnceLock<Vec<Description>> = OnceLock::new();
    DESCRIPTIONS.get_or_init(|| {
        Description::all().unwrap_or_else(|err| panic!("an embedded description is invalid: {err}"))
    })
}

/// The description of `id`.
fn described(id: ArchitectureId) -> &'static Description {
    descriptions()
        .iter()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("no description for {id}"))
}

/// The row's counter, as its description creates it, in `mode`.
fn counter_of(description: &Description, mode: Mode) -> CounterBackend {
    match &description.counter {
        Some(Counter::Memory) | None => CounterBackend::Memory,
        Some(Counter::File { .. }) => CounterBackend::File,
        Some(Counter::Redis { .. }) => CounterBackend::Redis,
        Some(Counter::S3Object { .. }) => CounterBackend::S3(mode),
        Some(Counter::DynamodbItem { .. }) => CounterBackend::DynamoDb(mode),
    }
}

/// How the row's description is stood up here: a function on the platform, `latency
/// serve` processes (behind the lab's balancer when the cloud has a load balancer), or
/// another server program (the FastAPI app).
fn deployment_of(description: &Description, mode: Mode) -> Deployment {
    let counter = counter_of(description, mode);
    if let Some(function) = &description.function {
        let language = match function.language {
            latency_description::Language::Rust => Language::Rust,
            latency_description::Language::Python => Language::Python,
            latency_description::Language::Nodejs => Language::NodeJs,
            latency_description::Language::Cpp => Language::Cpp,
        };
        return Deployment::Function { language, counter };
    }
    if let Some(instance) = &description.instance {
        if instance.artifact == "latency" {
            return Deployment::Servers {
                replicas: 1,
                balanced: false,
                counter,
            };
        }
        return Deployment::Program { counter };
    }
    let replicas = description
        .container
        .as_ref()
        .map_or(1, |c| c.replicas as usize);
    Deployment::Servers {
        replicas,
        balanced: description.front.kind == FrontKind::LoadBalancer,
        counter,
    }
}

/// The cloud's compute for one process: the instance's or the container's.
fn budget_of(description: &Description) -> Option<Budget> {
    if let Some(instance) = &description.instance {
        return Some(Budget {
            vcpu: instance.vcpu,
            memory_mb: instance.memory_mb,
        });
    }
    description.container.as_ref().map(|c| Budget {
        vcpu: c.vcpu,
        memory_mb: c.memory_mb,
    })
}

/// A row stood up from its description.
fn described_row(id: ArchitectureId, mode: Mode, analogue: &'static str) -> Architecture {
    let description = described(id);
    let title: &'static str = match mode {
        Mode::Atomic => &description.title,
        Mode::ReadModifyWrite => {
            static RMW_TITLES: OnceLock<Vec<(ArchitectureId, String)>> = OnceLock::new();
            let titles = RMW_TITLES.get_or_init(|| {
                descriptions()
                    .iter()
                    .map(|d| (d.id, format!("{}, read-modify-write", d.title)))
                    .collect()
            });
            titles
                .iter()
                .find(|(row, _)| *row == id)
                .map_or("", |(_, title)| title.as_str())
        }
    };
    Architecture {
        id,
        description,
        title,
        analogue,
        deployment: deployment_of(description, mode),
        budget: budget_of(description),
        default: true,
    }
}

/// Every architecture, in the table's order.
pub fn catalogue() -> Vec<Architecture> {
    use ArchitectureId as Id;
    let row = described_row;
    vec![
        row(
            Id::Ec2,
            Mode::Atomic,
            "latency serve --store memory://; the instance's vCPU and memory as a cgroup budget",
        ),
        row(
            Id::Ec2FastApi,
            Mode::Atomic,
            "the study's FastAPI server (variants/python-fastapi), file counter; the instance's vCPU and memory",
        ),
        row(
            Id::LambdaS3,
            Mode::Atomic,
            "Lambda binary on the function platform; s3:// on moto (conditional writes)",
        ),
        row(
            Id::LambdaS3,
            Mode::ReadModifyWrite,
            "as lambda-s3, with the original study's read-then-write",
        ),
        row(
            Id::LambdaDynamoDb,
            Mode::Atomic,
            "Lambda binary on the function platform; dynamodb:// on dynalite (UpdateItem ADD)",
        ),
        row(
            Id::LambdaDynamoDb,
            Mode::ReadModifyWrite,
            "as lambda-dynamodb, with the original study's read-then-write",
        ),
        // The other-language rows: their handlers (variants/) update the counter
        // atomically (UpdateItem ADD, S3 conditional writes), as the Rust handler does.
        row(
            Id::LambdaPythonS3,
            Mode::Atomic,
            "the study's Python handler on the function platform; s3:// on moto",
        ),
        row(
            Id::LambdaPythonDynamoDb,
            Mode::Atomic,
            "the study's Python handler on the function platform; dynamodb:// on dynalite",
        ),
        row(
            Id::LambdaJsDynamoDb,
            Mode::Atomic,
            "the study's Node.js handler on the function platform; dynamodb:// on dynalite",
        ),
        row(
            Id::LambdaCppDynamoDb,
            Mode::Atomic,
            "the study's C++ handler on the function platform; dynamodb:// on dynalite",
        ),
        row(
            Id::FargateEfs,
            Mode::Atomic,
            "latency serve --store file:// behind the lab's load balancer; the task's vCPU and memory",
        ),
        row(
            Id::K8s,
            Mode::Atomic,
            "the Deployment's replicas of latency serve sharing Redis, behind the lab's load balancer; each pod's CPU and memory limits",
        ),
        Architecture {
            deployment: Deployment::NotBuilt {
                skip: Skip::new(
                    "locally identical to k8s; EKS differs only in the cloud",
                    "latency lab --only k8s",
                ),
            },
            default: false,
            ..row(
                Id::K8sEks,
                Mode::Atomic,
                "locally the same as k8s (the control plane is not on the request path)",
            )
        },
        Architecture {
            deployment: Deployment::Queue(crate::QueueConsumers::SqsFunction),
            ..row(
                Id::LambdaSqs,
                Mode::Atomic,
                "calc function on the function platform behind its SQS event source (Lambda's scaling, the description's batch size); SQS on moto; done counter in Redis (no local DynamoDB-compatible server serializes transactions)",
            )
        },
        Architecture {
            deployment: Deployment::Queue(crate::QueueConsumers::RabbitMqWorkers),
            ..row(
                Id::WorkersRabbitMq,
                Mode::Atomic,
                "the description's latency worker processes on a RabbitMQ quorum queue; done counter in Redis",
            )
        },
    ]
}
