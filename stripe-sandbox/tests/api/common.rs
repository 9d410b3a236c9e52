//! What the HTTP tests share: a sandbox on a free port with a client that speaks Stripe's form
//! encoding, and a webhook receiver that records deliveries and can be told to fail.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use parking_lot::Mutex;
use serde_json::Value;
use stripe_sandbox::{Sandbox, SandboxConfig};

pub struct Env {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
    pub base: String,
}

/// An answer: status, headers (lower-case names) and the body as JSON (Null if not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub text: String,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// `error.<field>` of a Stripe error body.
    pub fn error(&self, field: &str) -> &Value {
        &self.body["error"][field]
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let text = response.text().await.expect("read the body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        body,
    }
}

pub fn encode(pairs: &[(&str, String)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        form.append_pair(k, v);
    }
    form.finish()
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A valid session: one line item of 49.00 usd, an order id in metadata and
/// `client_reference_id`, and a success URL with the `{CHECKOUT_SESSION_ID}` template.
pub fn session_form(order: &str) -> Vec<(&'static str, String)> {
    vec![
        ("mode", "payment".into()),
        ("line_items[0][price_data][currency]", "usd".into()),
        ("line_items[0][price_data][unit_amount]", "4900".into()),
        (
            "line_items[0][price_data][product_data][name]",
            "Async Rust".into(),
        ),
        ("line_items[0][quantity]", "1".into()),
        (
            "success_url",
            "http://shop.test/done?session_id={CHECKOUT_SESSION_ID}".into(),
        ),
        ("cancel_url", "http://shop.test/cancelled".into()),
        ("client_reference_id", order.into()),
        ("metadata[order_id]", order.into()),
        ("expires_at", (now() + 3600).to_string()),
    ]
}

impl Env {
    pub async fn start() -> Self {
        Self::start_with(SandboxConfig::local()).await
    }

    pub async fn start_with(config: SandboxConfig) -> Self {
        let sandbox = stripe_sandbox::spawn(config)
            .await
            .expect("start the sandbox");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        let base = sandbox.base_url().to_owned();
        Self {
            sandbox,
            http,
            base,
        }
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.sandbox.api_key())
    }

    /// A form POST with the right key, and an idempotency key if given.
    pub fn post_request(
        &self,
        path: &str,
        pairs: &[(&str, String)],
        key: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Authorization", self.auth())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(encode(pairs));
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request
    }

    pub async fn post(&self, path: &str, pairs: &[(&str, String)], key: Option<&str>) -> Reply {
        reply(
            self.post_request(path, pairs, key)
                .send()
                .await
                .expect("send"),
        )
        .await
    }

    pub async fn get(&self, path_and_query: &str) -> Reply {
        let response = self
            .http
            .get(format!("{}{path_and_query}", self.base))
            .header("Authorization", self.auth())
            .send()
            .await
            .expect("send");
        reply(response).await
    }

    /// A JSON POST to a `/_sandbox/` control; it must answer 200.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/_sandbox/{path}", self.base))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("send");
        let r = reply(response).await;
        assert_eq!(r.status, 200, "control {path}: {}", r.text);
        r.body
    }

    pub async fn events(&self) -> Vec<Value> {
        let r = reply(
            self.http
                .get(format!("{}/_sandbox/events", self.base))
                .send()
                .await
                .expect("send"),
        )
        .await;
        r.body["data"].as_array().cloned().unwrap_or_default()
    }

    /// Creates a session for `order`; it must succeed.
    pub async fn create_session(&self, order: &str) -> Value {
        let r = self
            .post("/v1/checkout/sessions", &session_form(order), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }

    /// Pays a session through the control API and answers it.
    pub async fn pay(&self, id: &str) -> Value {
        self.control(&format!("checkout/{id}/pay"), Value::Null)
            .await
    }
}

/// Waits (a bounded time) until `check` holds.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: not within {within:?}");
}

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Inbox {
    hits: Mutex<Vec<Hit>>,
    /// Statuses to answer before answering 200 again.
    plan: Mutex<VecDeque<u16>>,
    /// How long each delivery waits before it is answered, in ms.
    stall_ms: std::sync::atomic::AtomicU64,
}

/// A webhook endpoint on a free port.
pub struct Receiver {
    pub url: String,
    inbox: Arc<Inbox>,
    handle: actix_web::dev::ServerHandle,
}

async fn receive(req: HttpRequest, body: web::Bytes, inbox: web::Data<Inbox>) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    inbox.hits.lock().push(Hit {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let status = inbox.plan.lock().pop_front().unwrap_or(200);
    let stall = inbox.stall_ms.load(std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(stall)).await;
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status")).finish()
}

impl Receiver {
    pub async fn start() -> Self {
        let inbox = Arc::new(Inbox::default());
        let data = web::Data::from(Arc::clone(&inbox));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/webhook", listener.local_addr().expect("addr"));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url, inbox, handle }
    }

    /// Every delivery from now on is answered only after `ms` milliseconds.
    pub fn stall(&self, ms: u64) {
        self.inbox
            .stall_ms
            .store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// The next `statuses.len()` deliveries are answered with these statuses.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.inbox.plan.lock().extend(statuses);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.inbox.hits.lock().clone()
    }

    /// Waits (at most `within`) for `n` deliveries and answers them all.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Hit> {
        eventually(&format!("{n} deliveries"), within, || async {
            self.inbox.hits.lock().len() >= n
        })
        .await;
        self.hits()
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}
