//! `TestCluster`: course-service and order-service in this process on free ports, with tokens,
//! an HTTP client, handles on both services' state, and the checks every test ends with.

use crate::oidc::TestProvider;
use crate::proxy::FaultProxy;
use course_service::{
    clock::SystemClock,
    store::{Inspect, SeatStore},
};
use order_service::{
    config::PaymentArgs,
    repo::{OrderRepo, testing::Inspect as OrderInspect},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service_kit::{Secret, TokenKeys, auth::provider::OidcArgs};
use shared_types::{Order, OrderStatus, Role};
use std::{sync::Arc, time::Duration};
use storage_kit::journal::{Faults, StorageMode};
use uuid::Uuid;

pub const SECRET: &str = "e2e-secret-0123456789abcdefghijklmnopqrstuvwxyz";

/// How to assemble the cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Put a [`FaultProxy`] between the services.
    pub proxy: bool,
    pub course_timeout_ms: u64,
    pub course_retry_max: u32,
    pub order_deadline_ms: u64,
    pub reconcile_interval_ms: u64,
    pub reservation_ttl_secs: u64,
    /// Keep course-service's state in the embedded store under this directory, with these storage
    /// faults (whatever TEST_BACKEND says).
    pub course_disk: Option<(std::path::PathBuf, Faults)>,
    /// The same for order-service.
    pub order_disk: Option<(std::path::PathBuf, Faults)>,
    /// Collect payments through a local Stripe sandbox (`PAYMENT_PROVIDER=stripe`).
    pub payments: bool,
    /// order-service's rate limit per caller (requests per second, burst); none by default.
    pub order_rate_limit: Option<(u32, u32)>,
    /// Accept an OpenID Connect provider's tokens (both services). Unset, and `TEST_IDENTITY=oidc`
    /// in the environment, the cluster starts a [`TestProvider`] and every student and instructor
    /// token the tests use comes from it.
    pub oidc: Option<OidcArgs>,
    /// Where the checkout sends a student after paying (with `payments`).
    pub checkout_success_url: Option<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            proxy: false,
            course_timeout_ms: 2000,
            course_retry_max: 3,
            order_deadline_ms: 8000,
            reconcile_interval_ms: 100,
            reservation_ttl_secs: 300,
            course_disk: None,
            order_disk: None,
            payments: false,
            order_rate_limit: None,
            oidc: None,
            checkout_success_url: None,
        }
    }
}

impl ClusterOptions {
    /// Short timeouts, for fault tests.
    pub fn with_faults() -> Self {
        ClusterOptions {
            proxy: true,
            course_timeout_ms: 300,
            course_retry_max: 2,
            order_deadline_ms: 4000,
            reconcile_interval_ms: 100,
            reservation_ttl_secs: 300,
            course_disk: None,
            order_disk: None,
            payments: false,
            order_rate_limit: None,
            oidc: None,
            checkout_success_url: None,
        }
    }
}

/// A response's status, headers and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.code(), code, "{}", self.body);
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            ct.starts_with("application/problem+json"),
            "content-type {ct}"
        );
    }

    pub fn order_id(&self) -> Uuid {
        self.body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("order id")
    }
}

pub struct TestCluster {
    pub course_url: String,
    pub order_url: String,
    pub client: reqwest::Client,
    pub keys: TokenKeys,
    pub store: Arc<dyn SeatStore>,
    pub inspect: Arc<dyn Inspect>,
    /// order-service's repository, and its contents for checks.
    pub orders: Arc<dyn OrderRepo>,
    pub order_contents: Arc<dyn OrderInspect>,
    pub proxy: Option<FaultProxy>,
    /// The Stripe sandbox order-service collects payments through, when asked for.
    pub sandbox: Option<stripe_sandbox::Sandbox>,
    /// The identity provider user tokens come from (`TEST_IDENTITY=oidc`), and the tokens it gave.
    pub provider: Option<Arc<TestProvider>>,
    provider_tokens: parking_lot::Mutex<std::collections::HashMap<(Role, String), String>>,
    handles: Vec<actix_web::dev::ServerHandle>,
}

/// Whether the tests' user tokens come from an OpenID Connect provider (`TEST_IDENTITY=oidc`).
pub fn provider_identity() -> bool {
    std::env::var("TEST_IDENTITY").is_ok_and(|v| v == "oidc")
}

