//! The store endpoints the rows share during one lab run: Redis (the machine's), and the
//! S3- and DynamoDB-compatible servers (moto, dynalite), started on first use and
//! stopped when the run ends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::catalogue::{Architecture, CounterBackend};
use crate::process::Supervised;

/// Where the lab finds (and, with the repository's script, installs) moto and dynalite.
#[derive(Debug, Clone)]
pub struct EndpointTools {
    /// The cache directory holding `moto-venv/` and `dynalite/` (the repository's
    /// `.cache`).
    pub cache_dir: PathBuf,
    /// `scripts/services`, which installs them there; `None` outside the repository.
    pub services_script: Option<PathBuf>,
}

impl EndpointTools {
    fn moto_server(&self) -> PathBuf {
        self.cache_dir.join("moto-venv/bin/moto_server")
    }

    fn dynalite_js(&self) -> PathBuf {
        self.cache_dir.join("dynalite/serve.js")
    }

    /// How long installing may take before the rows that need it are skipped.
    const INSTALL_DEADLINE: Duration = Duration::from_secs(900);

    /// Installs moto and dynalite with `scripts/services install` when one is missing.
    async fn install(&self) -> Result<(), String> {
        if self.moto_server().exists() && self.dynalite_js().exists() {
            return Ok(());
        }
        let Some(script) = &self.services_script else {
            return Err(format!(
                "moto and dynalite are not installed under {}; from the repository, run: scripts/services install",
                self.cache_dir.display()
            ));
        };
        tracing::info!("installing moto and dynalite (first run only)");
        let run = tokio::process::Command::new(script)
            .arg("install")
            .kill_on_drop(true)
            .output();
        match tokio::time::timeout(Self::INSTALL_DEADLINE, run).await {
            Ok(Ok(output)) if output.status.success() => Ok(()),
            Ok(Ok(output)) => Err(format!(
                "`{} install` failed: {}",
                script.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            )),
            Ok(Err(err)) => Err(format!("cannot run {}: {err}", script.display())),
            Err(_) => Err(format!(
                "`{} install` took longer than {:?}",
                script.display(),
                Self::INSTALL_DEADLINE
            )),
        }
    }
}

/// One kind of endpoint: not tried yet, up, or unavailable (with the reason).
enum Slot {
    Untried,
    Up(Box<Supervised>),
    Unavailable(String),
}

/// The endpoints of one lab run.
pub(crate) struct Endpoints {
    run_id: String,
    state_dir: PathBuf,
    tools: EndpointTools,
    redis: Option<Result<(), String>>,
    moto: Slot,
    dynalite: Slot,
}

/// Test credentials for the local endpoints (moto and dynalite accept any).
pub(crate) const LOCAL_AWS_CREDENTIALS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "latency-lab"),
    ("AWS_SECRET_ACCESS_KEY", "latency-lab"),
];

const REGION: &str = "eu-west-2";

impl Endpoints {
    pub(crate) fn new(run_id: String, state_dir: PathBuf, tools: EndpointTools) -> Self {
        Self {
            run_id,
            state_dir,
            tools,
            redis: None,
            moto: Slot::Untried,
            dynalite: Slot::Untried,
        }
    }

    /// The store URL for `row`'s counter (a fresh counter per row), or why it cannot be
    /// had here.
    pub(crate) async fn store_url(
        &mut self,
        row: &Architecture,
        counter: CounterBackend,
    ) -> Result<String, String> {
        let name = format!("latency-lab-{}-{}", self.run_id, row.id);
        match counter {
            CounterBackend::Memory => Ok("memory://".to_owned()),
            CounterBackend::File => Ok(format!(
                "file://{}",
                self.state_dir.join(format!("{}-hits", row.id)).display()
            )),
            CounterBackend::Redis => {
                if self.redis.is_none() {
                    self.redis = Some(redis_reachable().await);
                }
                match &self.redis {
                    Some(Ok(())) => Ok(format!("redis://127.0.0.1:6379/0?key={name}")),
                    Some(Err(reason)) => Err(reason.clone()),
                    None => Err("Redis was not checked".to_owned()),
                }
            }
            CounterBackend::S3 { read_modify_write } => {
                let endpoint = self.moto().await?;
                Ok(format!(
                    "s3://{name}/hits?endpoint={endpoint}&region={REGION}&create=true{}",
                    mode_param(read_modify_write)
                ))
            }
            CounterBackend::DynamoDb { read_modify_write } => {
                let endpoint = self.dynalite().await?;
                Ok(format!(
                    "dynamodb://{name}?endpoint={endpoint}&region={REGION}&create=true{}",
                    mode_param(read_modify_write)
                ))
            }
        }
    }

    async fn moto(&mut self) -> Result<String, String> {
        if matches!(self.moto, Slot::Untried) {
            self.moto = match self.tools.install().await {
                Err(reason) => Slot::Unavailable(reason),
                Ok(()) => {
                    start_slot(
                        "moto (S3)",
                        &self.tools.moto_server(),
                        &["-H", "127.0.0.1", "-p", "0"],
                        true,
                    )
                    .await
                }
            };
        }
        slot_address(&self.moto)
    }

    async fn dynalite(&mut self) -> Result<String, String> {
        if matches!(self.dynalite, Slot::Untried) {
            self.dynalite = match self.tools.install().await {
                Err(reason) => Slot::Unavailable(reason),
                Ok(()) => {
                    let script = self.tools.dynalite_js().display().to_string();
                    start_slot("dynalite (DynamoDB)", Path::new("node"), &[&script], false).await
                }
            };
        }
        slot_address(&self.dynalite)
    }

    /// Stops the endpoints this run started.
    pub(crate) async fn stop(self) {
        for slot in [self.moto, self.dynalite] {
            if let Slot::Up(process) = slot {
                process.stop().await;
            }
        }
    }
}

async fn start_slot(what: &str, program: &Path, args: &[&str], on_stderr: bool) -> Slot {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    match Supervised::start(what, program, &args, &[], on_stderr).await {
        Ok(process) => Slot::Up(Box::new(process)),
        Err(err) => Slot::Unavailable(err.to_string()),
    }
}

fn slot_address(slot: &Slot) -> Result<String, String> {
    match slot {
        Slot::Up(process) => Ok(process.base_url.clone()),
        Slot::Unavailable(reason) => Err(reason.clone()),
        Slot::Untried => Err("the endpoint was not started".to_owned()),
    }
}

fn mode_param(read_modify_write: bool) -> &'static str {
    if read_modify_write {
        "&mode=read-modify-write"
    } else {
        ""
    }
}

/// Redis on its standard port, as the machine's service.
async fn redis_reachable() -> Result<(), String> {
    let address = "127.0.0.1:6379";
    match tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(address),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        _ => Err(format!(
            "Redis is not answering on {address}; start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''"
        )),
    }
}
