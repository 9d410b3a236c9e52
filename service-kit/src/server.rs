//! The HTTP server both services run: the same middleware, limits, extractor configuration and
//! fallback routes around each service's own routes and state.

use crate::{
    metrics::HttpMetrics,
    problem,
    rate_limit::{RateLimits, rate_limit},
    request::{BodyTimeout, request_context},
};
use actix_web::{App, HttpServer, dev::Server, middleware::from_fn, web};
use anyhow::Context;
use std::{net::TcpListener, time::Duration};

/// How often the rate limiter forgets idle callers.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

/// Settings every service's server takes.
#[derive(Debug, Clone, Copy)]
pub struct ServerOptions {
    /// Worker threads (default: one per core).
    pub workers: Option<usize>,
    /// How long a client may take to send its request head, and separately its body.
    pub client_timeout: Duration,
    /// Sustained requests per second per caller; 0 turns rate limiting off.
    pub rate_limit_rps: u32,
    /// Burst allowed above the sustained rate.
    pub rate_limit_burst: u32,
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
    let limits = web::Data::new(RateLimits::new(
        options.rate_limit_rps,
        options.rate_limit_burst,
    ));
    let forgetting = limits.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(FORGET_IDLE_EVERY);
        loop {
            ticker.tick().await;
            forgetting.forget_idle();
        }
    });
    let body_timeout = BodyTimeout(options.client_timeout);
    let metrics = web::Data::new(metrics);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(problem::fallback())
            .wrap(from_fn(rate_limit))
            .wrap(from_fn(request_context))
            .app_data(limits.clone())
            .app_data(metrics.clone())
            .app_data(web::Data::new(body_timeout))
            .app_data(problem::json_config())
            .app_data(problem::path_config())
            .app_data(problem::query_config())
            .configure(configure.clone())
            .default_service(web::to(problem::not_found))
    })
    .workers(workers)
    .client_request_timeout(options.client_timeout)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
