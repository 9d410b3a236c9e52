//! `TestApp`: an order-service over HTTP on a free port, built around the fake course-service (and
//! the fake payment provider when asked for), keeping its state in the embedded store under a
//! temporary `DATA_DIR`, or in a fresh PostgreSQL schema when `TEST_BACKEND=postgres`; stopped
//! and started again on the same data, as after a restart.

use crate::{fake::FakeCourseClient, fake_payments::FakePayments};
use actix_web::dev::ServerHandle;
use order_service::{
    Application, Config,
    clock::SystemClock,
    config::PaymentArgs,
    domain::{Order, StudentId},
    payment_client::PaymentClient,
    repo::testing::Inspect,
};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use service_kit::{Secret, TokenKeys};
use shared_types::Role;
use std::{future::Future, sync::Arc, time::Duration};
use storage_kit::journal::StorageMode;
use tokio::task::JoinHandle;

pub const SECRET: &str = "order-test-secret-4f9c2a7e1b0d6385ca1e9b7f20d4c6a8";

/// How long a test waits for something the service does in the background.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Where an app keeps its state, kept across restarts.
struct Place {
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

/// How to build the app.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Collect payments through the fake provider.
    pub payments: bool,
    /// Follow the fake's event feed (`WAITLIST_FOLLOW`).
    pub follow: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            payments: false,
            follow: true,
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub course: Arc<FakeCourseClient>,
    pub payments: Option<Arc<FakePayments>>,
    pub inspect: Arc<dyn Inspect>,
    keys: TokenKeys,
    handle: ServerHandle,
    running: JoinHandle<std::io::Result<()>>,
    place: Place,
    options: Options,
}

/// A response's status, headers and JSON body (`Value::Null` when there is none).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts a problem+json answer with `status` and `code`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("application/problem+json"));
        assert_eq!(self.body["status"], status);
    }
}

impl TestApp {
    /// An app following the fake's feed, confirming seats without payment.
    pub async fn spawn(course: Arc<FakeCourseClient>) -> TestApp {
        TestApp::spawn_with(course, Options::default()).await
    }

    pub async fn spawn_with(course: Arc<FakeCourseClient>, options: Options) -> TestApp {
        let database_url = if storage_kit::postgres::testing_postgres() {
            Some(storage_kit::postgres::test_schema_url().await)
        } else {
            None
        };
        let place = Place {
            dir: tempfile::tempdir().expect("tempdir"),
            database_url,
        };
        let payments = options.payments.then(|| Arc::new(FakePayments::default()));
        TestApp::start(course, payments, place, options).await
    }

    async fn start(
        course: Arc<FakeCourseClient>,
        payments: Option<Arc<FakePayments>>,
        place: Place,
        options: Options,
    ) -> TestApp {
        let mut config = Config::local(Secret::new(SECRET), "http://127.0.0.1:9");
        config.server.http_workers = Some(2);
        config.storage.mode = StorageMode::Embedded;
        config.storage.data_dir = place.dir.path().to_owned();
        config.storage.database.database_url = place.database_url.clone();
        config.waitlist.waitlist_follow = options.follow;
        if payments.is_some() {
            config.payments = PaymentArgs::stripe(
                "http://127.0.0.1:9",
                Secret::new("sk_test_fake"),
                Secret::new("whsec_fake"),
            );
        }
        let provider = payments.clone().map(|p| p as Arc<dyn PaymentClient>);
        let app = Application::build_with_clients(
            &config,
            course.clone(),
            provider,
            Arc::new(SystemClock),
        )
        .await
        .expect("build");
        let address = format!("http://127.0.0.1:{}", app.port());
        let (inspect, handle) = (app.inspect(), app.handle());
        let running = tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            http: reqwest::Client::new(),
            course,
            payments,
            inspect,
            keys: TokenKeys::from_secret(SECRET).expect("keys"),
            handle,
            running,
            place,
            options,
        }
    }

    /// Stops the service (gracefully, as on SIGTERM), lets `meanwhile` happen at course-service,
    /// and starts the service again on the same data and fakes.
    pub async fn restart_after(self, meanwhile: impl FnOnce(&FakeCourseClient)) -> TestApp {
        let TestApp {
            course,
            payments,
            handle,
            running,
            place,
            options,
            ..
        } = self;
        handle.stop(true).await;
        running.await.expect("joined").expect("stopped cleanly");
        meanwhile(&course);
        TestApp::start(course, payments, place, options).await
    }

    /// A second replica on the same database and fakes (PostgreSQL only).
    pub async fn replica(&self) -> TestApp {
        let place = Place {
            dir: tempfile::tempdir().expect("tempdir"),
            database_url: self.place.database_url.clone(),
        };
        assert!(place.database_url.is_some(), "replicas share a database");
        let (course, payments) = (self.course.clone(), self.payments.clone());
        TestApp::start(course, payments, place, self.options).await
    }

    pub fn token(&self, sub: &str, role: Role) -> String {
        self.keys.mint(sub, role, 240)
    }

    /// A request with `token` (none: anonymous) and an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answered");
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A request by student `who`.
    pub async fn student(
        &self,
        who: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let token = self.token(who, Role::Student);
        self.call(method, path, Some(&token), body).await
    }

    /// Every order of `student`, oldest first.
    pub async fn orders_of(&self, student: &str) -> Vec<Order> {
        let who = StudentId::new(student);
        let mut all: Vec<Order> = self.inspect.all().await.expect("all");
        all.retain(|o| o.student == who);
        all.sort_by_key(|o| o.id);
        all
    }
}

/// `probe`'s value once it is `Some`, asking again every 10 ms for at most [`PATIENCE`].
pub async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, probe: impl Fn() -> F) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
