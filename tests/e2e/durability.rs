//! Durability with the real binaries as child processes: state survives a clean restart byte for
//! byte, nothing acknowledged is lost when either service is killed with SIGKILL under load, holds
//! that lapsed while course-service was down are expired at start-up, and an unreadable store
//! stops a service instead of being replaced.

use e2e_tests::procs::{ServiceProcess, run_to_exit};
use futures::future::join_all;
use parking_lot::Mutex;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service_kit::TokenKeys;
use shared_types::Role;
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};
use uuid::Uuid;

const SECRET: &str = "durability-secret-0123456789abcdefghijklmnopq";

pub(crate) struct System {
    pub course: Mutex<ServiceProcess>,
    pub orders: Mutex<ServiceProcess>,
    pub course_base: String,
    pub order_base: String,
    client: reqwest::Client,
    keys: TokenKeys,
    _dir: tempfile::TempDir,
}

fn course_env(dir: &std::path::Path, ttl: u64) -> Vec<(&'static str, String)> {
    vec![
        ("AUTH_JWT_SECRET", SECRET.into()),
        ("DATA_DIR", dir.display().to_string()),
        ("RESERVATION_TTL_SECS", ttl.to_string()),
    ]
}

impl System {
    fn start() -> System {
        System::start_with(None, &[], &[])
    }

