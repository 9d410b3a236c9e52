//! Several replicas of each service on one PostgreSQL database, as service processes: the seats
//! stay exact when orders arrive through different replicas at once, and a replica killed in the
//! middle of a sale loses nothing it acknowledged.
//!
//! Needs `TEST_DATABASE_URL` (built only with `--features postgres`; `scripts/test.sh` runs it).

use course_service::{
    clock::SystemClock,
    store::{Inspect, postgres::PgStore},
};
use e2e_tests::procs::{ServiceProcess, create_course};
use futures::{StreamExt, stream};
use reqwest::StatusCode;
use serde_json::{Value, json};
use service_kit::TokenKeys;
use shared_types::Role;
use sqlx::Row;
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};
use storage_kit::postgres::{PgSettings, test_schema_url};
use uuid::Uuid;

const SECRET: &str = "replicas-test-secret-0123456789abcdefghijklmnop";

/// What every service process of these tests runs with: the shared secret, the database, a pool
/// of `connections`, no rate limit, and `log` as its log level.
fn service_env(database: &str, connections: u32, log: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AUTH_JWT_SECRET", SECRET.to_owned()),
        ("DATABASE_URL", database.to_owned()),
        ("DATABASE_MAX_CONNECTIONS", connections.to_string()),
        ("RATE_LIMIT_RPS", "0".to_owned()),
        ("RUST_LOG", log.to_owned()),
    ]
}

/// Two course-service and two order-service processes sharing one database (one schema: the
/// services' tables and migration records do not collide). Order-service `i` calls
/// course-service `i`.
struct Replicas {
    /// Every process's output, for the failure messages.
    logs: tempfile::TempDir,
    database: String,
    courses: Vec<ServiceProcess>,
    orders: Vec<ServiceProcess>,
    keys: TokenKeys,
}

impl Replicas {
    async fn start(order_deadline_ms: u64) -> Replicas {
        let database = test_schema_url().await;
        let logs = tempfile::tempdir().expect("log dir");
        let log = logs.path().join("services.log");
        let common = |extra: Vec<(&'static str, String)>| {
            // Four processes per test, tests in parallel: stay well inside the server's
            // max_connections.
            let mut env = service_env(&database, 6, "warn");
            env.push(("HTTP_WORKERS", "2".to_owned()));
            env.extend(extra);
            env
        };
        let courses: Vec<ServiceProcess> = (0..2)
            .map(|_| ServiceProcess::start_logging("course-service", &common(vec![]), &log))
            .collect();
        let orders = courses
            .iter()
            .map(|course| {
                ServiceProcess::start_logging(
                    "order-service",
                    &common(vec![
                        ("COURSE_SERVICE_URL", course.base()),
                        ("ORDER_DEADLINE_MS", order_deadline_ms.to_string()),
                        ("RECONCILE_INTERVAL_MS", "200".to_owned()),
                    ]),
                    &log,
                )
            })
            .collect();
        Replicas {
            logs,
            database,
            courses,
            orders,
            keys: TokenKeys::from_secret(SECRET).expect("keys"),
        }
    }

