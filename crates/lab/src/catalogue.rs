//! The architecture catalogue: one entry per row of DESIGN.md's table.

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
    S3 {
        /// The original study's two-step read-then-write instead of a conditional write.
        read_modify_write: bool,
    },
    /// `dynamodb://` on a local DynamoDB-compatible endpoint (dynalite).
    DynamoDb {
        /// The original study's two-step read-then-write instead of one `UpdateItem ADD`.
        read_modify_write: bool,
    },
}

/// How an architecture is stood up locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployment {
    /// One `latency serve` process (a VM).
    Server {
        /// Where the counter lives.
        counter: CounterBackend,
    },
    /// `replicas` × `latency serve` behind the lab's load balancer (Fargate behind an
    /// ALB; a Kubernetes Deployment behind a LoadBalancer Service).
    Balanced {
        /// How many server processes.
        replicas: usize,
        /// Where the counter lives (shared by the replicas).
        counter: CounterBackend,
    },
    /// The Lambda binary on the local function platform, behind its API Gateway front.
    Function {
        /// Where the counter lives.
        counter: CounterBackend,
    },
    /// Not built in this version; shown in the table as skipped with this reason.
    NotBuilt {
        /// Why, and what would enable it.
        reason: &'static str,
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
    /// Short name for `--only` (e.g. `ec2`).
    pub id: &'static str,
    /// The table's name for the row.
    pub title: &'static str,
    /// What stands for the cloud architecture on this machine.
    pub analogue: &'static str,
    /// How to start it.
    pub deployment: Deployment,
    /// The compute each server process gets (function rows take theirs from the
    /// function's memory size, as Lambda does).
    pub budget: Option<Budget>,
    /// The row of `latency cost` that prices it; `None` for rows priced from measured
    /// function durations.
    pub cost_row: Option<&'static str>,
    /// Whether a default run includes it (the read-modify-write variants only make sense
    /// beside their atomic rows, and the not-built rows are listed for completeness).
    pub default: bool,
}

/// Every architecture, in the table's order.
pub fn catalogue() -> Vec<Architecture> {
    use CounterBackend::*;
    use Deployment::*;
    vec![
        Architecture {
            id: "ec2",
            title: "Server + VM (EC2)",
            analogue: "latency serve --store memory://; 1 vCPU, 1 GB (t2.micro)",
            deployment: Server { counter: Memory },
            budget: Some(Budget {
                vcpu: 1.0,
                memory_mb: 1024,
            }),
            cost_row: Some("ec2"),
            default: true,
        },
        Architecture {
            id: "lambda-s3",
            title: "Lambda + S3",
            analogue: "Lambda binary on the function platform; s3:// on moto (conditional writes)",
            deployment: Function {
                counter: S3 {
                    read_modify_write: false,
                },
            },
            budget: None,
            cost_row: None,
            default: true,
        },
        Architecture {
            id: "lambda-s3-rmw",
            title: "Lambda + S3, read-modify-write",
            analogue: "as lambda-s3, with the original study's read-then-write",
            deployment: Function {
                counter: S3 {
                    read_modify_write: true,
                },
            },
            budget: None,
            cost_row: None,
            default: true,
        },
        Architecture {
            id: "lambda-dynamodb",
            title: "Lambda + DynamoDB",
            analogue: "Lambda binary on the function platform; dynamodb:// on dynalite (UpdateItem ADD)",
            deployment: Function {
                counter: DynamoDb {
                    read_modify_write: false,
                },
            },
            budget: None,
            cost_row: None,
            default: true,
        },
        Architecture {
            id: "lambda-dynamodb-rmw",
            title: "Lambda + DynamoDB, read-modify-write",
            analogue: "as lambda-dynamodb, with the original study's read-then-write",
            deployment: Function {
                counter: DynamoDb {
                    read_modify_write: true,
                },
            },
            budget: None,
            cost_row: None,
            default: true,
        },
        Architecture {
            id: "lambda-other-languages",
            title: "Lambda JavaScript / C++ / Python + DynamoDB",
            analogue: "variants/ run by the same function platform",
            deployment: NotBuilt {
                reason: "the other-language variants (variants/) are not built yet",
            },
            budget: None,
            cost_row: None,
            default: true,
        },
        Architecture {
            id: "fargate-efs",
            title: "Fargate + EFS",
            analogue: "latency serve --store file:// behind the lab's load balancer; 0.25 vCPU, 512 MB",
            deployment: Balanced {
                replicas: 1,
                counter: File,
            },
            budget: Some(Budget {
                vcpu: 0.25,
                memory_mb: 512,
            }),
            cost_row: Some("fargate-spot"),
            default: true,
        },
        Architecture {
            id: "k8s",
            title: "Kubernetes (3 replicas)",
            analogue: "3 × latency serve sharing Redis, behind the lab's load balancer; 250m CPU each",
            deployment: Balanced {
                replicas: 3,
                counter: Redis,
            },
            budget: Some(Budget {
                vcpu: 0.25,
                memory_mb: 256,
            }),
            cost_row: Some("kubernetes-kops"),
            default: true,
        },
        Architecture {
            id: "lambda-sqs",
            title: "Lambda + SQS (queue)",
            analogue: "the function platform's queue trigger + a real queue",
            deployment: NotBuilt {
                reason: "the queue workloads (latency queue, latency worker) are not built yet",
            },
            budget: None,
            cost_row: None,
            default: true,
        },
        Architecture {
            id: "workers-rabbitmq",
            title: "Workers + RabbitMQ (queue)",
            analogue: "latency worker pool + RabbitMQ",
            deployment: NotBuilt {
                reason: "the queue workloads (latency queue, latency worker) are not built yet",
            },
            budget: None,
            cost_row: None,
            default: true,
        },
    ]
}
