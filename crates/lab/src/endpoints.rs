//! The store endpoints the rows share during one lab run: Redis (the machine's), and the
//! S3- and DynamoDB-compatible servers (moto, dynalite), started on first use and
//! stopped when the run ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use latency_description::{Counter, KeyType};

use crate::catalogue::{Architecture, CounterBackend, Mode};
use crate::error::Skip;
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
    /// moto with atomic S3 conditional writes (`scripts/moto-atomic.py`, installed by
    /// `scripts/services install`): plain `moto_server` lets two concurrent If-Match PUTs
    /// both succeed, which would show as duplicate counter values.
    fn moto_server(&self) -> PathBuf {
        self.cache_dir.join("moto-venv/bin/moto_server_atomic")
    }

    fn dynalite_js(&self) -> PathBuf {
        self.cache_dir.join("dynalite/serve.js")
    }

    /// How long installing may take before the rows that need it are skipped.
    const INSTALL_DEADLINE: Duration = Duration::from_secs(900);

    /// Installs moto and dynalite with `scripts/services install` when one is missing.
    async fn install(&self) -> Result<(), Skip> {
        if self.moto_server().exists() && self.dynalite_js().exists() {
            return Ok(());
        }
        let Some(script) = &self.services_script else {
            return Err(Skip::new(
                format!(
                    "moto and dynalite are not installed under {}",
                    self.cache_dir.display()
                ),
                "scripts/services install (from the repository)",
            ));
        };
        tracing::info!("installing moto and dynalite (first run only)");
        let run = tokio::process::Command::new(script)
            .arg("install")
            .kill_on_drop(true)
            .output();
        let reason = match tokio::time::timeout(Self::INSTALL_DEADLINE, run).await {
            Ok(Ok(output)) if output.status.success() => return Ok(()),
            Ok(Ok(output)) => format!(
                "`{} install` failed: {}",
                script.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Ok(Err(err)) => format!("cannot run {}: {err}", script.display()),
            Err(_) => format!(
                "`{} install` took longer than {:?}",
                script.display(),
                Self::INSTALL_DEADLINE
            ),
        };
        Err(Skip::new(reason, format!("{} install", script.display())))
    }
}

/// One kind of endpoint: not tried yet, up, or unavailable (with the reason).
enum Slot {
    Untried,
    Up(Box<Supervised>),
    Unavailable(Skip),
}

