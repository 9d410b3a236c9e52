//! The HTTP server both services run: the same middleware, limits, extractor configuration and
//! fallback routes around each service's own routes and state.

use crate::connection::ProblemStream;
use crate::{
    metrics::HttpMetrics,
    problem,
    rate_limit::{RateLimits, rate_limit},
    request::{BodyTimeout, ServiceName, request_context},
};
use actix_http::{HttpService, error::DispatchError};
use actix_rt::net::TcpStream;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::{
    App,
    dev::{AppConfig, Server},
    middleware::from_fn,
    web,
};
use anyhow::Context;
use std::{future::ready, net::TcpListener, time::Duration};

/// How long a graceful stop waits for requests in flight.
const SHUTDOWN_TIMEOUT_SECS: u64 = 30;

/// How often the rate limiter forgets idle callers.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

/// Settings every service's server takes.
#[derive(Debug, Clone, Copy)]
pub struct ServerOptions {
    /// The service's name, on every request's log line (several services may share a process).
    pub service: &'static str,
    /// Worker threads (default: one per core).
    pub workers: Option<usize>,
    /// How long a client may take to send its request head, and separately its body.
    pub client_timeout: Duration,
    /// Sustained requests per second per caller; 0 turns rate limiting off.
    pub rate_limit_rps: u32,
    /// Burst allowed above the sustained rate.
    pub rate_limit_burst: u32,
    /// Paths no rate limit applies to: routes whose callers prove who they are otherwise and
    /// retry on their own schedule (a payment provider's signed webhooks, all sent from a few
    /// addresses, would otherwise share one anonymous per-IP budget).
    pub unlimited_paths: &'static [&'static str],
}

/// The HTTP settings every service (and the launcher) takes, flattened into its configuration:
/// written once, so `--help` says the same everywhere.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "HTTP_WORKERS")]
    pub http_workers: Option<usize>,
    /// Requests per second allowed per caller (per subject, or per IP when anonymous); service
    /// tokens are exempt; 0 turns rate limiting off.
    #[arg(long, env = "RATE_LIMIT_RPS", default_value_t = 50)]
    pub rate_limit_rps: u32,
    /// Requests a caller may burst above the sustained rate.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,
    /// How long a client may take to send a request's head, and then its body, in milliseconds.
    #[arg(long, env = "CLIENT_TIMEOUT_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub client_timeout_ms: u64,
}

impl ServerArgs {
    /// For an in-process run: no rate limiting, the defaults for the rest.
    pub fn local() -> Self {
        ServerArgs {
            http_workers: None,
            rate_limit_rps: 0,
            rate_limit_burst: 100,
            client_timeout_ms: 5000,
        }
    }

    /// The server's options for `service`.
    pub fn options(&self, service: &'static str) -> ServerOptions {
        ServerOptions {
            service,
            workers: self.http_workers,
            client_timeout: Duration::from_millis(self.client_timeout_ms),
            rate_limit_rps: self.rate_limit_rps,
            rate_limit_burst: self.rate_limit_burst,
            unlimited_paths: &[],
        }
    }
}

/// Binds `host:port` (port 0 picks a free one) and returns the listener with its port.
pub fn bind(host: &str, port: u16) -> anyhow::Result<(TcpListener, u16)> {
    let address = format!("{host}:{port}");
    let listener =
        TcpListener::bind(&address).with_context(|| format!("cannot listen on {address}"))?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}

/// A server on `listener`. `configure` registers the service's app data and routes; everything
/// else (request ids, access logs and request metrics, rate limiting, client timeouts, problem+json
/// for framework errors, 404 for unknown routes) is the same for every service. Signals are left to the caller,
/// which stops the server through its handle.
pub fn serve<F>(
    listener: TcpListener,
    options: &ServerOptions,
    metrics: HttpMetrics,
    configure: F,
) -> std::io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let workers = options
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let limits = web::Data::new(
        RateLimits::new(options.rate_limit_rps, options.rate_limit_burst)
            .except(options.unlimited_paths),
    );
    let forgetting = limits.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(FORGET_IDLE_EVERY);
        loop {
            ticker.tick().await;
            forgetting.forget_idle();
        }
    });
    let body_timeout = BodyTimeout(options.client_timeout);
    let service = ServiceName(options.service);
    let metrics = web::Data::new(metrics);
    let client_timeout = options.client_timeout;
    let app = move || {
        App::new()
            .wrap(problem::fallback())
            .wrap(from_fn(rate_limit))
            .wrap(from_fn(request_context))
            .app_data(limits.clone())
            .app_data(metrics.clone())
            .app_data(web::Data::new(body_timeout))
            .app_data(web::Data::new(service))
            .app_data(problem::json_config())
            .app_data(problem::path_config())
            .app_data(problem::query_config())
            .configure(configure.clone())
            .default_service(web::to(problem::not_found))
    };
    // actix-web's own server, assembled from its parts so that each connection passes through
    // [`ProblemStream`] (which gives actix-http's bodiless 400, 408 and 431 a problem+json body).
    let server = actix_server::Server::build()
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .listen("http", listener, move || {
            let app = app()
                .into_factory()
                .map_err(|e: actix_web::Error| e.error_response());
            let http = HttpService::build()
                .client_request_timeout(client_timeout)
                .h1(map_config(app, |_| AppConfig::default()));
            fn_service(|stream: TcpStream| {
                let peer = stream.peer_addr().ok();
                let _ = stream.set_nodelay(true);
                ready(Ok::<_, DispatchError>((ProblemStream::new(stream), peer)))
            })
            .and_then(http)
        })?
        .run();
    Ok(server)
}
