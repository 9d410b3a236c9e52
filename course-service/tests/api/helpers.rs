//! `TestApp`: a course-service on a free port with a hand-driven clock, and request helpers.

use chrono::TimeDelta;
use course_service::{
    Application, Config,
    clock::{Clock, ManualClock, SystemClock},
    store::{Inspect, SeatStore},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service_kit::{Secret, TokenKeys};
use shared_types::Role;
use std::sync::Arc;
use uuid::Uuid;

pub const SECRET: &str = "test-secret-0123456789abcdefghijklmnopqrstuvwxyz";
pub const TTL_SECS: u64 = 300;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn SeatStore>,
    pub inspect: Arc<dyn Inspect>,
    pub clock: Arc<ManualClock>,
    pub keys: TokenKeys,
    handle: actix_web::dev::ServerHandle,
}

/// A response's status and JSON body (`Value::Null` when there is none).
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

    pub fn is_problem(&self) -> bool {
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        ct.starts_with("application/problem+json")
            && self.body["status"].as_u64() == Some(u64::from(self.status.as_u16()))
            && self.body["code"].is_string()
            && self.body["title"].is_string()
            && self.body["type"].is_string()
    }

    /// Asserts a problem+json answer with `status` and `code`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.code(), code, "body: {}", self.body);
        assert!(
            self.is_problem(),
            "not problem+json: {:?} {}",
            self.headers,
            self.body
        );
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let clock = Arc::new(ManualClock::starting_now());
        TestApp::spawn_inner(adjust, clock.clone(), clock).await
    }

    /// An app on the system clock with holds lasting `ttl_secs`, for the real cron job.
    pub async fn spawn_system_clock(ttl_secs: u64) -> TestApp {
        let unused = Arc::new(ManualClock::starting_now());
        TestApp::spawn_inner(
            |c| c.reservation_ttl_secs = ttl_secs,
            Arc::new(SystemClock),
            unused,
        )
        .await
    }

    async fn spawn_inner(
        adjust: impl FnOnce(&mut Config),
        app_clock: Arc<dyn Clock>,
        clock: Arc<ManualClock>,
    ) -> TestApp {
        TestApp::try_spawn(adjust, app_clock, clock)
            .await
            .expect("build")
    }

    /// Like [`TestApp::spawn_with`], but a service that cannot start is an error, not a panic.
    pub async fn try_spawn_with(adjust: impl FnOnce(&mut Config)) -> anyhow::Result<TestApp> {
        let clock = Arc::new(ManualClock::starting_now());
        TestApp::try_spawn(adjust, clock.clone(), clock).await
    }

    async fn try_spawn(
        adjust: impl FnOnce(&mut Config),
        app_clock: Arc<dyn Clock>,
        clock: Arc<ManualClock>,
    ) -> anyhow::Result<TestApp> {
        let mut config = Config::local(Secret::new(SECRET));
        config.reservation_ttl_secs = TTL_SECS;
        config.server.http_workers = Some(2);
        if storage_kit::postgres::testing_postgres() {
            config.storage.database.database_url =
                Some(storage_kit::postgres::test_schema_url().await);
        }
        adjust(&mut config);
        let app = Application::build(&config, app_clock).await?;
        let address = format!("http://127.0.0.1:{}", app.port());
        let (store, inspect) = (app.store(), app.inspect());
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(512)
            .build()
            .expect("client");
        Ok(TestApp {
            address,
            client,
            store,
            inspect,
            clock,
            keys: TokenKeys::from_secret(SECRET).expect("keys"),
            handle,
        })
    }

    /// Stops the server and waits until it has finished.
    pub async fn stop(self) {
        let handle = self.handle.clone();
        drop(self);
        handle.stop(true).await;
    }

    pub fn token(&self, role: Role, sub: &str) -> String {
        let ttl = if role == Role::Service { 300 } else { 3600 };
        self.keys.mint(sub, role, ttl)
    }

    pub fn service(&self) -> String {
        self.token(Role::Service, "order-service")
    }

    /// Runs one full expiry sweep at the current (manual) time.
    pub async fn sweep(&self) -> course_service::store::SweepReport {
        self.store.sweep().await.expect("sweep")
    }

    /// Checks the seat counters against the reservations.
    pub async fn check_invariants(&self) {
        self.inspect
            .check_invariants()
            .await
            .expect("ledger invariants");
    }

    /// Holds waiting to expire, as the store counts them.
    pub async fn expiry_backlog(&self) -> u64 {
        self.store.totals().await.expect("totals").expiry_backlog
    }

    pub fn advance(&self, secs: i64) {
        self.clock.advance(TimeDelta::seconds(secs));
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        Reply::read(response).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, None).await
    }

    /// Creates a course owned by `instructor` and returns its JSON.
    pub async fn create_course(&self, instructor: &str, seats: u32, price_cents: i64) -> Value {
        let token = self.token(Role::Instructor, instructor);
        let body = json!({"title": "Course", "price_cents": price_cents, "seats": seats});
        let reply = self
            .send(Method::POST, "/api/courses", Some(&token), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    pub async fn course(&self, id: &str) -> Value {
        let reply = self.get(&format!("/api/courses/{id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    pub async fn hold(&self, course: &str, reservation: Uuid, student: &str) -> Reply {
        let body = json!({"student_id": student});
        let path = format!("/api/courses/{course}/reservations/{reservation}");
        self.send(Method::PUT, &path, Some(&self.service()), Some(body))
            .await
    }

    /// POSTs `action` (confirm, cancel, release) on a reservation.
    pub async fn act(&self, course: &str, reservation: Uuid, action: &str) -> Reply {
        let path = format!("/api/courses/{course}/reservations/{reservation}/{action}");
        self.send(Method::POST, &path, Some(&self.service()), None)
            .await
    }

    pub async fn reservation(&self, course: &str, reservation: Uuid) -> Reply {
        let path = format!("/api/courses/{course}/reservations/{reservation}");
        self.send(Method::GET, &path, Some(&self.service()), None)
            .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        drop(handle.stop(false));
    }
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// Asserts the seat invariant on a course body and returns (available, held, sold).
#[track_caller]
pub fn seats(course: &Value) -> (u64, u64, u64) {
    let get = |k: &str| {
        course[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} missing in {course}"))
    };
    let (total, available, held, sold) = (
        get("seats_total"),
        get("seats_available"),
        get("seats_held"),
        get("seats_sold"),
    );
    assert_eq!(available + held + sold, total, "invariant broken: {course}");
    (available, held, sold)
}

pub fn id_of(course: &Value) -> String {
    course["id"].as_str().expect("id").to_owned()
}
