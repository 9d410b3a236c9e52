//! Checkout across crashes, with the real binaries as processes and the Stripe sandbox in this
//! process: order-service killed with SIGKILL between "paid" and "confirmed", course-service
//! killed around the confirm, and payments that arrive after the hold lapsed (while order-service
//! was down), with and without a free seat to take. After every restart each paid session ends
//! with exactly one seat or exactly one refund, and the seat invariant holds.
//!
//! On the embedded store by default; with `TEST_BACKEND=postgres` both services keep their state
//! in a fresh schema of `TEST_DATABASE_URL`.

use e2e_tests::procs::ServiceProcess;
use e2e_tests::{Fault, FaultProxy, Target};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service_kit::TokenKeys;
use shared_types::Role;
use std::time::{Duration, Instant};
use uuid::Uuid;

const SECRET: &str = "payments-crash-secret-0123456789abcdefghijklmno";

/// Both services as processes, order-service reaching course-service through a fault proxy and
/// collecting payments through the sandbox, which sends its webhooks to order-service.
struct Shop {
    sandbox: stripe_sandbox::Sandbox,
    proxy: FaultProxy,
    course: ServiceProcess,
    orders: ServiceProcess,
    client: reqwest::Client,
    keys: TokenKeys,
    _dir: tempfile::TempDir,
}

/// Where a service keeps its state: a schema of `TEST_DATABASE_URL` under
/// `TEST_BACKEND=postgres`, else a directory of its own under `dir`.
async fn storage(dir: &std::path::Path, name: &str) -> (&'static str, String) {
    if std::env::var("TEST_BACKEND").as_deref() == Ok("postgres") {
        (
            "DATABASE_URL",
            storage_kit::postgres::test_schema_url().await,
        )
    } else {
        let path = dir.join(name);
        std::fs::create_dir_all(&path).expect("data dir");
        ("DATA_DIR", path.display().to_string())
    }
}