/// The endpoints of one lab run.
pub(crate) struct Endpoints {
    run_id: String,
    state_dir: PathBuf,
    tools: EndpointTools,
    redis: Option<Result<(), Skip>>,
    /// The Redis keys handed out, deleted when the run ends.
    redis_keys: Vec<String>,
    moto: Slot,
    dynalite: Slot,
    /// With `--cloud`: the delay proxies every store call goes through.
    cloud: Option<crate::cloud::StoreProxies>,
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
            redis_keys: Vec::new(),
            moto: Slot::Untried,
            dynalite: Slot::Untried,
            cloud: None,
        }
    }

    /// Routes every store URL handed out from now on through `proxies` (`--cloud`).
    pub(crate) fn set_cloud(&mut self, proxies: crate::cloud::StoreProxies) {
        self.cloud = Some(proxies);
    }

    /// Turns the store proxies' delays on (a row's cloud runs) or off (its local runs).
    pub(crate) fn set_cloud_delays(&mut self, on: bool) {
        if let Some(proxies) = &mut self.cloud {
            proxies.set_delays(on);
        }
    }

    /// `endpoint` (`http://IP:PORT`), through the cloud's proxy for `counter`'s hop
    /// when there is one.
    async fn through_cloud(
        &mut self,
        counter: CounterBackend,
        endpoint: String,
    ) -> Result<String, Skip> {
        match (&mut self.cloud, crate::cloud::store_hop(counter)) {
            (Some(proxies), Some(hop)) => proxies.url(hop, &endpoint).await,
            _ => Ok(endpoint),
        }
    }

    /// A fresh name for `row`'s resources (table, bucket, Redis key prefix, data
    /// directory). The pid lets a later run tell a dead run's leftovers from a live run's.
    fn resource_name(&self, row: &Architecture) -> String {
        format!(
            "{REDIS_KEY_PREFIX}{}-{}-{}",
            std::process::id(),
            self.run_id,
            row.file_stem()
        )
    }

    /// For a function row: creates its counter as the deploy does (counter.created_by =
    /// "deploy": the table with the description's key and key type and the item at 0, or
    /// the bucket and the object at 0), and returns the values of the description's
    /// templates and the local endpoint its AWS URLs need. The function itself is never
    /// asked to create anything, exactly as in the cloud.
    pub(crate) async fn provision(&mut self, row: &Architecture) -> Result<Provisioned, Skip> {
        let name = self.resource_name(row);
        let counter = row.counter().unwrap_or(CounterBackend::Memory);
        let (create_url, values, endpoint) = match &row.description.counter {
            Some(Counter::DynamodbItem {
                table,
                key_value,
                attribute,
                ..
            }) => {
                let declared = row.description.tables.get(table).ok_or_else(|| {
                    Skip::new(
                        format!(
                            "{}: counter.table `{table}` is not declared",
                            row.description.file()
                        ),
                        "fix the description",
                    )
                })?;
                let key_type = match declared.key_type {
                    KeyType::N => "N",
                    KeyType::S => "S",
                };
                let endpoint = self.dynalite().await?;
                let url = format!(
                    "dynamodb://{name}?endpoint={endpoint}&region={REGION}&key={}&key_value={key_value}\
                     &key_type={key_type}&attribute={attribute}&create=true",
                    declared.key
                );
                (
                    url,
                    BTreeMap::from([("counter_table", name.clone())]),
                    endpoint,
                )
            }
            Some(Counter::S3Object { key, .. }) => {
                let endpoint = self.moto().await?;
                let url =
                    format!("s3://{name}/{key}?endpoint={endpoint}&region={REGION}&create=true");
                (
                    url,
                    BTreeMap::from([("counter_bucket", name.clone())]),
                    endpoint,
                )
            }
            other => {
                return Err(Skip::new(
                    format!(
                        "{}: a function row's counter must be an S3 object or a DynamoDB item, not {other:?}",
                        row.description.file()
                    ),
                    "fix the description",
                ));
            }
        };
        // Created directly, not through the cloud's delay proxy: the deploy's own calls
        // are not part of what is measured.
        if let Err(err) = latency_store::from_url(&create_url).await {
            return Err(Skip::new(
                format!("cannot create the counter as the deploy does: {err}"),
                "scripts/services install",
            ));
        }
        let endpoint = self.through_cloud(counter, endpoint).await?;
        Ok(Provisioned {
            values,
            endpoint: Some(endpoint),
        })
    }

    /// For a server row: the values of its description's templates here (Redis's
    /// address, through the cloud's proxy with `--cloud`; a fresh data directory under
    /// `state_dir`; port 0), and the prefix the row's Redis keys get so that runs never
    /// share a counter.
    pub(crate) async fn server_values(&mut self, row: &Architecture) -> Result<ServerValues, Skip> {
        let name = self.resource_name(row);
        let data_dir = self.state_dir.join(row.file_stem());
        std::fs::create_dir_all(&data_dir).map_err(|err| {
            Skip::new(
                format!("cannot create {}: {err}", data_dir.display()),
                "check the output directory's permissions",
            )
        })?;
        let mut values = BTreeMap::from([
            ("port", "0".to_owned()),
            ("data_dir", data_dir.display().to_string()),
        ]);
        if matches!(row.description.counter, Some(Counter::Redis { .. })) {
            if self.redis.is_none() {
                self.redis = Some(redis_reachable().await);
            }
            if let Some(Err(skip)) = &self.redis {
                return Err(skip.clone());
            }
            let address = self
                .through_cloud(CounterBackend::Redis, format!("http://{REDIS_ADDRESS}"))
                .await?;
            values.insert(
                "redis_address",
                address.trim_start_matches("http://").to_owned(),
            );
        }
        Ok(ServerValues {
            values,
            key_prefix: format!("{name}-"),
        })
    }

    /// Records a Redis key a row uses, for deletion when the run ends.
    pub(crate) fn track_redis_key(&mut self, key: String) {
        self.redis_keys.push(key);
    }

    /// The store URL for `row`'s counter (a fresh counter per row), or why it cannot be
    /// had here.
    pub(crate) async fn store_url(
        &mut self,
        row: &Architecture,
        counter: CounterBackend,
    ) -> Result<String, Skip> {
        // The pid lets a later run tell a dead run's leftovers from a live run's.
        let name = format!(
            "{REDIS_KEY_PREFIX}{}-{}-{}",
            std::process::id(),
            self.run_id,
            row.file_stem()
        );
        match counter {
            CounterBackend::Memory => Ok("memory://".to_owned()),
            CounterBackend::File => Ok(format!(
                "file://{}",
                self.state_dir
                    .join(format!("{}-hits", row.file_stem()))
                    .display()
            )),
            CounterBackend::Redis => {
                if self.redis.is_none() {
                    self.redis = Some(redis_reachable().await);
                }
                match &self.redis {
                    Some(Ok(())) => {
                        self.redis_keys.push(name.clone());
                        let address = self
                            .through_cloud(counter, format!("http://{REDIS_ADDRESS}"))
                            .await?;
                        let address = address.trim_start_matches("http://");
                        Ok(format!("redis://{address}/0?key={name}"))
                    }
                    Some(Err(skip)) => Err(skip.clone()),
                    None => Err(Skip::new("Redis was not checked", "")),
                }
            }
            CounterBackend::S3(mode) => {
                let endpoint = self.moto().await?;
                let endpoint = self.through_cloud(counter, endpoint).await?;
                Ok(format!(
                    "s3://{name}/hits?endpoint={endpoint}&region={REGION}&create=true{}",
                    mode_param(mode)
                ))
            }
            CounterBackend::DynamoDb(mode) => {
                let endpoint = self.dynalite().await?;
                let endpoint = self.through_cloud(counter, endpoint).await?;
                Ok(format!(
                    "dynamodb://{name}?endpoint={endpoint}&region={REGION}&create=true{}",
                    mode_param(mode)
                ))
            }
        }
    }

    /// moto's address (S3 and SQS), started on first use.
    pub(crate) async fn moto(&mut self) -> Result<String, Skip> {
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

    async fn dynalite(&mut self) -> Result<String, Skip> {
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

    /// Stops the endpoints this run started and deletes the Redis keys it created.
    pub(crate) async fn stop(self) {
        for slot in [self.moto, self.dynalite] {
            if let Slot::Up(process) = slot {
                process.stop().await;
            }
        }
        if !self.redis_keys.is_empty()
            && let Err(err) = delete_redis_keys(&self.redis_keys).await
        {
            tracing::warn!(keys = ?self.redis_keys, %err, "could not delete the lab's Redis keys");
        }
    }
}

/// What a function row's description needs here: its template values and the local
/// endpoint of its AWS URLs.
pub(crate) struct Provisioned {
    /// `counter_table` or `counter_bucket`: the fresh name the counter was created under.
    pub(crate) values: BTreeMap<&'static str, String>,
    /// The S3- or DynamoDB-compatible endpoint (through the cloud's proxy with `--cloud`).
    pub(crate) endpoint: Option<String>,
}

/// What a server row's description needs here.
pub(crate) struct ServerValues {
    /// `port`, `data_dir` and, for a Redis counter, `redis_address`.
    pub(crate) values: BTreeMap<&'static str, String>,
    /// Prefixed to every Redis key the row's arguments name.
    pub(crate) key_prefix: String,
}

async fn start_slot(what: &str, program: &Path, args: &[&str], on_stderr: bool) -> Slot {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    match Supervised::start(what, program, &args, &[], on_stderr).await {
        Ok(process) => Slot::Up(Box::new(process)),
        Err(err) => Slot::Unavailable(Skip::new(err.to_string(), "scripts/services install")),
    }
}

fn slot_address(slot: &Slot) -> Result<String, Skip> {
    match slot {
        Slot::Up(process) => Ok(process.base_url.clone()),
        Slot::Unavailable(skip) => Err(skip.clone()),
        Slot::Untried => Err(Skip::new("the endpoint was not started", "")),
    }
}

fn mode_param(mode: Mode) -> &'static str {
    match mode {
        Mode::ReadModifyWrite => "&mode=read-modify-write",
        Mode::Atomic => "",
    }
}

