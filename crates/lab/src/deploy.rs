//! Standing up one architecture: its endpoints, its processes, its front door.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use latency_balancer::Balancer;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::catalogue::{Architecture, CounterBackend, Deployment};
use crate::process::Supervised;
use crate::{LabConfig, LabError};

/// A row that is up: where to send requests, and what to stop afterwards.
pub(crate) struct Running {
    /// The URL requests go to (`…/hits` is appended by the runner).
    pub(crate) base_url: String,
    servers: Vec<Supervised>,
    balancer: Option<oneshot::Sender<()>>,
}

impl Running {
    /// Stops everything this row started.
    pub(crate) async fn stop(self) {
        if let Some(stop) = self.balancer {
            let _ = stop.send(());
        }
        for server in self.servers {
            server.stop().await;
        }
    }
}

/// What deploying a row came to.
pub(crate) enum Deployed {
    Running(Running),
    /// Not measured: why, and the command that enables it.
    Skipped(String),
}

/// Endpoints shared by the rows of one lab run, started on first use.
pub(crate) struct Endpoints {
    run_id: String,
    state_dir: PathBuf,
    redis: Option<Result<(), String>>,
}

impl Endpoints {
    pub(crate) fn new(run_id: String, state_dir: PathBuf) -> Self {
        Self {
            run_id,
            state_dir,
            redis: None,
        }
    }

    /// The store URL for `row`'s counter, or why it cannot be had here.
    async fn store_url(
        &mut self,
        row: &Architecture,
        counter: CounterBackend,
    ) -> Result<String, String> {
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
                    Some(Ok(())) => Ok(format!(
                        "redis://127.0.0.1:6379/0?key=latency-lab-{}-{}",
                        self.run_id, row.id
                    )),
                    Some(Err(reason)) => Err(reason.clone()),
                    None => Err("Redis was not checked".to_owned()),
                }
            }
            CounterBackend::S3 { .. } | CounterBackend::DynamoDb { .. } => {
                Err("the function platform that runs the Lambda rows is not built yet".to_owned())
            }
        }
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

/// Starts `row`; the caller measures it and then calls [`Running::stop`].
pub(crate) async fn deploy(
    row: &Architecture,
    config: &LabConfig,
    endpoints: &mut Endpoints,
) -> Result<Deployed, LabError> {
    match &row.deployment {
        Deployment::NotBuilt { reason } => Ok(Deployed::Skipped((*reason).to_owned())),
        Deployment::Function { .. } => Ok(Deployed::Skipped(
            "the function platform that runs the Lambda rows is not built yet".to_owned(),
        )),
        Deployment::Server { counter } => {
            let store = match endpoints.store_url(row, *counter).await {
                Ok(url) => url,
                Err(reason) => return Ok(Deployed::Skipped(reason)),
            };
            let server = start_server(row, &config.latency_exe, &store, 0).await?;
            Ok(Deployed::Running(Running {
                base_url: server.base_url.clone(),
                servers: vec![server],
                balancer: None,
            }))
        }
        Deployment::Balanced { replicas, counter } => {
            let store = match endpoints.store_url(row, *counter).await {
                Ok(url) => url,
                Err(reason) => return Ok(Deployed::Skipped(reason)),
            };
            let mut servers = Vec::with_capacity(*replicas);
            for replica in 0..*replicas {
                servers.push(start_server(row, &config.latency_exe, &store, replica).await?);
            }
            let backends = servers
                .iter()
                .map(|s| socket_address(&s.base_url))
                .collect::<Result<Vec<_>, _>>()?;
            let (base_url, stop) = start_balancer(backends).await?;
            Ok(Deployed::Running(Running {
                base_url,
                servers,
                balancer: Some(stop),
            }))
        }
    }
}

async fn start_server(
    row: &Architecture,
    latency_exe: &Path,
    store: &str,
    replica: usize,
) -> Result<Supervised, LabError> {
    let args = ["serve", "--listen", "127.0.0.1:0", "--store", store].map(str::to_owned);
    Supervised::start(
        &format!("{} server #{}", row.id, replica + 1),
        latency_exe,
        &args,
        &[],
        false,
    )
    .await
}

async fn start_balancer(
    backends: Vec<SocketAddr>,
) -> Result<(String, oneshot::Sender<()>), LabError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(LabError::Socket)?;
    let address = listener.local_addr().map_err(LabError::Socket)?;
    let balancer = Balancer::new(backends).map_err(|err| LabError::StartFailed {
        what: "load balancer".to_owned(),
        detail: err.to_string(),
    })?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(balancer.serve(listener, async {
        let _ = stopped.await;
    }));
    Ok((format!("http://{address}"), stop))
}

fn socket_address(base_url: &str) -> Result<SocketAddr, LabError> {
    base_url
        .trim_start_matches("http://")
        .parse()
        .map_err(|_| LabError::StartFailed {
            what: "server".to_owned(),
            detail: format!("printed an address that is not IP:port: {base_url}"),
        })
}