impl TestCluster {
    pub async fn spawn() -> TestCluster {
        TestCluster::spawn_with(ClusterOptions::default()).await
    }

    pub async fn spawn_with(mut options: ClusterOptions) -> TestCluster {
        let provider = if options.oidc.is_none() && provider_identity() {
            let provider = TestProvider::start().await;
            options.oidc = Some(OidcArgs::provider(&provider.issuer, crate::oidc::AUDIENCE));
            Some(Arc::new(provider))
        } else {
            None
        };
        let mut course_config = course_service::Config::local(Secret::new(SECRET));
        if let Some(oidc) = &options.oidc {
            course_config.oidc = oidc.clone();
        }
        course_config.reservation_ttl_secs = options.reservation_ttl_secs;
        course_config.server.http_workers = Some(2);
        if storage_kit::postgres::testing_postgres() {
            course_config.storage.database.database_url =
                Some(storage_kit::postgres::test_schema_url().await);
        }
        if let Some((dir, faults)) = &options.course_disk {
            course_config.storage.database.database_url = None;
            course_config.storage.mode = StorageMode::Embedded;
            course_config.storage.data_dir = dir.clone();
            course_config.storage.faults = faults.clone();
        }
        let courses = course_service::Application::build(&course_config, Arc::new(SystemClock))
            .await
            .expect("course-service");
        let course_url = format!("http://127.0.0.1:{}", courses.port());
        let proxy = if options.proxy {
            Some(FaultProxy::start(&course_url).await)
        } else {
            None
        };
        let upstream = proxy
            .as_ref()
            .map_or(course_url.clone(), |p| p.address.clone());

        let sandbox = if options.payments {
            let config = stripe_sandbox::SandboxConfig::local();
            Some(stripe_sandbox::spawn(config).await.expect("Stripe sandbox"))
        } else {
            None
        };
        let mut order_config = order_service::Config::local(Secret::new(SECRET), upstream);
        if let Some(sandbox) = &sandbox {
            order_config.payments = PaymentArgs::stripe(
                sandbox.base_url(),
                Secret::new(sandbox.api_key()),
                Secret::new(sandbox.webhook_secret()),
            );
            order_config.payments.payment_poll_secs = 1;
            if let Some(url) = &options.checkout_success_url {
                order_config.payments.checkout_success_url = url.clone();
            }
            order_config.payments.payment_timeout_ms = 2000;
            order_config.payments.payment_retry_max = 1;
        }
        if let Some(oidc) = &options.oidc {
            order_config.oidc = oidc.clone();
        }
        order_config.course_timeout_ms = options.course_timeout_ms;
        order_config.course_retry_max = options.course_retry_max;
        order_config.order_deadline_ms = options.order_deadline_ms;
        order_config.reconcile_interval_ms = options.reconcile_interval_ms;
        order_config.server.http_workers = Some(2);
        if let Some((rps, burst)) = options.order_rate_limit {
            order_config.server.rate_limit_rps = rps;
            order_config.server.rate_limit_burst = burst;
        }
        if storage_kit::postgres::testing_postgres() {
            order_config.storage.database.database_url =
                Some(storage_kit::postgres::test_schema_url().await);
        }
        if let Some((dir, faults)) = &options.order_disk {
            order_config.storage.database.database_url = None;
            order_config.storage.mode = StorageMode::Embedded;
            order_config.storage.data_dir = dir.clone();
            order_config.storage.faults = faults.clone();
        }
        let orders = order_service::Application::build(
            &order_config,
            Arc::new(order_service::clock::SystemClock),
        )
        .await
        .expect("order-service");
        let order_url = format!("http://127.0.0.1:{}", orders.port());
        if let Some(sandbox) = &sandbox {
            sandbox.set_webhook_urls([format!("{order_url}/api/payments/stripe/webhook")]);
        }

        let (store, inspect, order_repo, order_contents) = (
            courses.store(),
            courses.inspect(),
            orders.orders(),
            orders.inspect(),
        );
        let handles = vec![courses.handle(), orders.handle()];
        tokio::spawn(courses.run_until_stopped());
        tokio::spawn(orders.run_until_stopped());
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            // Well under the servers' 5 s keep-alive: a connection the server is closing is never
            // picked for a request (which would fail with an incomplete message).
            .pool_idle_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        TestCluster {
            course_url,
            order_url,
            client,
            keys: TokenKeys::from_secret(SECRET).expect("keys"),
            store,
            inspect,
            orders: order_repo,
            order_contents,
            proxy,
            sandbox,
            provider,
            provider_tokens: parking_lot::Mutex::new(Default::default()),
            handles,
        }
    }

