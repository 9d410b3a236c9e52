//! The HTTP server both services run: the same middleware, extractor configuration and fallback
//! routes around each service's own routes and state.

use crate::{problem, request::request_context};
use actix_web::{App, HttpServer, dev::Server, middleware::from_fn, web};
use anyhow::Context;
use std::net::TcpListener;

/// Binds `host:port` (port 0 picks a free one) and returns the listener with its port.
pub fn bind(host: &str, port: u16) -> anyhow::Result<(TcpListener, u16)> {
    let address = format!("{host}:{port}");
    let listener =
        TcpListener::bind(&address).with_context(|| format!("cannot listen on {address}"))?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}

/// A server on `listener` with `workers` threads (default: one per core). `configure` registers
/// the service's app data and routes; everything else (request ids and access logs, problem+json
/// for framework errors, 404 for unknown routes) is the same for every service. Signals are left to
/// the caller, which stops the server through its handle.
pub fn serve<F>(
    listener: TcpListener,
    workers: Option<usize>,
    configure: F,
) -> std::io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let workers =
        workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let server = HttpServer::new(move || {
        App::new()
            .wrap(problem::fallback())
            .wrap(from_fn(request_context))
            .app_data(problem::json_config())
            .app_data(problem::path_config())
            .app_data(problem::query_config())
            .configure(configure.clone())
            .default_service(web::to(problem::not_found))
    })
    .workers(workers)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
