//! A fault-injecting HTTP proxy placed between order-service and course-service.
//!
//! Every request is counted by method and reservation action, then handled by the first matching
//! [`Fault`] rule (each rule applies a set number of times) or forwarded untouched. The proxy can
//! be stopped (connections refused, as when course-service is down) and started again on the
//! same port.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, web};
use parking_lot::Mutex;
use std::{collections::HashMap, sync::Arc, time::Duration};

/// Which requests a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// `PUT .../reservations/{id}`
    Hold,
    /// `GET .../reservations/{id}`
    Read,
    Confirm,
    Cancel,
    Release,
    Other,
}

impl Target {
    fn of(method: &str, path: &str) -> Target {
        let on_reservation = path.contains("/reservations/");
        match (method, path.rsplit('/').next().unwrap_or("")) {
            (_, "confirm") => Target::Confirm,
            (_, "cancel") => Target::Cancel,
            (_, "release") => Target::Release,
            ("PUT", _) if on_reservation => Target::Hold,
            ("GET", _) if on_reservation => Target::Read,
            _ => Target::Other,
        }
    }
}

/// What to do to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer 503 without forwarding.
    Unavailable,
    /// Forward, let course-service apply it, then never answer (the caller times out).
    LoseResponse,
    /// Forward, then answer only after this long.
    SlowResponse(Duration),
    /// Hold the request this long before forwarding it (it arrives late at course-service).
    LateDelivery(Duration),
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<(Target, Fault, usize)>,
    counts: HashMap<Target, usize>,
}

#[derive(Debug)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    state: Mutex<State>,
}

/// The proxy; its address stays the same across stop and start.
#[derive(Debug)]
pub struct FaultProxy {
    pub address: String,
    port: u16,
    shared: Arc<Shared>,
    handle: Mutex<Option<ServerHandle>>,
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> FaultProxy {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            state: Mutex::new(State::default()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let proxy = FaultProxy {
            address: format!("http://127.0.0.1:{port}"),
            port,
            shared,
            handle: Mutex::new(None),
        };
        proxy.serve(listener);
        proxy
    }

    /// Applies `fault` to the next `times` requests of `target`.
    pub fn inject(&self, target: Target, fault: Fault, times: usize) {
        self.shared.state.lock().rules.push((target, fault, times));
    }

    /// Forgets every fault still to apply: from now on every request is forwarded untouched.
    pub fn clear(&self) {
        self.shared.state.lock().rules.clear();
    }

    /// How many requests of `target` reached the proxy.
    pub fn count(&self, target: Target) -> usize {
        self.shared
            .state
            .lock()
            .counts
            .get(&target)
            .copied()
            .unwrap_or(0)
    }

    pub fn reset_counts(&self) {
        self.shared.state.lock().counts.clear();
    }

    /// Stops listening: new connections are refused, open ones are closed.
    pub async fn stop(&self) {
        let handle = self.handle.lock().take();
        if let Some(handle) = handle {
            handle.stop(false).await;
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&self) {
        let listener = (0..100)
            .find_map(|_| {
                std::net::TcpListener::bind(("127.0.0.1", self.port))
                    .map_err(|_| std::thread::sleep(Duration::from_millis(20)))
                    .ok()
            })
            .expect("rebind the proxy port");
        self.serve(listener);
    }

    fn serve(&self, listener: std::net::TcpListener) {
        let shared = Arc::clone(&self.shared);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::from(Arc::clone(&shared)))
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(handle))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(0);
        let server = server.listen(listener).expect("listen").run();
        *self.handle.lock() = Some(server.handle());
        tokio::spawn(server);
    }
}

async fn handle(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let target = Target::of(req.method().as_str(), req.path());
    let fault = {
        let mut state = shared.state.lock();
        *state.counts.entry(target).or_default() += 1;
        let rule = state
            .rules
            .iter_mut()
            .find(|(t, _, left)| *t == target && *left > 0);
        rule.map(|(_, fault, left)| {
            *left -= 1;
            *fault
        })
    };
    match fault {
        Some(Fault::Unavailable) => HttpResponse::ServiceUnavailable().body("injected 503"),
        Some(Fault::LateDelivery(delay)) => {
            tokio::time::sleep(delay).await;
            forward(&req, body, &shared).await
        }
        Some(Fault::LoseResponse) => {
            let _applied = forward(&req, body, &shared).await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            HttpResponse::GatewayTimeout().finish()
        }
        Some(Fault::SlowResponse(delay)) => {
            let response = forward(&req, body, &shared).await;
            tokio::time::sleep(delay).await;
            response
        }
        None => forward(&req, body, &shared).await,
    }
}

async fn forward(req: &HttpRequest, body: web::Bytes, shared: &Shared) -> HttpResponse {
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let url = format!("{}{}{}", shared.upstream, req.path(), query);
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).expect("method");
    let mut upstream = shared.client.request(method, url).body(body.to_vec());
    for (name, value) in req.headers() {
        if name != "host" && name != "content-length" && name != "connection" {
            upstream = upstream.header(name.as_str(), value.as_bytes());
        }
    }
    match upstream.send().await {
        Ok(response) => {
            let mut out = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(response.status().as_u16()).expect("status"),
            );
            for (name, value) in response.headers() {
                if name != "content-length" && name != "connection" && name != "transfer-encoding" {
                    out.insert_header((name.as_str(), value.as_bytes()));
                }
            }
            out.body(response.bytes().await.unwrap_or_default().to_vec())
        }
        Err(_) => HttpResponse::BadGateway().body("upstream unreachable"),
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.lock().take() {
            drop(handle.stop(false));
        }
    }
}