impl Shop {
    /// Holds last `ttl_secs`; order-service looks at an unpaid session every `poll_secs`.
    async fn start(ttl_secs: u64, poll_secs: u64) -> Shop {
        let dir = tempfile::tempdir().expect("tempdir");
        let sandbox = stripe_sandbox::spawn(stripe_sandbox::SandboxConfig::local())
            .await
            .expect("sandbox");
        let course = ServiceProcess::start(
            "course-service",
            &[
                ("AUTH_JWT_SECRET", SECRET.into()),
                ("RESERVATION_TTL_SECS", ttl_secs.to_string()),
                ("RATE_LIMIT_RPS", "0".into()),
                storage(dir.path(), "course").await,
            ],
        );
        let proxy = FaultProxy::start(&course.base()).await;
        let orders = ServiceProcess::start(
            "order-service",
            &[
                ("AUTH_JWT_SECRET", SECRET.into()),
                ("COURSE_SERVICE_URL", proxy.address.clone()),
                ("COURSE_TIMEOUT_MS", "300".into()),
                ("COURSE_RETRY_MAX", "2".into()),
                ("ORDER_DEADLINE_MS", "3000".into()),
                ("RECONCILE_INTERVAL_MS", "100".into()),
                ("RATE_LIMIT_RPS", "0".into()),
                ("PAYMENT_PROVIDER", "stripe".into()),
                ("STRIPE_API_BASE", sandbox.base_url().to_owned()),
                ("STRIPE_SECRET_KEY", sandbox.api_key().to_owned()),
                ("STRIPE_WEBHOOK_SECRET", sandbox.webhook_secret().to_owned()),
                ("PAYMENT_POLL_SECS", poll_secs.to_string()),
                storage(dir.path(), "orders").await,
            ],
        );
        sandbox.set_webhook_urls([format!("{}/api/payments/stripe/webhook", orders.base())]);
        Shop {
            sandbox,
            proxy,
            course,
            orders,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            keys: TokenKeys::from_secret(SECRET).expect("keys"),
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: Method,
        url: String,
        token: Option<String>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        e2e_tests::procs::call(&self.client, method, url, token, body, None).await
    }

    fn token(&self, role: Role, sub: &str) -> Option<String> {
        let lifetime = if role == Role::Service { 300 } else { 3600 };
        Some(self.keys.mint(sub, role, lifetime))
    }

    async fn create_course(&self, seats: u32, price_cents: i64) -> Uuid {
        let body = json!({"title": "Paid", "price_cents": price_cents, "seats": seats});
        let url = format!("{}/api/courses", self.course.base());
        let token = self.token(Role::Instructor, "alice");
        let (status, course) = self.call(Method::POST, url, token, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{course}");
        course["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("id")
    }

    async fn course_of(&self, id: Uuid) -> Value {
        let url = format!("{}/api/courses/{id}", self.course.base());
        self.call(Method::GET, url, None, None).await.1
    }

    /// A checkout: the order's id and the session's id.
    async fn checkout(&self, student: &str, course: Uuid) -> Checkout {
        let url = format!("{}/api/orders", self.orders.base());
        let token = self.token(Role::Student, student);
        let body = json!({"course_id": course});
        let (status, order) = self.call(Method::POST, url, token, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{order}");
        assert_eq!(order["status"], "awaiting_payment", "{order}");
        Checkout {
            student: student.to_owned(),
            order: order["id"].as_str().expect("id").to_owned(),
            session: order["payment"]["checkout_session_id"]
                .as_str()
                .expect("session")
                .to_owned(),
            url: order["payment"]["checkout_url"]
                .as_str()
                .expect("url")
                .to_owned(),
        }
    }

    /// The student clicks Pay on the hosted page.
    async fn pay(&self, checkout: &Checkout) {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("browser");
        let page = browser
            .post(format!("{}/pay", checkout.url))
            .send()
            .await
            .expect("pay");
        assert_eq!(page.status(), StatusCode::SEE_OTHER, "{}", checkout.url);
    }

    async fn order(&self, checkout: &Checkout) -> Value {
        let url = format!("{}/api/orders/{}", self.orders.base(), checkout.order);
        let token = self.token(Role::Student, &checkout.student);
        self.call(Method::GET, url, token, None).await.1
    }

    /// Waits (at most 30 s) for the order to reach `status`, and returns it.
    async fn order_becomes(&self, checkout: &Checkout, status: &str) -> Value {
        let started = Instant::now();
        loop {
            let order = self.order(checkout).await;
            if order["status"] == status {
                return order;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} is still {order}, not {status}",
                checkout.student
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sets the sandbox's faults (`POST /_sandbox/faults`).
    async fn fault(&self, body: Value) -> (StatusCode, Value) {
        let url = format!("{}/_sandbox/faults", self.sandbox.base_url());
        self.call(Method::POST, url, None, Some(body)).await
    }

    /// Stripe's API of the sandbox, with its secret key.
    async fn stripe(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.sandbox.base_url());
        let token = Some(self.sandbox.api_key().to_owned());
        let (status, body) = self.call(Method::GET, url, token, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    async fn reservation(&self, course: &str, id: &str) -> Value {
        let url = format!(
            "{}/api/courses/{course}/reservations/{id}",
            self.course.base()
        );
        let token = self.token(Role::Service, "checker");
        self.call(Method::GET, url, token, None).await.1
    }

    /// Waits (at most 30 s) until the course holds no seat: every hold ended.
    async fn no_seat_held(&self, course: Uuid) {
        let started = Instant::now();
        while self.course_of(course).await["seats_held"] != 0 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "a hold of {course} never ended"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Another buyer takes a seat of `course` straight from course-service (as another replica
    /// of order-service would) and confirms it.
    async fn walk_in(&self, course: Uuid) {
        let base = format!(
            "{}/api/courses/{course}/reservations/{}",
            self.course.base(),
            Uuid::now_v7()
        );
        let token = self.token(Role::Service, "walk-in");
        let body = json!({"student_id": "walk-in"});
        let (status, held) = self
            .call(Method::PUT, base.clone(), token.clone(), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{held}");
        let url = format!("{base}/confirm");
        let (status, sold) = self.call(Method::POST, url, token, None).await;
        assert_eq!(status, StatusCode::OK, "{sold}");
    }

    /// Every paid session ends with one confirmed seat and no refund, or with one refund of the
    /// whole amount and no seat; an unpaid one with neither. The course sells exactly its
    /// confirmed orders (plus `others` sold outside these checkouts), holds nothing, and its
    /// counters add up. Returns the orders' final statuses.
    async fn money_and_seats_agree(
        &self,
        course: Uuid,
        checkouts: &[Checkout],
        others: u64,
    ) -> Vec<String> {
        let mut statuses = Vec::new();
        let mut confirmed = 0;
        for checkout in checkouts {
            let order = self.order(checkout).await;
            let session = self
                .stripe(&format!("/v1/checkout/sessions/{}", checkout.session))
                .await;
            let refunds = match session["payment_intent"].as_str() {
                Some(intent) => {
                    let list = self
                        .stripe(&format!("/v1/refunds?payment_intent={intent}&limit=100"))
                        .await;
                    list["data"].as_array().cloned().unwrap_or_default()
                }
                None => Vec::new(),
            };
            let seat = self
                .reservation(
                    order["course_id"].as_str().unwrap_or(""),
                    order["reservation_id"].as_str().unwrap_or(""),
                )
                .await;
            let status = order["status"].as_str().unwrap_or("?").to_owned();
            let paid = session["payment_status"] == "paid";
            match (paid, status.as_str()) {
                (true, "confirmed") => {
                    assert_eq!(seat["status"], "confirmed", "{order}");
                    assert!(refunds.is_empty(), "a seat and a refund: {order}");
                    confirmed += 1;
                }
                (true, "refunded") => {
                    assert_eq!(refunds.len(), 1, "{order}: {refunds:?}");
                    assert_eq!(refunds[0]["amount"], session["amount_total"], "{order}");
                    assert_ne!(seat["status"], "confirmed", "{order}");
                    assert_ne!(seat["status"], "held", "{order}");
                }
                (false, "failed" | "cancelled") => {
                    assert_ne!(seat["status"], "confirmed", "{order}");
                    assert_ne!(seat["status"], "held", "{order}");
                }
                _ => panic!("paid={paid} but the order is {order}"),
            }
            statuses.push(status);
        }
        let c = self.course_of(course).await;
        assert_eq!(c["seats_sold"].as_u64(), Some(confirmed + others), "{c}");
        assert_eq!(c["seats_held"], 0, "{c}");
        let parts: u64 = ["seats_available", "seats_held", "seats_sold"]
            .iter()
            .map(|k| c[*k].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(Some(parts), c["seats_total"].as_u64(), "{c}");
        statuses
    }
}

/// One student's checkout.
struct Checkout {
    student: String,
    order: String,
    session: String,
    url: String,
}

/// Waits (at most 20 s) until at least `n` confirms reached the proxy.
async fn confirms_reach(proxy: &FaultProxy, n: usize) {
    let started = Instant::now();
    while proxy.count(Target::Confirm) < n {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "only {} confirms were sent",
            proxy.count(Target::Confirm)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_service_killed_between_paid_and_confirmed_confirms_each_paid_order_once() {
    let mut shop = Shop::start(300, 1).await;
    let course = shop.create_course(3, 1200).await;
    let checkouts = vec![
        shop.checkout("s1", course).await,
        shop.checkout("s2", course).await,
    ];
    // The first confirm lands but its answer is lost; every later one is refused (503), so
    // order-service knows both payments and has confirmed neither when it is killed.
    shop.proxy.inject(Target::Confirm, Fault::LoseResponse, 1);
    shop.proxy
        .inject(Target::Confirm, Fault::Unavailable, usize::MAX);
    for checkout in &checkouts {
        shop.pay(checkout).await;
    }
    confirms_reach(&shop.proxy, 4).await;
    for checkout in &checkouts {
        let order = shop.order(checkout).await;
        assert_ne!(order["status"], "confirmed", "{order}");
    }
    shop.orders.kill9();
    shop.proxy.clear();
    shop.orders.restart();
    for checkout in &checkouts {
        shop.order_becomes(checkout, "confirmed").await;
    }
    let statuses = shop.money_and_seats_agree(course, &checkouts, 0).await;
    assert_eq!(statuses, ["confirmed", "confirmed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn course_service_killed_around_the_confirm_leaves_every_paid_order_one_seat() {
    let mut shop = Shop::start(300, 1).await;
    let course = shop.create_course(3, 1200).await;
    let checkouts = vec![
        shop.checkout("s1", course).await,
        shop.checkout("s2", course).await,
        shop.checkout("s3", course).await,
    ];
    // s1's confirm reaches course-service, which dies before answering.
    shop.proxy.inject(Target::Confirm, Fault::LoseResponse, 1);
    shop.pay(&checkouts[0]).await;
    confirms_reach(&shop.proxy, 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    shop.course.kill9();
    // s2 pays while course-service is down: its confirm cannot land.
    shop.pay(&checkouts[1]).await;
    confirms_reach(&shop.proxy, 2).await;
    shop.course.restart();
    // s3 pays after the restart.
    shop.pay(&checkouts[2]).await;
    for checkout in &checkouts {
        shop.order_becomes(checkout, "confirmed").await;
    }
    let statuses = shop.money_and_seats_agree(course, &checkouts, 0).await;
    assert_eq!(statuses, ["confirmed", "confirmed", "confirmed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_arriving_after_the_hold_lapsed_takes_a_free_seat_or_is_refunded() {
    let mut shop = Shop::start(2, 1).await;
    let roomy = shop.create_course(1, 1500).await;
    let full = shop.create_course(1, 2500).await;
    let late = shop.checkout("s1", roomy).await;
    let too_late = shop.checkout("s2", full).await;
    // order-service goes down; both students pay; both holds lapse meanwhile, and another buyer
    // takes the only seat of `full`.
    shop.orders.kill9();
    shop.pay(&late).await;
    shop.pay(&too_late).await;
    shop.no_seat_held(roomy).await;
    shop.no_seat_held(full).await;
    shop.walk_in(full).await;
    shop.orders.restart();

    let confirmed = shop.order_becomes(&late, "confirmed").await;
    assert_eq!(confirmed["payment"]["status"], "paid", "{confirmed}");
    let refunded = shop.order_becomes(&too_late, "refunded").await;
    assert_eq!(refunded["failure_code"], "sold_out", "{refunded}");
    assert_eq!(refunded["payment"]["status"], "refunded", "{refunded}");
    assert_eq!(
        shop.money_and_seats_agree(roomy, std::slice::from_ref(&late), 0)
            .await,
        ["confirmed"]
    );
    assert_eq!(
        shop.money_and_seats_agree(full, std::slice::from_ref(&too_late), 1)
            .await,
        ["refunded"]
    );
    // The webhooks, delivered again after the restart, change nothing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(shop.order(&late).await["status"], "confirmed");
    assert_eq!(shop.order(&too_late).await["status"], "refunded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_opened_just_before_a_crash_is_found_again_not_opened_twice() {
    let mut shop = Shop::start(300, 1).await;
    let course = shop.create_course(1, 1200).await;
    // The provider takes 2 s to open the session; order-service dies while it waits.
    let (status, _) = shop
        .fault(json!({"create_session": "hang", "hang_ms": 2000}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let url = format!("{}/api/orders", shop.orders.base());
    let order = shop.call(
        Method::POST,
        url,
        shop.token(Role::Student, "s1"),
        Some(json!({"course_id": course})),
    );
    let crash = async {
        let started = Instant::now();
        while shop.course_of(course).await["seats_held"] != 1 {
            assert!(started.elapsed() < Duration::from_secs(10), "no hold");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    tokio::select! {
        answered = order => panic!("the order was answered before the crash: {answered:?}"),
        () = crash => {}
    }
    shop.orders.kill9();
    // The session is opened all the same, and its URL never reached anyone.
    let started = Instant::now();
    while shop.stripe("/v1/checkout/sessions?limit=10").await["data"]
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        assert!(started.elapsed() < Duration::from_secs(10), "no session");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shop.fault(json!({"create_session": "none"})).await;
    shop.orders.restart();

    // order-service resumes the order and sends the same create again: the same session.
    let url = format!("{}/api/orders?limit=10", shop.orders.base());
    let started = Instant::now();
    let order = loop {
        let (_, page) = shop
            .call(
                Method::GET,
                url.clone(),
                shop.token(Role::Student, "s1"),
                None,
            )
            .await;
        if let Some(order) = page["items"].as_array().and_then(|items| items.first())
            && order["status"] == "awaiting_payment"
        {
            break order.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the order did not resume: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let sessions = shop.stripe("/v1/checkout/sessions?limit=10").await;
    let sessions = sessions["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(sessions.len(), 1, "one session for one order: {sessions:?}");
    assert_eq!(order["payment"]["checkout_session_id"], sessions[0]["id"]);
    let checkout = Checkout {
        student: "s1".into(),
        order: order["id"].as_str().expect("id").to_owned(),
        session: sessions[0]["id"].as_str().expect("id").to_owned(),
        url: order["payment"]["checkout_url"]
            .as_str()
            .expect("url")
            .to_owned(),
    };
    shop.pay(&checkout).await;
    shop.order_becomes(&checkout, "confirmed").await;
    let statuses = shop.money_and_seats_agree(course, &[checkout], 0).await;
    assert_eq!(statuses, ["confirmed"]);
}
