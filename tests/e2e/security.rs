//! The authorization matrix: every endpoint of both services called by nobody, by each role, by
//! the owner and by another subject of the same role, and with expired, foreign-signed and unsigned
//! tokens. Every refusal changes nothing. Plus mass assignment on every body.

use e2e_tests::{TestCluster, cluster::SECRET};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared_types::Role;
use uuid::Uuid;

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Nobody,
    Alice,
    Bob,
    Stu1,
    Stu2,
    Service,
    Expired,
    ForeignSigned,
    Unsigned,
}

const EVERYONE: [Who; 9] = [
    Who::Nobody,
    Who::Alice,
    Who::Bob,
    Who::Stu1,
    Who::Stu2,
    Who::Service,
    Who::Expired,
    Who::ForeignSigned,
    Who::Unsigned,
];

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

fn token(cluster: &TestCluster, who: Who) -> Option<String> {
    use base64::Engine;
    let now = chrono::Utc::now().timestamp();
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    match who {
        Who::Nobody => None,
        Who::Alice => Some(cluster.token(Role::Instructor, "alice")),
        Who::Bob => Some(cluster.token(Role::Instructor, "bob")),
        Who::Stu1 => Some(cluster.token(Role::Student, "stu1")),
        Who::Stu2 => Some(cluster.token(Role::Student, "stu2")),
        Who::Service => Some(cluster.token(Role::Service, "order-service")),
        Who::Expired => Some(sign(
            &json!({"sub": "alice", "role": "instructor", "exp": now - 10}),
            SECRET,
        )),
        Who::ForeignSigned => Some(sign(
            &json!({"sub": "alice", "role": "instructor", "exp": now + 600}),
            "x".repeat(40).as_str(),
        )),
        Who::Unsigned => Some(format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&json!({"sub": "alice", "role": "instructor", "exp": now + 600}))
        )),
    }
}

/// The objects the matrix works on, made by their rightful owners.
struct Fixture {
    course: Uuid,
    order: Uuid,
    reservation: Uuid,
}

