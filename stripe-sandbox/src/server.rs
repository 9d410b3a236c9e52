//! Starting and stopping a sandbox: the HTTP server (the API, the hosted pages and the test
//! controls, each response stamped with a `Request-Id`), the expirer, and [`Sandbox`], the handle
//! tests and the binary hold.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::{ServerHandle, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpMessage, HttpServer, web};
use tokio::sync::watch;

use crate::api::{self, RequestId};
use crate::config::SandboxConfig;
use crate::events::API_VERSION;
use crate::shared::Shared;
use crate::{control, expiry, hosted, ids};

/// A running sandbox. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    base_url: String,
    shared: Arc<Shared>,
    server: ServerHandle,
    stop: watch::Sender<bool>,
}

/// Starts a sandbox on `config.bind` on the current Tokio runtime.
pub async fn spawn(config: SandboxConfig) -> anyhow::Result<Sandbox> {
    let listener = TcpListener::bind(config.bind)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let host = if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    };
    let base_url = format!("http://{host}");
    let public_url = config
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| base_url.clone());
    let workers = config.workers.max(1);
    let shared = Shared::new(config, public_url, tokio::runtime::Handle::current())?;
    let data = web::Data::from(Arc::clone(&shared));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .wrap_fn(|req, srv| {
                let id = ids::request();
                req.extensions_mut().insert(RequestId(id.clone()));
                let response = srv.call(req);
                async move {
                    let mut response = response.await?;
                    let headers = response.headers_mut();
                    if let Ok(value) = HeaderValue::from_str(&id) {
                        headers.insert(HeaderName::from_static("request-id"), value);
                    }
                    headers.insert(
                        HeaderName::from_static("stripe-version"),
                        HeaderValue::from_static(API_VERSION),
                    );
                    Ok(response)
                }
            })
            .configure(api::routes)
            .configure(hosted::routes)
            .configure(control::routes)
            .default_service(web::to(api::unrecognized))
    })
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(2)
    .listen(listener)?
    .run();
    let handle = server.handle();
    tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "stripe sandbox server failed");
        }
    });
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(expiry::run(Arc::downgrade(&shared), stopped));
    Ok(Sandbox {
        addr,
        base_url,
        shared,
        server: handle,
        stop,
    })
}

impl Sandbox {
    /// `http://127.0.0.1:<port>`: the API's base (`<base>/v1/...`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base of the hosted pages (sessions' `url`).
    pub fn public_url(&self) -> &str {
        &self.shared.public_url
    }

    /// The secret key it accepts.
    pub fn api_key(&self) -> &str {
        &self.shared.config.api_key
    }

    /// The secret webhook deliveries are signed with.
    pub fn webhook_secret(&self) -> &str {
        &self.shared.config.webhook_secret
    }

    /// Replaces the webhook endpoints (for events raised from now on).
    pub fn set_webhook_urls<I, S>(&self, urls: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.shared.state.lock().webhooks.urls = urls.into_iter().map(Into::into).collect();
    }

    pub fn webhook_urls(&self) -> Vec<String> {
        self.shared.state.lock().webhooks.urls.clone()
    }

    /// Expires lapsed sessions now instead of at the next tick; answers how many.
    pub fn expire_lapsed_now(&self) -> usize {
        expiry::tick(&self.shared)
    }

    /// Stops accepting requests, lets those under way finish (up to 2 s), and stops the expirer
    /// and every webhook sender.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.shared.hub.close();
        self.server.stop(true).await;
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.shared.hub.close();
        // Sends the stop command now; the returned future only waits for it to finish.
        drop(self.server.stop(false));
    }
}