/// The machine's Redis, on its standard port.
const REDIS_ADDRESS: &str = "127.0.0.1:6379";

/// Every Redis key the lab creates starts with this, then `<pid>-`.
pub(crate) const REDIS_KEY_PREFIX: &str = "latency-lab-";

/// Redis on its standard port, as the machine's service.
async fn redis_reachable() -> Result<(), Skip> {
    match tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(REDIS_ADDRESS),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        _ => Err(Skip::new(
            format!("Redis is not answering on {REDIS_ADDRESS}"),
            "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''",
        )),
    }
}

async fn redis_connection() -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://{REDIS_ADDRESS}/0"))?;
    let connect = client.get_multiplexed_async_connection();
    tokio::time::timeout(Duration::from_secs(2), connect)
        .await
        .map_err(|_| {
            redis::RedisError::from((redis::ErrorKind::IoError, "connecting to Redis timed out"))
        })?
}

pub(crate) async fn delete_redis_keys(keys: &[String]) -> redis::RedisResult<()> {
    let mut connection = redis_connection().await?;
    redis::cmd("DEL")
        .arg(keys)
        .query_async::<()>(&mut connection)
        .await
}

/// Deletes the `latency-lab-<pid>-…` keys of lab runs whose process is gone (killed
/// before it could clean up), and returns how many. Keys of live runs are kept: several
/// labs may share the machine's Redis. Without Redis there is nothing to sweep.
pub(crate) async fn sweep_dead_redis_keys() -> usize {
    let Ok(mut connection) = redis_connection().await else {
        return 0;
    };
    let keys: Vec<String> = match redis::cmd("KEYS")
        .arg(format!("{REDIS_KEY_PREFIX}*"))
        .query_async(&mut connection)
        .await
    {
        Ok(keys) => keys,
        Err(_) => return 0,
    };
    let dead: Vec<String> = keys
        .into_iter()
        .filter(|key| {
            crate::process::owner_pid(key, REDIS_KEY_PREFIX)
                .is_some_and(|pid| !crate::process::is_alive(pid))
        })
        .collect();
    if dead.is_empty() {
        return 0;
    }
    // Another run may sweep the same keys at the same time: a failed DEL removed none.
    redis::cmd("DEL")
        .arg(&dead)
        .query_async::<usize>(&mut connection)
        .await
        .unwrap_or_default()
}