    /// The services' warnings and errors so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("services.log")).unwrap_or_default()
    }

    fn order_bases(&self) -> Vec<String> {
        self.orders.iter().map(ServiceProcess::base).collect()
    }

    async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&self.database)
            .await
            .expect("pool")
    }

    /// Waits (bounded) until no order has work left, on any replica.
    async fn settled(&self) {
        let pool = self.pool().await;
        let started = Instant::now();
        loop {
            let open: i64 = sqlx::query(
                "SELECT count(*) AS n FROM orders \
                 WHERE status = 'pending' OR (cancel_requested AND status = 'confirmed')",
            )
            .fetch_one(&pool)
            .await
            .expect("count")
            .get("n");
            if open == 0 {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{open} orders still open after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Checks the seats against the orders: every confirmed order has a sold seat and every sold
    /// seat a confirmed order, no student has two, counters agree with the reservations, and
    /// no seat is held. Returns the number of seats sold.
    async fn check(&self, course: &str) -> i64 {
        let pool = self.pool().await;
        let row = sqlx::query(
            "SELECT seats_total, seats_held, seats_sold FROM courses WHERE id = $1::uuid",
        )
        .bind(course)
        .fetch_one(&pool)
        .await
        .expect("course");
        let (total, held, sold): (i32, i32, i32) = (
            row.get("seats_total"),
            row.get("seats_held"),
            row.get("seats_sold"),
        );
        assert_eq!(held, 0, "no seat is left held");
        assert!(sold <= total);
        let confirmed: i64 = sqlx::query(
            "SELECT count(*) AS n FROM orders WHERE course_id = $1::uuid AND status = 'confirmed'",
        )
        .bind(course)
        .fetch_one(&pool)
        .await
        .expect("orders")
        .get("n");
        assert_eq!(confirmed, i64::from(sold), "confirmed orders == sold seats");
        let mismatched: i64 = sqlx::query(
            "SELECT count(*) AS n FROM \
             (SELECT reservation_id AS id FROM orders \
              WHERE course_id = $1::uuid AND status = 'confirmed') o \
             FULL JOIN (SELECT id FROM reservations \
              WHERE course_id = $1::uuid AND status = 'confirmed') r ON r.id = o.id \
             WHERE o.id IS NULL OR r.id IS NULL",
        )
        .bind(course)
        .fetch_one(&pool)
        .await
        .expect("join")
        .get("n");
        assert_eq!(
            mismatched, 0,
            "each confirmed order is exactly one sold seat"
        );
        let store = PgStore::connect(
            &PgSettings {
                url: self.database.clone(),
                max_connections: 2,
                statement_timeout: Duration::from_secs(10),
                acquire_timeout: Duration::from_secs(10),
            },
            Arc::new(SystemClock),
            chrono::TimeDelta::seconds(300),
            5,
        )
        .await
        .expect("store");
        store.check_invariants().await.expect("seat invariants");
        i64::from(sold)
    }
}

/// A course as course-service at `base` shows it.
async fn read_course(client: &reqwest::Client, base: &str, course: &str) -> Value {
    client
        .get(format!("{base}/api/courses/{course}"))
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json")
}

/// One student's purchase through order-service replica `via`, with an idempotency key; when the
/// replica cannot be reached, the same request goes to the other one (as a load balancer
/// would), repeating while the first attempt is still in progress or its replica's lease runs.
async fn buy(
    (orders, keys): (&[String], &TokenKeys),
    client: &reqwest::Client,
    student: &str,
    course: &str,
    via: usize,
) -> (StatusCode, String, Option<String>) {
    let token = keys.mint(student, Role::Student, 600);
    let key = format!("buy-{student}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut target = via;
    loop {
        assert!(Instant::now() < deadline, "{student} got no answer in 60 s");
        let sent = client
            .post(format!("{}/api/orders", orders[target]))
            .bearer_auth(&token)
            .header("idempotency-key", &key)
            .json(&json!({"course_id": course}))
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(_) => {
                target = 1 - target;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let code = body["code"].as_str().unwrap_or_default().to_owned();
        if status == StatusCode::CONFLICT && code == "request_in_progress" {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        return (status, code, body["id"].as_str().map(str::to_owned));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flash_sale_through_two_replicas_of_each_service_sells_exactly_the_seats() {
    let replicas = Replicas::start(8000).await;
    let course = create_course(&replicas.courses[0].base(), &replicas.keys, 100, 900).await;
    let client = reqwest::Client::new();
    let bases = replicas.order_bases();
    let outcomes: Vec<(StatusCode, String, Option<String>)> = stream::iter(0..1000)
        .map(|i| {
            let (to, client, course) = ((&bases[..], &replicas.keys), &client, &course);
            async move { buy(to, client, &format!("fan-{i}"), course, i % 2).await }
        })
        .buffer_unordered(100)
        .collect()
        .await;
    let mut counts: HashMap<(StatusCode, String), usize> = HashMap::new();
    for (status, code, _) in &outcomes {
        *counts.entry((*status, code.clone())).or_default() += 1;
    }
    assert_eq!(
        counts.get(&(StatusCode::CREATED, String::new())),
        Some(&100),
        "{counts:?}\n{}",
        replicas.log()
    );
    assert_eq!(
        counts.get(&(StatusCode::CONFLICT, "sold_out".to_owned())),
        Some(&900),
        "{counts:?}\n{}",
        replicas.log()
    );
    replicas.settled().await;
    assert_eq!(replicas.check(&course).await, 100);
    // Both course-service replicas read the same seats.
    for course_service in &replicas.courses {
        let seen = read_course(&client, &course_service.base(), &course).await;
        assert_eq!(
            (
                seen["seats_sold"].as_u64(),
                seen["seats_available"].as_u64()
            ),
            (Some(100), Some(0))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_sale_loses_nothing_it_acknowledged() {
    // A short deadline makes the killed replica's leases lapse quickly.
    let mut replicas = Replicas::start(1500).await;
    let course = create_course(&replicas.courses[0].base(), &replicas.keys, 150, 900).await;
    let client = reqwest::Client::new();
    let (bases, keys) = (
        replicas.order_bases(),
        TokenKeys::from_secret(SECRET).expect("keys"),
    );
    let buyers = stream::iter(0..400)
        .map(|i| {
            let (to, client, course) = ((&bases[..], &keys), &client, &course);
            async move {
                (
                    i,
                    buy(to, client, &format!("crowd-{i}"), course, i % 2).await,
                )
            }
        })
        .buffer_unordered(40);
    futures::pin_mut!(buyers);
    let mut outcomes = Vec::new();
    while let Some(outcome) = buyers.next().await {
        outcomes.push(outcome);
        if outcomes.len() == 120 {
            // Mid-sale: replica 1 of order-service dies with requests and sagas in flight.
            replicas.orders[1].kill9();
        }
    }
    replicas.settled().await;
    let sold = replicas.check(&course).await;

    // Every acknowledged purchase is a confirmed order with its seat.
    let pool = replicas.pool().await;
    let mut acknowledged = 0;
    for (i, (status, code, id)) in &outcomes {
        match (*status, code.as_str()) {
            (StatusCode::CREATED, _) => {
                acknowledged += 1;
                let id: Uuid = id.as_deref().expect("order id").parse().expect("uuid");
                let stored: String = sqlx::query("SELECT status FROM orders WHERE id = $1")
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .expect("acknowledged order stored")
                    .get("status");
                assert_eq!(stored, "confirmed", "crowd-{i}'s acknowledged order");
            }
            // Its first attempt died with the replica and was settled by the other one: the
            // student holds the seat the first attempt bought, or none.
            (StatusCode::CONFLICT, "sold_out" | "already_enrolled") => {}
            (StatusCode::ACCEPTED, _) => {}
            other => panic!("crowd-{i}: unexpected answer {other:?}"),
        }
    }
    assert!(acknowledged > 0);
    assert!(
        sold >= acknowledged,
        "{sold} sold, {acknowledged} acknowledged"
    );
    assert_eq!(sold, 150, "every seat ends sold: 400 buyers for 150 seats");
    let students_with_two: i64 = sqlx::query(
        "SELECT count(*) AS n FROM (SELECT student_id FROM orders WHERE status = 'confirmed' \
         GROUP BY student_id HAVING count(*) > 1) t",
    )
    .fetch_one(&pool)
    .await
    .expect("count")
    .get("n");
    assert_eq!(students_with_two, 0);
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_release_stops_this_one() {
    let database = test_schema_url().await;
    let settings = PgSettings {
        url: database.clone(),
        max_connections: 2,
        statement_timeout: Duration::from_secs(10),
        acquire_timeout: Duration::from_secs(10),
    };
    let connect = || {
        PgStore::connect(
            &settings,
            Arc::new(SystemClock),
            chrono::TimeDelta::seconds(300),
            5,
        )
    };
    connect().await.expect("first start migrates");
    let pool = sqlx::PgPool::connect(&database).await.expect("pool");
    sqlx::query(
        "INSERT INTO _course_service_migrations \
         (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'from the future', true, '\\x00', 0)",
    )
    .execute(&pool)
    .await
    .expect("record a newer migration");
    let refused = connect().await.expect_err("a newer schema is refused");
    let message = format!("{refused:#}");
    assert!(
        message.contains("newer than this course-service knows"),
        "{message}"
    );
    let (code, output) = e2e_tests::procs::run_to_exit(
        "course-service",
        &[
            ("AUTH_JWT_SECRET", SECRET.to_owned()),
            ("DATABASE_URL", database.clone()),
        ],
    );
    assert_ne!(code, Some(0));
    assert!(
        output.contains("newer than this course-service knows"),
        "{output}"
    );
}

/// A TCP link to PostgreSQL that can be cut (every connection dropped, new ones refused) and
/// restored, as when the database fails over or the network drops.
struct DatabaseLink {
    address: std::net::SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    /// Bumped on every cut: connections opened before it end.
    generation: Arc<tokio::sync::watch::Sender<u64>>,
}

impl DatabaseLink {
    async fn start(upstream: String) -> DatabaseLink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let generation = Arc::new(tokio::sync::watch::channel(0).0);
        let (open, cuts) = (Arc::clone(&up), Arc::clone(&generation));
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !open.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let (upstream, mut cut) = (upstream.clone(), cuts.subscribe());
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        DatabaseLink {
            address,
            up,
            generation,
        }
    }

    /// `url` with its host and port replaced by this link's.
    fn url(&self, url: &str) -> String {
        let mut url = reqwest::Url::parse(url).expect("database URL");
        url.set_host(Some("127.0.0.1")).expect("host");
        url.set_port(Some(self.address.port())).expect("port");
        url.to_string()
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The upstream `host:port` of a PostgreSQL URL.
fn host_port(url: &str) -> String {
    let url = reqwest::Url::parse(url).expect("database URL");
    format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5432)
    )
}

async fn ready(client: &reqwest::Client, base: &str) -> (StatusCode, Value) {
    let response = client
        .get(format!("{base}/health/ready"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("the probe is answered");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_database_makes_both_services_unready_and_refuse_promptly_until_it_returns() {
    let database = test_schema_url().await;
    let link = DatabaseLink::start(host_port(&database)).await;
    let env = |extra: Vec<(&'static str, String)>| {
        let mut env = service_env(&link.url(&database), 4, "error");
        env.push(("DATABASE_ACQUIRE_TIMEOUT_MS", "1000".to_owned()));
        env.extend(extra);
        env
    };
    let course_service = ServiceProcess::start("course-service", &env(vec![]));
    let order_service = ServiceProcess::start(
        "order-service",
        &env(vec![
            ("COURSE_SERVICE_URL", course_service.base()),
            ("ORDER_DEADLINE_MS", "3000".to_owned()),
        ]),
    );
    let keys = TokenKeys::from_secret(SECRET).expect("keys");
    let client = reqwest::Client::new();
    let course = create_course(&course_service.base(), &keys, 10, 500).await;
    let bases = [course_service.base(), order_service.base()];
    for base in &bases {
        let (status, body) = ready(&client, base).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["checks"]["database"], "ok", "{body}");
    }
    let buy = |student: &str| {
        let token = keys.mint(student, Role::Student, 600);
        client
            .post(format!("{}/api/orders", order_service.base()))
            .bearer_auth(token)
            .json(&json!({"course_id": course}))
            .timeout(Duration::from_secs(15))
            .send()
    };
    assert_eq!(
        buy("before").await.expect("answer").status(),
        StatusCode::CREATED
    );

    link.cut();
    for base in &bases {
        let started = Instant::now();
        let (status, body) = ready(&client, base).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{base}: {body}");
        assert_eq!(body["checks"]["database"], "failed", "{base}: {body}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a probe answers within 1 s"
        );
    }
    // A purchase is refused (or left pending), never hung and never a success.
    let started = Instant::now();
    let answer = buy("during").await.expect("answered");
    let status = answer.status();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    assert!(
        status == StatusCode::SERVICE_UNAVAILABLE,
        "{status}: {body}"
    );
    assert!(body["code"].is_string(), "{body}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let read = client
        .get(format!("{}/api/courses/{course}", course_service.base()))
        .send()
        .await
        .expect("answered");
    assert_eq!(read.status(), StatusCode::SERVICE_UNAVAILABLE);

    link.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    for base in &bases {
        while ready(&client, base).await.0 != StatusCode::OK {
            assert!(
                Instant::now() < deadline,
                "{base} ready again after the database returns"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert_eq!(
        buy("after").await.expect("answer").status(),
        StatusCode::CREATED
    );
    let seats = read_course(&client, &course_service.base(), &course).await;
    assert_eq!(seats["seats_sold"], 2, "{seats}");
    assert_eq!(seats["seats_held"], 0, "{seats}");
}

/// Follows the event feed at `base` (long polls) until `until` says it has seen enough, or 60 s.
async fn follow(
    client: &reqwest::Client,
    base: &str,
    keys: &TokenKeys,
    until: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let token = keys.mint("feed-reader", Role::Service, 300);
    let started = Instant::now();
    let mut seen: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    while !until(&seen) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the feed at {base} stopped after {} events",
            seen.len()
        );
        let mut url = format!("{base}/api/events?limit=50&wait_ms=1000");
        if let Some(c) = &cursor {
            url.push_str(&format!("&after={c}"));
        }
        let page: Value = client
            .get(url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("read the feed")
            .json()
            .await
            .expect("json");
        if let Some(next) = page["next_cursor"].as_str() {
            cursor = Some(next.to_owned());
        }
        seen.extend(page["items"].as_array().cloned().unwrap_or_default());
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_of_either_replica_get_every_event_once_in_the_same_order() {
    let replicas = Replicas::start(8000).await;
    const SEATS: usize = 120;
    let course = create_course(
        &replicas.courses[0].base(),
        &replicas.keys,
        SEATS as u32,
        900,
    )
    .await;
    let client = reqwest::Client::new();
    let confirmed = |events: &[Value]| {
        events
            .iter()
            .filter(|e| e["type"] == "reservation.confirmed")
            .count()
            >= SEATS
    };
    // One reader per course-service replica, following while the sale runs through both.
    let readers: Vec<_> = replicas
        .courses
        .iter()
        .map(|c| {
            let (client, base, keys) = (client.clone(), c.base(), replicas.keys.clone());
            tokio::spawn(async move { follow(&client, &base, &keys, confirmed).await })
        })
        .collect();
    let bases = replicas.order_bases();
    let outcomes: Vec<(StatusCode, String, Option<String>)> = stream::iter(0..SEATS)
        .map(|i| {
            let (to, client, course) = ((&bases[..], &replicas.keys), &client, &course);
            async move { buy(to, client, &format!("reader-{i}"), course, i % 2).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        outcomes.iter().all(|(s, _, _)| *s == StatusCode::CREATED),
        "{outcomes:?}\n{}",
        replicas.log()
    );
    let mut seen = Vec::new();
    for reader in readers {
        seen.push(reader.await.expect("reader"));
    }
    for events in &seen {
        let ours: Vec<&Value> = events.iter().filter(|e| e["course_id"] == course).collect();
        let held: std::collections::HashSet<&str> = ours
            .iter()
            .filter(|e| e["type"] == "reservation.held")
            .filter_map(|e| e["reservation_id"].as_str())
            .collect();
        let sold: Vec<&str> = ours
            .iter()
            .filter(|e| e["type"] == "reservation.confirmed")
            .filter_map(|e| e["reservation_id"].as_str())
            .collect();
        assert_eq!(held.len(), SEATS, "every hold told once");
        assert_eq!(sold.len(), SEATS, "every confirmation told once");
        let distinct: std::collections::HashSet<&&str> = sold.iter().collect();
        assert_eq!(distinct.len(), SEATS, "no confirmation told twice");
        // Each reservation's hold comes before its confirmation.
        for id in &sold {
            let at = |kind: &str| {
                ours.iter()
                    .position(|e| e["type"] == kind && e["reservation_id"] == *id)
            };
            assert!(at("reservation.held") < at("reservation.confirmed"));
        }
        let cursors: Vec<&str> = events.iter().filter_map(|e| e["cursor"].as_str()).collect();
        let mut sorted = cursors.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, cursors, "cursors strictly increase");
        let last = ours.last().expect("events");
        assert_eq!(last["course"]["seats_sold"], SEATS);
    }
    // Both replicas told the same story, event for event.
    let n = seen[0].len().min(seen[1].len());
    assert_eq!(seen[0][..n], seen[1][..n]);
}
