//! Serving the HTTP fronts: the API Gateway front ([`crate::gateway`]) and the Invoke API
//! ([`crate::invoke_api`]) on a listener, with a handle to stop them.

use std::net::SocketAddr;

use axum::Router;
use latency_app::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::PlatformError;
use crate::gateway::{GatewayOptions, gateway_router};
use crate::invoke_api::invoke_router;
use crate::platform::Platform;

/// A running front: its bound address, and how to stop it.
pub struct FrontServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl FrontServer {
    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, for clients and SDK endpoints.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for requests in flight to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for FrontServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on `listener` with `latency serve`'s server loop
/// ([`latency_app::serve_with`]): a connection that does not finish a request head within
/// the header-read timeout, or idles past the idle timeout, is closed, and requests
/// hyper cannot parse get Invoke's JSON error answer. (`axum::serve` has neither timeout:
/// slowloris and idle connections were held for ever.)
async fn spawn_server(
    listener: TcpListener,
    router: Router,
    what: &'static str,
    server: ServerConfig,
) -> Result<FrontServer, PlatformError> {
    let addr = listener
        .local_addr()
        .map_err(|source| PlatformError::Bind { what, source })?;
    let config = ServerConfig {
        // The gateway's `requestContext.http.sourceIp`.
        connect_info: true,
        parse_error: crate::invoke_api::parse_error_answer,
        ..server
    };
    config
        .validate()
        .map_err(|err| PlatformError::InvalidConfig(format!("{what}: {err}")))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let stopped = async {
            let _ = stopped.await;
        };
        if let Err(err) = latency_app::serve_with(listener, router, config, stopped).await {
            tracing::warn!(%err, "front stopped");
        }
    });
    Ok(FrontServer {
        addr,
        stop: Some(stop),
        task,
    })
}

impl Platform {
    /// Serves, on `listener`, an API Gateway HTTP API in front of `function` with
    /// [`GatewayOptions::default`]: see [`Platform::serve_gateway_with`].
    ///
    /// # Errors
    /// [`PlatformError::UnknownFunction`], or [`PlatformError::Bind`] when the listener's
    /// address cannot be read.
    pub async fn serve_gateway(
        &self,
        function: &str,
        listener: TcpListener,
    ) -> Result<FrontServer, PlatformError> {
        self.serve_gateway_with(function, listener, GatewayOptions::default())
            .await
    }

    /// Serves, on `listener`, an API Gateway HTTP API in front of `function`: the Invoke
    /// API answers under `/2015-03-31/functions/`, `GET /` returns
    /// [`GatewayOptions::index_page`] when set, and every other request becomes a payload
    /// 2.0 event for `function`, whose response becomes the HTTP response. A function
    /// error, its timeout or a malformed response gives 500
    /// `{"message":"Internal Server Error"}`; a wait past
    /// [`GatewayOptions::integration_timeout`] gives 503
    /// `{"message":"Service Unavailable"}`, as HTTP APIs answer.
    ///
    /// Connections are bounded by [`GatewayOptions::server`] (header-read and idle
    /// timeouts) and request bodies by [`GatewayOptions::body_read_timeout`].
    ///
    /// # Errors
    /// [`PlatformError::UnknownFunction`], [`PlatformError::Bind`] when the listener's
    /// address cannot be read, or [`PlatformError::InvalidConfig`] for unusable connection
    /// limits.
    pub async fn serve_gateway_with(
        &self,
        function: &str,
        listener: TcpListener,
        options: GatewayOptions,
    ) -> Result<FrontServer, PlatformError> {
        let server = options.server.clone();
        let router = gateway_router(self.handle(), function, options)?;
        spawn_server(listener, router, "the API Gateway front", server).await
    }

    /// Serves only Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`)
    /// on `listener`, for aws-sdk-lambda and the AWS CLI.
    ///
    /// Another path gets 404 `UnknownOperationException`, JSON like every Invoke error.
    ///
    /// # Errors
    /// [`PlatformError::Bind`] when the listener's address cannot be read.
    pub async fn serve_invoke_api(
        &self,
        listener: TcpListener,
    ) -> Result<FrontServer, PlatformError> {
        // Only here: the gateway front merges the Invoke API with its own fallback.
        let router = invoke_router(self.handle()).fallback(crate::invoke_api::unknown_operation);
        spawn_server(listener, router, "the Invoke API", ServerConfig::default()).await
    }
}