    pub fn sandbox(&self) -> &stripe_sandbox::Sandbox {
        self.sandbox
            .as_ref()
            .expect("cluster started with payments")
    }

    /// A call to the sandbox's Stripe API (`GET` when `form` is `None`) with its secret key.
    pub async fn stripe(&self, path: &str, form: Option<&[(&str, &str)]>) -> Value {
        let sandbox = self.sandbox();
        let url = format!("{}{path}", sandbox.base_url());
        let request = match form {
            Some(form) => self.client.post(url).form(form),
            None => self.client.get(url),
        };
        let response = request
            .bearer_auth(sandbox.api_key())
            .send()
            .await
            .expect("sandbox answers");
        response.json().await.expect("json")
    }

    /// A test control of the sandbox (`/_sandbox/...`).
    pub async fn sandbox_control(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/_sandbox/{path}", self.sandbox().base_url());
        let response = self
            .client
            .post(url)
            .json(&body)
            .send()
            .await
            .expect("sent");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    /// The order once `done` holds for its JSON (polled, at most `secs` seconds).
    pub async fn order_until(
        &self,
        student: &str,
        id: Uuid,
        secs: u64,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let order = self.get_order(student, id).await.body;
            if done(&order) || std::time::Instant::now() > deadline {
                return order;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn proxy(&self) -> &FaultProxy {
        self.proxy.as_ref().expect("cluster started with a proxy")
    }

    /// A token for `sub` with `role`: signed with the shared secret, or for a student or an
    /// instructor, with `TEST_IDENTITY=oidc`, issued by the identity provider through its
    /// authorization-code flow (once per user; the grant runs on its own thread so that this can
    /// be called anywhere).
    pub fn token(&self, role: Role, sub: &str) -> String {
        match &self.provider {
            Some(provider) if role != Role::Service => {
                let key = (role, sub.to_owned());
                if let Some(token) = self.provider_tokens.lock().get(&key) {
                    return token.clone();
                }
                let token = std::thread::scope(|scope| {
                    scope
                        .spawn(|| {
                            tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                                .expect("runtime")
                                .block_on(provider.token(sub, &[role]))
                        })
                        .join()
                        .expect("token grant")
                });
                let header = jsonwebtoken::decode_header(&token).expect("a JWT");
                assert_eq!(
                    header.alg,
                    jsonwebtoken::Algorithm::RS256,
                    "the provider's token"
                );
                self.provider_tokens.lock().insert(key, token.clone());
                token
            }
            _ => {
                let ttl = if role == Role::Service { 300 } else { 3600 };
                self.keys.mint(sub, role, ttl)
            }
        }
    }

    pub async fn send(
        &self,
        method: Method,
        url: String,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request sent");
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = response.bytes().await.expect("body");
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Creates a course and returns its id.
    pub async fn create_course(&self, seats: u32, price_cents: i64) -> Uuid {
        let token = self.token(Role::Instructor, "alice");
        let body = json!({"title": "Course", "price_cents": price_cents, "seats": seats});
        let reply = self
            .send(
                Method::POST,
                format!("{}/api/courses", self.course_url),
                Some(&token),
                Some(body),
                &[],
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("course id")
    }

    pub async fn course(&self, id: Uuid) -> Value {
        self.send(
            Method::GET,
            format!("{}/api/courses/{id}", self.course_url),
            None,
            None,
            &[],
        )
        .await
        .body
    }

    /// `POST /api/orders` as `student`, with optional extra headers.
    pub async fn order(&self, student: &str, body: Value, headers: &[(&str, &str)]) -> Reply {
        let token = self.token(Role::Student, student);
        self.send(
            Method::POST,
            format!("{}/api/orders", self.order_url),
            Some(&token),
            Some(body),
            headers,
        )
        .await
    }

    pub async fn buy(&self, student: &str, course: Uuid) -> Reply {
        self.order(student, json!({"course_id": course}), &[]).await
    }

    /// Buys a seat as a client following the contract would: a 202 (pending past the deadline) is
    /// followed with `GET /api/orders/{id}` until the order settles (bounded: 60 s). Answers the
    /// outcome as (status of the final answer, code): 201 "" for confirmed, the problem's status
    /// and code for a refusal, and for a followed order 201 "" or 409 with its failure code.
    pub async fn buy_and_settle(&self, student: &str, course: Uuid) -> (StatusCode, String) {
        let reply = self.buy(student, course).await;
        if reply.status != StatusCode::ACCEPTED {
            return (reply.status, reply.code().to_owned());
        }
        let id = reply.order_id();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let read = self.get_order(student, id).await;
            match read.body["status"].as_str() {
                Some("confirmed") => return (StatusCode::CREATED, String::new()),
                Some("failed") => {
                    let code = read.body["failure_code"].as_str().unwrap_or("");
                    return (StatusCode::CONFLICT, code.to_owned());
                }
                Some("pending") if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                _ => return (read.status, format!("unsettled: {}", read.body)),
            }
        }
    }

    pub async fn get_order(&self, student: &str, id: Uuid) -> Reply {
        let token = self.token(Role::Student, student);
        self.send(
            Method::GET,
            format!("{}/api/orders/{id}", self.order_url),
            Some(&token),
            None,
            &[],
        )
        .await
    }

    pub async fn cancel_order(&self, student: &str, id: Uuid) -> Reply {
        let token = self.token(Role::Student, student);
        self.send(
            Method::POST,
            format!("{}/api/orders/{id}/cancel", self.order_url),
            Some(&token),
            None,
            &[],
        )
        .await
    }

    /// The reservation behind an order, as course-service stores it (`None` if it has none).
    pub async fn reservation_of(&self, order: &Order) -> Option<Value> {
        let url = format!(
            "{}/api/courses/{}/reservations/{}",
            self.course_url, order.course_id, order.reservation_id
        );
        let reply = self
            .send(
                Method::GET,
                url,
                Some(&self.token(Role::Service, "checker")),
                None,
                &[],
            )
            .await;
        (reply.status == StatusCode::OK).then_some(reply.body)
    }

    /// Every order order-service keeps, in its wire form.
    pub async fn all_orders(&self) -> Vec<Order> {
        let orders = self.order_contents.all().await.expect("orders");
        orders.iter().map(|o| o.to_wire()).collect()
    }

    /// Waits until no order is pending (bounded), then checks every order against course-service:
    /// no confirmed order without a sold seat, no seat held or sold without a confirmed order, and
    /// the seat invariant on every course given. Returns the confirmed orders per course.
    pub async fn settle_and_check(&self, courses: &[Uuid]) -> Vec<usize> {
        let started = std::time::Instant::now();
        while self.orders.work_count().await.expect("work count") > 0 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "orders still pending after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let orders = self.all_orders().await;
        for order in &orders {
            let reservation = self.reservation_of(order).await;
            let status = reservation
                .as_ref()
                .and_then(|r| r["status"].as_str().map(str::to_owned));
            match order.status {
                OrderStatus::Confirmed => assert_eq!(
                    status.as_deref(),
                    Some("confirmed"),
                    "confirmed order {} without a sold seat",
                    order.id
                ),
                OrderStatus::Failed | OrderStatus::Cancelled | OrderStatus::Refunded => assert!(
                    !matches!(status.as_deref(), Some("held" | "confirmed")),
                    "{:?} order {} still has a {status:?} seat",
                    order.status,
                    order.id
                ),
                OrderStatus::Pending | OrderStatus::AwaitingPayment => {
                    unreachable!("waited for orders with work left")
                }
            }
        }
        let mut confirmed = Vec::new();
        for course in courses {
            let c = self.course(*course).await;
            let n = orders
                .iter()
                .filter(|o| o.course_id == *course && o.status == OrderStatus::Confirmed)
                .count();
            assert_eq!(c["seats_held"], 0, "a seat is held without an order: {c}");
            assert_eq!(
                c["seats_sold"].as_u64(),
                Some(n as u64),
                "sold seats differ from confirmed orders: {c}"
            );
            let sum = ["seats_available", "seats_held", "seats_sold"]
                .iter()
                .map(|k| c[*k].as_u64().unwrap_or(0))
                .sum::<u64>();
            assert_eq!(
                Some(sum),
                c["seats_total"].as_u64(),
                "invariant broken: {c}"
            );
            confirmed.push(n);
        }
        self.inspect
            .check_invariants()
            .await
            .expect("ledger invariants");
        confirmed
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for handle in &self.handles {
            drop(handle.stop(false));
        }
    }
}