    /// Both services, course-service's store under `course_dir` when given (else beside
    /// order-service's in a fresh directory), each with its extra environment.
    pub(crate) fn start_with(
        course_dir: Option<&std::path::Path>,
        course_extra: &[(&'static str, String)],
        order_extra: &[(&'static str, String)],
    ) -> System {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env = course_env(course_dir.unwrap_or(dir.path()), 300);
        env.extend(course_extra.iter().cloned());
        let course = ServiceProcess::start("course-service", &env);
        let mut env = vec![
            ("AUTH_JWT_SECRET", SECRET.into()),
            ("DATA_DIR", dir.path().display().to_string()),
            ("COURSE_SERVICE_URL", course.base()),
            ("COURSE_TIMEOUT_MS", "300".into()),
            ("COURSE_RETRY_MAX", "2".into()),
            ("ORDER_DEADLINE_MS", "2000".into()),
            ("RECONCILE_INTERVAL_MS", "100".into()),
        ];
        env.extend(order_extra.iter().cloned());
        let orders = ServiceProcess::start("order-service", &env);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        System {
            course_base: course.base(),
            order_base: orders.base(),
            course: Mutex::new(course),
            orders: Mutex::new(orders),
            client,
            keys: TokenKeys::from_secret(SECRET).expect("keys"),
            _dir: dir,
        }
    }

    pub(crate) fn token(&self, role: Role, sub: &str) -> String {
        self.keys
            .mint(sub, role, if role == Role::Service { 300 } else { 3600 })
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        url: String,
        token: Option<String>,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        e2e_tests::procs::call(&self.client, method, url, token, body, key).await
    }

    pub(crate) async fn create_course(&self, seats: u32) -> Uuid {
        let body = json!({"title": "Durable", "price_cents": 1000, "seats": seats});
        let url = format!("{}/api/courses", self.course_base);
        let (status, course) = self
            .call(
                Method::POST,
                url,
                Some(self.token(Role::Instructor, "alice")),
                Some(body),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{course}");
        course["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("id")
    }

    pub(crate) async fn buy(
        &self,
        student: &str,
        course: Uuid,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let url = format!("{}/api/orders", self.order_base);
        self.call(
            Method::POST,
            url,
            Some(self.token(Role::Student, student)),
            Some(json!({"course_id": course})),
            key,
        )
        .await
    }

    pub(crate) async fn cancel(&self, student: &str, order: &str) -> (StatusCode, Value) {
        let url = format!("{}/api/orders/{order}/cancel", self.order_base);
        self.call(
            Method::POST,
            url,
            Some(self.token(Role::Student, student)),
            None,
            None,
        )
        .await
    }

    pub(crate) async fn course(&self, id: Uuid) -> Value {
        self.call(
            Method::GET,
            format!("{}/api/courses/{id}", self.course_base),
            None,
            None,
            None,
        )
        .await
        .1
    }

    pub(crate) async fn orders_of(&self, student: &str) -> Vec<Value> {
        let url = format!("{}/api/orders?limit=100", self.order_base);
        let (status, page) = self
            .call(
                Method::GET,
                url,
                Some(self.token(Role::Student, student)),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["items"].as_array().cloned().unwrap_or_default()
    }

    pub(crate) async fn reservation(&self, course: &str, id: &str) -> (StatusCode, Value) {
        let url = format!(
            "{}/api/courses/{course}/reservations/{id}",
            self.course_base
        );
        self.call(
            Method::GET,
            url,
            Some(self.token(Role::Service, "checker")),
            None,
            None,
        )
        .await
    }

    /// Waits (bounded) until no order of `students` is pending and every order agrees with
    /// course-service (a cancellation remembered across a crash finishes in the background), then
    /// checks every order against its seat and every course's counters. Returns the orders by
    /// student.
    pub(crate) async fn settle_and_check(
        &self,
        students: &[String],
        courses: &[Uuid],
    ) -> BTreeMap<String, Vec<Value>> {
        let started = Instant::now();
        loop {
            let all = self.settled_orders(students, started).await;
            let problems = self.disagreements(&all, courses).await;
            if problems.is_empty() {
                return all;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "orders and seats still disagree: {problems:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every order of `students`, once none is pending (bounded by 30 s from `started`).
    async fn settled_orders(
        &self,
        students: &[String],
        started: Instant,
    ) -> BTreeMap<String, Vec<Value>> {
        let mut all = BTreeMap::new();
        for student in students {
            loop {
                let orders = self.orders_of(student).await;
                if orders.iter().all(|o| o["status"] != "pending") {
                    all.insert(student.clone(), orders);
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "{student}'s order still pending"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        all
    }

    /// Where orders and seats disagree: a confirmed order without a sold seat, a failed or
    /// cancelled one with a seat, a course whose sold seats differ from its confirmed orders, a
    /// seat held without an order, or a broken seat invariant.
    async fn disagreements(
        &self,
        all: &BTreeMap<String, Vec<Value>>,
        courses: &[Uuid],
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let mut confirmed: BTreeMap<String, u64> = BTreeMap::new();
        for order in all.values().flatten() {
            let (_, reservation) = self
                .reservation(
                    order["course_id"].as_str().unwrap_or(""),
                    order["reservation_id"].as_str().unwrap_or(""),
                )
                .await;
            let seat = reservation["status"].as_str().unwrap_or("none").to_owned();
            match order["status"].as_str() {
                Some("confirmed") => {
                    if seat != "confirmed" {
                        problems.push(format!("confirmed order with a {seat} seat: {order}"));
                    }
                    *confirmed
                        .entry(order["course_id"].as_str().unwrap_or("").to_owned())
                        .or_default() += 1;
                }
                Some("failed" | "cancelled") => {
                    if seat == "held" || seat == "confirmed" {
                        problems.push(format!("{order} still has a {seat} seat"));
                    }
                }
                other => problems.push(format!("unexpected order status {other:?}")),
            }
        }
        for course in courses {
            let c = self.course(*course).await;
            let sold = c["seats_sold"].as_u64().unwrap_or(u64::MAX);
            if sold != confirmed.get(&course.to_string()).copied().unwrap_or(0) {
                problems.push(format!("sold seats != confirmed orders: {c}"));
            }
            if c["seats_held"] != 0 {
                problems.push(format!("a seat is held without an order: {c}"));
            }
            let parts: u64 = ["seats_available", "seats_held", "seats_sold"]
                .iter()
                .map(|k| c[*k].as_u64().unwrap_or(0))
                .sum();
            if Some(parts) != c["seats_total"].as_u64() {
                problems.push(format!("invariant broken: {c}"));
            }
        }
        problems
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_object_reads_back_identical_after_both_services_restart() {
    let system = System::start();
    let (a, b) = (system.create_course(5).await, system.create_course(1).await);
    for s in ["s1", "s2", "s3"] {
        assert_eq!(system.buy(s, a, None).await.0, StatusCode::CREATED);
    }
    let (status, replayed) = system.buy("s7", a, Some("key-7")).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, first_b) = system.buy("s4", b, None).await;
    assert_eq!(
        system.buy("s5", b, None).await.0,
        StatusCode::CONFLICT,
        "sold out"
    );
    assert_eq!(
        system
            .cancel("s4", first_b["id"].as_str().unwrap_or(""))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(system.buy("s6", b, None).await.0, StatusCode::CREATED);
    let held = Uuid::now_v7();
    let url = format!("{}/api/courses/{a}/reservations/{held}", system.course_base);
    let (status, _) = system
        .call(
            Method::PUT,
            url,
            Some(system.token(Role::Service, "ops")),
            Some(json!({"student_id": "walk-in"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let url = format!("{}/api/courses/{a}/price", system.course_base);
    let price = system
        .call(
            Method::PATCH,
            url,
            Some(system.token(Role::Instructor, "alice")),
            Some(json!({"price_cents": 1500})),
            None,
        )
        .await;
    assert_eq!(price.0, StatusCode::OK);

    let students: Vec<String> = (1..=7).map(|i| format!("s{i}")).collect();
    let before = snapshot(&system, [a, b], held, &students).await;
    assert_eq!(
        system.orders.lock().terminate(),
        Some(0),
        "order-service exits 0 on SIGTERM"
    );
    assert_eq!(
        system.course.lock().terminate(),
        Some(0),
        "course-service exits 0 on SIGTERM"
    );
    system.course.lock().restart();
    system.orders.lock().restart();
    let after = snapshot(&system, [a, b], held, &students).await;
    assert_eq!(after, before);
    let (status, again) = system.buy("s7", a, Some("key-7")).await;
    assert_eq!(
        (status, &again),
        (StatusCode::CREATED, &replayed),
        "idempotency keys survive"
    );
    system.settle_and_check(&students[..6], &[b]).await;
}

#[tokio::test]
async fn a_hold_that_lapsed_while_course_service_was_down_is_expired_at_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut course = ServiceProcess::start("course-service", &course_env(dir.path(), 2));
    let keys = TokenKeys::from_secret(SECRET).expect("keys");
    let client = reqwest::Client::new();
    let id = e2e_tests::procs::create_course(&course.base(), &keys, 1, 1).await;
    let hold = format!(
        "{}/api/courses/{id}/reservations/{}",
        course.base(),
        Uuid::now_v7()
    );
    let held = client
        .put(&hold)
        .bearer_auth(keys.mint("o", Role::Service, 300))
        .json(&json!({"student_id": "s1"}))
        .send()
        .await
        .expect("hold");
    assert_eq!(held.status(), StatusCode::CREATED);
    course.kill9();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    course.restart();
    let c: Value = client
        .get(format!("{}/api/courses/{id}", course.base()))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (c["seats_held"].as_u64(), c["seats_available"].as_u64()),
        (Some(0), Some(1)),
        "{c}"
    );
    let r: Value = client
        .get(&hold)
        .bearer_auth(keys.mint("o", Role::Service, 300))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(r["status"], "expired");
}

/// Every course, reservation and order the restart test made, as the API shows them.
async fn snapshot(
    system: &System,
    courses: [Uuid; 2],
    held: Uuid,
    students: &[String],
) -> Vec<Value> {
    let mut state = vec![
        system.course(courses[0]).await,
        system.course(courses[1]).await,
        system
            .reservation(&courses[0].to_string(), &held.to_string())
            .await
            .1,
    ];
    for s in students {
        for order in system.orders_of(s).await {
            let r = system
                .reservation(
                    order["course_id"].as_str().unwrap_or(""),
                    order["reservation_id"].as_str().unwrap_or(""),
                )
                .await
                .1;
            state.push(order);
            state.push(r);
        }
    }
    state
}

/// Buys from 16 workers for `duration`, cancelling every fourth confirmed order. Returns the
/// students used and what was acknowledged: (student, order id, status the 2xx reported).
pub(crate) async fn load(
    system: Arc<System>,
    courses: [Uuid; 2],
    duration: Duration,
) -> (Vec<String>, Vec<(String, String, String)>) {
    let deadline = Instant::now() + duration;
    let workers = (0..16).map(|w| {
        let system = Arc::clone(&system);
        tokio::spawn(async move {
            let (mut students, mut acks) = (Vec::new(), Vec::new());
            let mut n = 0usize;
            while Instant::now() < deadline {
                let student = format!("w{w}-{n}");
                students.push(student.clone());
                let (status, order) = system.buy(&student, courses[n % 2], None).await;
                let id = order["id"].as_str().unwrap_or("").to_owned();
                if status == StatusCode::CREATED {
                    acks.push((student.clone(), id.clone(), "confirmed".to_owned()));
                    if n.is_multiple_of(4) {
                        // A cancellation that did not answer 200 may still finish later: it was
                        // recorded before the seat was given back.
                        let cancelled = system.cancel(&student, &id).await.0 == StatusCode::OK;
                        let outcome = if cancelled {
                            "cancelled"
                        } else {
                            "cancel-asked"
                        };
                        acks.push((student.clone(), id, outcome.to_owned()));
                    }
                }
                n += 1;
            }
            (students, acks)
        })
    });
    let mut students = Vec::new();
    let mut acks = Vec::new();
    for worker in join_all(workers).await {
        let (s, a) = worker.expect("worker");
        students.extend(s);
        acks.extend(a);
    }
    (students, acks)
}

pub(crate) fn check_acknowledged(
    orders: &BTreeMap<String, Vec<Value>>,
    acks: &[(String, String, String)],
) {
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for (_, id, status) in acks {
        last.insert(id, status);
    }
    for (student, id, _) in acks {
        let order = orders[student]
            .iter()
            .find(|o| o["id"] == id.as_str())
            .unwrap_or_else(|| panic!("acknowledged order {id} lost"));
        let status = order["status"].as_str().unwrap_or("");
        match last[id.as_str()] {
            "cancel-asked" => assert!(
                status == "confirmed" || status == "cancelled",
                "order {id}: {order}"
            ),
            acknowledged => assert_eq!(
                status, acknowledged,
                "acknowledged order {id} changed: {order}"
            ),
        }
    }
}

/// Runs the load, SIGKILLs one service 0.7 s in and starts it again 0.7 s later, lets every order
/// settle, then checks that nothing acknowledged was lost and seats and orders agree.
async fn kill_under_load(kill_orders: bool) {
    let system = Arc::new(System::start());
    let courses = [
        system.create_course(60).await,
        system.create_course(60).await,
    ];
    let crash = {
        let system = Arc::clone(&system);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(700)).await;
            victim(&system, kill_orders).lock().kill9();
            tokio::time::sleep(Duration::from_millis(700)).await;
            tokio::task::spawn_blocking(move || victim(&system, kill_orders).lock().restart())
                .await
                .expect("restart");
        })
    };
    let (students, acks) = load(Arc::clone(&system), courses, Duration::from_millis(2500)).await;
    crash.await.expect("crash task");
    assert!(
        acks.len() >= 10,
        "the load acknowledged too little to mean anything: {}",
        acks.len()
    );
    let orders = system.settle_and_check(&students, &courses).await;
    check_acknowledged(&orders, &acks);
    system.check_feed(&courses).await;
}

impl System {
    /// The event feed after a crash: numbered 1, 2, 3, ... with no gap or repeat, each hold told
    /// as held once and ended at most once, and each course's latest event showing its counts now.
    async fn check_feed(&self, courses: &[Uuid]) {
        let token = self.token(Role::Service, "checker");
        let mut events: Vec<Value> = Vec::new();
        let mut after = String::new();
        loop {
            let url = format!("{}/api/events?limit=1000{after}", self.course_base);
            let (status, page) = self
                .call(Method::GET, url, Some(token.clone()), None, None)
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let items = page["items"].as_array().expect("items").clone();
            if items.is_empty() {
                break;
            }
            after = format!("&after={}", page["next_cursor"].as_str().expect("cursor"));
            events.extend(items);
        }
        let numbers: Vec<u64> = events
            .iter()
            .map(|e| {
                let cursor = e["cursor"].as_str().expect("cursor");
                u64::from_str_radix(cursor.trim_start_matches("ev1_"), 16).expect("hex")
            })
            .collect();
        let expected: Vec<u64> = (1..=numbers.len() as u64).collect();
        assert_eq!(numbers, expected, "the feed has a gap or a repeat");
        let mut told: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for e in &events {
            let Some(id) = e["reservation_id"].as_str() else {
                continue;
            };
            let (held, ended) = told.entry(id.to_owned()).or_default();
            match e["type"].as_str() {
                Some("reservation.held") => *held += 1,
                Some("reservation.cancelled" | "reservation.expired") => *ended += 1,
                _ => {}
            }
        }
        for (id, (held, ended)) in told {
            assert!(
                held <= 1 && ended <= 1,
                "reservation {id} told {held} holds, {ended} ends"
            );
        }
        for course in courses {
            let url = format!("{}/api/courses/{course}", self.course_base);
            let (_, now) = self.call(Method::GET, url, None, None, None).await;
            let last = events
                .iter()
                .rev()
                .find(|e| e["course_id"] == json!(course))
                .expect("the course's events");
            for field in ["seats_total", "seats_available", "seats_held", "seats_sold"] {
                assert_eq!(
                    last["course"][field], now[field],
                    "{field} of {course}: {last}"
                );
            }
        }
    }
}

fn victim(system: &System, orders: bool) -> &Mutex<ServiceProcess> {
    if orders {
        &system.orders
    } else {
        &system.course
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn course_service_killed_mid_load_loses_nothing_acknowledged() {
    kill_under_load(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_service_killed_mid_load_loses_nothing_acknowledged() {
    kill_under_load(true).await;
}

#[test]
fn an_unreadable_store_stops_each_service_and_is_left_untouched() {
    for (service, file) in [
        ("course-service", "course-service"),
        ("order-service", "order-service"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(file);
        std::fs::write(&path, b"not a store: somebody's precious data").expect("write");
        let (code, stderr) = run_to_exit(
            service,
            &[
                ("AUTH_JWT_SECRET", SECRET.into()),
                ("DATA_DIR", dir.path().display().to_string()),
            ],
        );
        assert_eq!(code, Some(1), "{service}: {stderr}");
        assert!(
            stderr.contains("refusing to start") && stderr.contains(file),
            "{service}: {stderr}"
        );
        assert_eq!(
            std::fs::read(&path).expect("read"),
            b"not a store: somebody's precious data"
        );
    }
}

/// Ten buyers cancel at once while ten students wait, and a service is killed with SIGKILL as
/// the freed seats become offers and the offers orders; after the restart every offer ended in
/// exactly one confirmed order, and every seat sold has one.
async fn kill_mid_promotion(kill_orders: bool) {
    let system = Arc::new(System::start());
    let course = system.create_course(10).await;
    let mut bought = Vec::new();
    for i in 0..10 {
        let (status, order) = system.buy(&format!("buyer-{i}"), course, None).await;
        assert_eq!(status, StatusCode::CREATED, "{order}");
        bought.push(order["id"].as_str().expect("id").to_owned());
    }
    let waiters: Vec<String> = (0..10).map(|i| format!("waiter-{i}")).collect();
    for waiter in &waiters {
        let url = format!("{}/api/waitlist", system.order_base);
        let token = system.token(Role::Student, waiter);
        let body = json!({ "course_id": course });
        let (status, entry) = system
            .call(Method::POST, url, Some(token), Some(body), None)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{entry}");
    }
    let cancels = bought.iter().enumerate().map(|(i, order)| {
        let (system, order) = (Arc::clone(&system), order.clone());
        tokio::spawn(async move { system.cancel(&format!("buyer-{i}"), &order).await })
    });
    let crash = {
        let system = Arc::clone(&system);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            victim(&system, kill_orders).lock().kill9();
            tokio::time::sleep(Duration::from_millis(300)).await;
            tokio::task::spawn_blocking(move || victim(&system, kill_orders).lock().restart())
                .await
                .expect("restart");
        })
    };
    let cancelled = join_all(cancels).await;
    crash.await.expect("crash task");
    // A cancel the crash cut off is asked again, as its student would.
    for (i, answer) in cancelled.into_iter().enumerate() {
        if answer.expect("task").0 != StatusCode::OK {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let (status, body) = system.cancel(&format!("buyer-{i}"), &bought[i]).await;
                if status == StatusCode::OK {
                    break;
                }
                assert!(Instant::now() < deadline, "cancel never answered: {body}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    // Every waiter ends enrolled through exactly one confirmed order.
    let deadline = Instant::now() + Duration::from_secs(30);
    for waiter in &waiters {
        loop {
            let url = format!("{}/api/waitlist", system.order_base);
            let token = system.token(Role::Student, waiter);
            let (_, list) = system.call(Method::GET, url, Some(token), None, None).await;
            let entry = list["items"][0].clone();
            if entry["status"] == "enrolled" && !entry["order_id"].is_null() {
                break;
            }
            if Instant::now() > deadline {
                let order = entry["order_id"].as_str().unwrap_or("");
                let url = format!("{}/api/orders/{order}", system.order_base);
                let token = system.token(Role::Student, waiter);
                let (_, order) = system.call(Method::GET, url, Some(token), None, None).await;
                panic!("{waiter} never enrolled: {entry}, order {order}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut students: Vec<String> = (0..10).map(|i| format!("buyer-{i}")).collect();
    students.extend(waiters.iter().cloned());
    let orders = system.settle_and_check(&students, &[course]).await;
    for waiter in &waiters {
        let confirmed = orders[waiter]
            .iter()
            .filter(|o| o["status"] == "confirmed")
            .count();
        assert_eq!(confirmed, 1, "{waiter}: {:?}", orders[waiter]);
    }
    let c = system.course(course).await;
    assert_eq!(
        (c["seats_sold"].as_u64(), c["waitlist_length"].as_u64()),
        (Some(10), Some(0)),
        "{c}"
    );
    system.check_feed(&[course]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_service_killed_mid_promotion_leaves_every_offer_one_order() {
    kill_mid_promotion(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn course_service_killed_mid_promotion_leaves_every_offer_one_order() {
    kill_mid_promotion(false).await;
}