async fn fixture(cluster: &TestCluster) -> Fixture {
    let course = cluster.create_course(10, 1000).await;
    let order = cluster.buy("stu1", course).await;
    assert_eq!(order.status, StatusCode::CREATED);
    Fixture {
        course,
        order: order.order_id(),
        reservation: order.body["reservation_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("reservation"),
    }
}

/// Every course, order and reservation, as their owners see them.
async fn snapshot(cluster: &TestCluster, f: &Fixture) -> Vec<Value> {
    let service = Some(cluster.token(Role::Service, "checker"));
    let mut state = vec![cluster.course(f.course).await];
    let url = format!("{}/api/courses?limit=100", cluster.course_url);
    state.push(cluster.send(Method::GET, url, None, None, &[]).await.body);
    let url = format!(
        "{}/api/courses/{}/reservations/{}",
        cluster.course_url, f.course, f.reservation
    );
    state.push(
        cluster
            .send(Method::GET, url, service.as_deref(), None, &[])
            .await
            .body,
    );
    for student in ["stu1", "stu2"] {
        let url = format!("{}/api/orders?limit=100", cluster.order_url);
        state.push(
            cluster
                .send(
                    Method::GET,
                    url,
                    Some(&cluster.token(Role::Student, student)),
                    None,
                    &[],
                )
                .await
                .body,
        );
    }
    state
}

/// One row of the matrix: an endpoint and what each caller gets.
struct Row {
    method: Method,
    url: String,
    body: Option<Value>,
    expect: fn(Who) -> u16,
}

fn bad_token(who: Who) -> bool {
    matches!(
        who,
        Who::Nobody | Who::Expired | Who::ForeignSigned | Who::Unsigned
    )
}

fn rows(cluster: &TestCluster, f: &Fixture) -> Vec<Row> {
    let (cs, os) = (&cluster.course_url, &cluster.order_url);
    let reservation = format!(
        "{cs}/api/courses/{}/reservations/{}",
        f.course, f.reservation
    );
    let fresh = format!(
        "{cs}/api/courses/{}/reservations/{}",
        f.course,
        Uuid::now_v7()
    );
    vec![
        Row {
            method: Method::POST,
            url: format!("{cs}/api/courses"),
            body: Some(json!({"title": "t", "price_cents": 1, "seats": 1})),
            expect: |w| match w {
                w if bad_token(w) => 401,
                Who::Alice | Who::Bob => 201,
                _ => 403,
            },
        },
        Row {
            method: Method::GET,
            url: format!("{cs}/api/courses"),
            body: None,
            expect: |_| 200,
        },
        Row {
            method: Method::GET,
            url: format!("{cs}/api/courses/{}", f.course),
            body: None,
            expect: |_| 200,
        },
        Row {
            method: Method::GET,
            url: format!("{cs}/api/courses/{}/sales", f.course),
            body: None,
            expect: |w| match w {
                w if bad_token(w) => 401,
                Who::Alice => 200,
                _ => 403,
            },
        },
        Row {
            method: Method::PATCH,
            url: format!("{cs}/api/courses/{}/price", f.course),
            body: Some(json!({"price_cents": 1000})),
            expect: |w| match w {
                w if bad_token(w) => 401,
                Who::Alice => 200,
                _ => 403,
            },
        },
        Row {
            method: Method::PATCH,
            url: format!("{cs}/api/courses/{}/seats", f.course),
            body: Some(json!({"seats_total": 10})),
            expect: |w| match w {
                w if bad_token(w) => 401,
                Who::Alice => 200,
                _ => 403,
            },
        },
        Row {
            method: Method::PUT,
            url: fresh.clone(),
            body: Some(json!({"student_id": "walk-in"})),
            expect: |w| match w {
                w if bad_token(w) => 401,
                Who::Service => 201,
                _ => 403,
            },
        },
        Row {
            method: Method::GET,
            url: reservation.clone(),
            body: None,
            expect: service_only(200),
        },
        Row {
            method: Method::POST,
            url: format!("{reservation}/confirm"),
            body: None,
            expect: service_only(200),
        },
        Row {
            method: Method::POST,
            url: format!("{fresh}/release"),
            body: None,
            expect: service_only(404),
        },
        Row {
            method: Method::POST,
            url: format!(
                "{cs}/api/courses/{}/reservations/{}/cancel",
                f.course,
                Uuid::now_v7()
            ),
            body: None,
            expect: service_only(200),
        },
        Row {
            method: Method::POST,
            url: format!("{os}/api/orders"),
            body: Some(json!({"course_id": f.course})),
            expect: |w| match w {
                w if bad_token(w) => 401,
                Who::Stu1 => 409,
                Who::Stu2 => 201,
                _ => 403,
            },
        },
        Row {
            method: Method::GET,
            url: format!("{os}/api/orders/{}", f.order),
            body: None,
            expect: |w| match w {
                w if bad_token(w) => 401,
                Who::Stu1 => 200,
                Who::Stu2 => 404,
                _ => 403,
            },
        },
        Row {
            method: Method::GET,
            url: format!("{os}/api/orders"),
            body: None,
            expect: |w| match w {
                w if bad_token(w) => 401,
                Who::Stu1 | Who::Stu2 => 200,
                _ => 403,
            },
        },
        Row {
            method: Method::POST,
            url: format!("{os}/api/orders/{}/cancel", f.order),
            body: None,
            expect: |w| match w {
                w if bad_token(w) => 401,
                Who::Stu1 => 200,
                Who::Stu2 => 404,
                _ => 403,
            },
        },
    ]
}

/// Reservation routes: the service is let through (and gets `ok`), everyone else is refused.
fn service_only(ok: u16) -> fn(Who) -> u16 {
    match ok {
        200 => |w| {
            if bad_token(w) {
                401
            } else if w == Who::Service {
                200
            } else {
                403
            }
        },
        _ => |w| {
            if bad_token(w) {
                401
            } else if w == Who::Service {
                404
            } else {
                403
            }
        },
    }
}

#[tokio::test]
async fn every_endpoint_answers_every_caller_as_the_matrix_says_and_refusals_change_nothing() {
    let cluster = TestCluster::spawn().await;
    let f = fixture(&cluster).await;
    // Refusals first, each checked against the state before it; then the permitted calls.
    for permitted in [false, true] {
        for row in rows(&cluster, &f) {
            for who in EVERYONE {
                let expected = (row.expect)(who);
                if (expected < 400) != permitted {
                    continue;
                }
                let before = if permitted {
                    Vec::new()
                } else {
                    snapshot(&cluster, &f).await
                };
                let reply = cluster
                    .send(
                        row.method.clone(),
                        row.url.clone(),
                        token(&cluster, who).as_deref(),
                        row.body.clone(),
                        &[],
                    )
                    .await;
                assert_eq!(
                    reply.status.as_u16(),
                    expected,
                    "{who:?} {} {}: {}",
                    row.method,
                    row.url,
                    reply.body
                );
                if !permitted {
                    let code = reply.body["code"].as_str().unwrap_or("");
                    let expected_code = match expected {
                        401 => "unauthorized",
                        403 => "forbidden",
                        _ => code,
                    };
                    assert_eq!(code, expected_code, "{who:?} {} {}", row.method, row.url);
                    assert!(
                        expected != 404 || code.ends_with("_not_found"),
                        "{who:?}: {code}"
                    );
                    assert_eq!(
                        snapshot(&cluster, &f).await,
                        before,
                        "{who:?} {} {} changed state",
                        row.method,
                        row.url
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn fields_a_client_must_not_set_are_refused_everywhere_and_change_nothing() {
    let cluster = TestCluster::spawn().await;
    let f = fixture(&cluster).await;
    let alice = cluster.token(Role::Instructor, "alice");
    let service = cluster.token(Role::Service, "order-service");
    let student = cluster.token(Role::Student, "stu2");
    let forbidden_fields = [
        "seats_available",
        "seats_sold",
        "seats_held",
        "status",
        "instructor_id",
        "unit_price_cents",
        "id",
        "student_id",
    ];
    let targets: Vec<(Method, String, Value, String)> = vec![
        (
            Method::POST,
            format!("{}/api/courses", cluster.course_url),
            json!({"title": "t", "price_cents": 1, "seats": 1}),
            alice.clone(),
        ),
        (
            Method::PATCH,
            format!("{}/api/courses/{}/price", cluster.course_url, f.course),
            json!({"price_cents": 5}),
            alice.clone(),
        ),
        (
            Method::PATCH,
            format!("{}/api/courses/{}/seats", cluster.course_url, f.course),
            json!({"seats_total": 5}),
            alice,
        ),
        (
            Method::PUT,
            format!(
                "{}/api/courses/{}/reservations/{}",
                cluster.course_url,
                f.course,
                Uuid::now_v7()
            ),
            json!({"student_id": "s9"}),
            service,
        ),
        (
            Method::POST,
            format!("{}/api/orders", cluster.order_url),
            json!({"course_id": f.course}),
            student,
        ),
    ];
    let before = snapshot(&cluster, &f).await;
    for (method, url, body, token) in targets {
        for field in forbidden_fields {
            if body.get(field).is_some() {
                continue;
            }
            let mut sneaky = body.clone();
            sneaky[field] = json!(if field == "status" {
                json!("confirmed")
            } else {
                json!(0)
            });
            let reply = cluster
                .send(method.clone(), url.clone(), Some(&token), Some(sneaky), &[])
                .await;
            reply.assert_problem(400, "validation_failed");
        }
    }
    assert_eq!(snapshot(&cluster, &f).await, before);
}

#[tokio::test]
async fn tokens_and_the_secret_never_reach_the_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("services.log");
    let env = [
        ("AUTH_JWT_SECRET", SECRET.to_owned()),
        ("STORAGE", "memory".to_owned()),
        ("RUST_LOG", "debug".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
    ];
    let (mut course, mut orders) = e2e_tests::procs::start_both(&env, &log);
    let keys = service_kit::TokenKeys::from_secret(SECRET).expect("keys");
    let course_id = e2e_tests::procs::create_course(&course.base(), &keys, 2, 1).await;
    let (instructor, student) = (
        keys.mint("alice", Role::Instructor, 600),
        keys.mint("stu1", Role::Student, 600),
    );
    let forged = sign(
        &json!({"sub": "x", "role": "student", "exp": chrono::Utc::now().timestamp() + 60}),
        &"y".repeat(40),
    );
    let client = reqwest::Client::new();
    let order = client
        .post(format!("{}/api/orders", orders.base()))
        .bearer_auth(&student)
        .json(&json!({"course_id": course_id}))
        .send()
        .await
        .expect("order");
    assert_eq!(order.status(), StatusCode::CREATED);
    let refused = client
        .get(format!("{}/api/orders", orders.base()))
        .bearer_auth(&forged)
        .send()
        .await
        .expect("refused");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(orders.terminate(), Some(0));
    assert_eq!(course.terminate(), Some(0));
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("\"request\""),
        "the services logged requests: {}",
        &text[..text.len().min(500)]
    );
    for (what, secret) in [
        ("the secret", SECRET),
        ("an instructor token", instructor.as_str()),
        ("a student token", student.as_str()),
        ("a forged token", forged.as_str()),
    ] {
        let signature = secret.rsplit('.').next().unwrap_or(secret);
        assert!(!text.contains(signature), "{what} appears in the logs");
    }
}

/// Random request bodies and path segments, built from the shapes the API takes and breaks of
/// them: strings, numbers out of range, nested objects, wrong types, huge and empty values.
fn random_value(runner: &mut proptest::test_runner::TestRunner) -> Value {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        Just(json!("01a200f3-4bbf-747b-b605-0bdfd81d6685")),
        Just(json!(-1)),
        Just(json!(1_000_000_001i64)),
    ];
    let keys = prop::sample::select(vec![
        "title",
        "description",
        "price_cents",
        "currency",
        "seats",
        "seats_total",
        "student_id",
        "course_id",
        "expected_price_cents",
        "status",
        "x",
    ]);
    let value = leaf.prop_recursive(3, 16, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(keys.clone(), inner, 0..5).prop_map(|m| json!(m)),
        ]
    });
    value.new_tree(runner).expect("value").current()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bodies_and_ids_never_get_a_5xx_or_a_non_problem_error() {
    let cluster = TestCluster::spawn().await;
    let f = fixture(&cluster).await;
    let cases: usize = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let who = [Who::Alice, Who::Stu1, Who::Service, Who::Nobody];
    let ids = [
        f.course.to_string(),
        Uuid::now_v7().to_string(),
        "not-a-uuid".to_owned(),
        "%ff%00".to_owned(),
        "..".to_owned(),
    ];
    for case in 0..cases {
        let id = &ids[case % ids.len()];
        let (method, url) = match case % 9 {
            0 => (Method::POST, format!("{}/api/courses", cluster.course_url)),
            1 => (
                Method::PATCH,
                format!("{}/api/courses/{id}/price", cluster.course_url),
            ),
            2 => (
                Method::PATCH,
                format!("{}/api/courses/{id}/seats", cluster.course_url),
            ),
            3 => (
                Method::PUT,
                format!("{}/api/courses/{id}/reservations/{id}", cluster.course_url),
            ),
            4 => (
                Method::POST,
                format!(
                    "{}/api/courses/{id}/reservations/{id}/confirm",
                    cluster.course_url
                ),
            ),
            5 => (
                Method::GET,
                format!("{}/api/courses?limit={id}&cursor={id}", cluster.course_url),
            ),
            6 => (Method::POST, format!("{}/api/orders", cluster.order_url)),
            7 => (
                Method::GET,
                format!("{}/api/orders?status={id}", cluster.order_url),
            ),
            _ => (
                Method::POST,
                format!("{}/api/orders/{id}/cancel", cluster.order_url),
            ),
        };
        let body = random_value(&mut runner);
        let caller = who[case % who.len()];
        let reply = cluster
            .send(
                method.clone(),
                url.clone(),
                token(&cluster, caller).as_deref(),
                Some(body.clone()),
                &[],
            )
            .await;
        assert!(
            reply.status.as_u16() < 500,
            "{method} {url} {body} as {caller:?}: {} {}",
            reply.status,
            reply.body
        );
        if !reply.status.is_success() {
            let ct = reply
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            assert!(
                ct.starts_with("application/problem+json"),
                "{method} {url}: {ct}"
            );
            assert!(
                reply.body["code"].is_string(),
                "{method} {url}: {}",
                reply.body
            );
        }
    }
    assert_eq!(cluster.settle_and_check(&[f.course]).await.len(), 1);
}

#[tokio::test]
async fn a_token_whose_sub_holds_a_control_character_is_refused_with_401_by_both_services() {
    let cluster = TestCluster::spawn().await;
    let course = cluster.create_course(3, 1000).await;
    let exp = chrono::Utc::now().timestamp() + 300;
    let student = sign(
        &json!({"sub": "bob\tsmith", "role": "student", "exp": exp}),
        SECRET,
    );
    let placed = cluster
        .send(
            Method::POST,
            format!("{}/api/orders", cluster.order_url),
            Some(&student),
            Some(json!({"course_id": course})),
            &[],
        )
        .await;
    placed.assert_problem(401, "unauthorized");
    assert!(placed.headers.contains_key("www-authenticate"));
    let service = sign(
        &json!({"sub": "order\nservice", "role": "service", "exp": exp,
                "iat": exp - 300, "aud": "course-service"}),
        SECRET,
    );
    cluster
        .send(
            Method::PUT,
            format!(
                "{}/api/courses/{course}/reservations/{}",
                cluster.course_url,
                Uuid::now_v7()
            ),
            Some(&service),
            Some(json!({"student_id": "s1"})),
            &[],
        )
        .await
        .assert_problem(401, "unauthorized");
    assert_eq!(cluster.course(course).await["seats_held"], 0);
}
