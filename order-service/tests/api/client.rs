//! The HTTP client against a mock course-service: which failures are retried, how often, within
//! which time, and what each outcome means.

use order_service::{
    course_client::{
        CallContext, CourseClient, CourseError, HttpCourseClient, HttpCourseClientConfig,
    },
    domain::{CourseId, ReservationId, StudentId},
};
use serde_json::json;
use service_kit::TokenKeys;
use shared_types::{ErrorCode, Role};
use std::time::{Duration, Instant};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path_regex},
};

const SECRET: &str = "client-test-secret-0123456789abcdefghijklmnop";

fn client(base_url: &str, timeout_ms: u64, retries: u32) -> HttpCourseClient {
    let config = HttpCourseClientConfig {
        base_url: base_url.into(),
        timeout: Duration::from_millis(timeout_ms),
        max_retries: retries,
    };
    HttpCourseClient::new(&config, TokenKeys::from_secret(SECRET).expect("keys")).expect("client")
}

fn ctx() -> CallContext {
    CallContext {
        course_id: CourseId::generate(),
        reservation_id: ReservationId::generate(),
        request_id: "req-42".into(),
    }
}

fn s1() -> StudentId {
    StudentId::new("s1")
}

fn reservation(ctx: &CallContext, status: &str) -> serde_json::Value {
    json!({
        "id": ctx.reservation_id, "course_id": ctx.course_id, "student_id": "s1",
        "unit_price_cents": 1000, "currency": "USD", "status": status,
        "expires_at": "2030-01-01T00:00:00Z", "created_at": "2030-01-01T00:00:00Z", "updated_at": "2030-01-01T00:00:00Z"
    })
}

fn problem(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/problem+json")
        .set_body_json(json!({"type": "x", "title": "t", "status": status, "detail": "d", "code": code, "price_cents": 1200}))
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

#[tokio::test]
async fn a_hold_sends_the_body_a_service_token_and_the_request_id() {
    let server = MockServer::start().await;
    let ctx = ctx();
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201).set_body_json(reservation(&ctx, "held")))
        .mount(&server)
        .await;
    let held = client(&server.uri(), 500, 3)
        .reserve(&ctx, &s1(), Some(1000))
        .await
        .expect("held");
    assert_eq!(held.unit_price_cents, 1000);
    let sent = &server.received_requests().await.expect("recorded")[0];
    assert_eq!(
        sent.url.path(),
        format!(
            "/api/courses/{}/reservations/{}",
            ctx.course_id, ctx.reservation_id
        )
    );
    assert_eq!(sent.headers["x-request-id"], "req-42");
    let body: serde_json::Value = serde_json::from_slice(&sent.body).expect("json");
    assert_eq!(
        body,
        json!({"student_id": "s1", "expected_price_cents": 1000})
    );
    let token = sent.headers["authorization"]
        .to_str()
        .expect("ascii")
        .trim_start_matches("Bearer ");
    let claims = TokenKeys::from_secret(SECRET)
        .expect("keys")
        .verify(token)
        .expect("a token course-service accepts");
    // `verify` accepts a service token only with course-service as audience and at most 300 s
    // of life.
    assert!(claims.has(Role::Service));
}

#[tokio::test]
async fn business_refusals_are_answered_after_one_attempt_with_their_code() {
    for (status, code) in [
        (409, "sold_out"),
        (409, "price_changed"),
        (404, "course_not_found"),
        (410, "reservation_expired"),
        (400, "validation_failed"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("PUT"))
            .respond_with(problem(status, code))
            .mount(&server)
            .await;
        let result = client(&server.uri(), 500, 3)
            .reserve(&ctx(), &s1(), None)
            .await;
        let CourseError::Refused {
            status: got,
            code: got_code,
            price_cents,
        } = result.expect_err("refused")
        else {
            panic!("not a refusal");
        };
        assert_eq!((got, got_code.as_str()), (status, code));
        assert_eq!(price_cents, Some(1200));
        assert_eq!(requests(&server).await, 1, "{code} was retried");
    }
}

#[tokio::test]
async fn two_503s_then_success_takes_three_attempts() {
    let server = MockServer::start().await;
    let ctx = ctx();
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(reservation(&ctx, "confirmed")))
        .mount(&server)
        .await;
    let confirmed = client(&server.uri(), 500, 3)
        .confirm(&ctx)
        .await
        .expect("confirmed");
    assert_eq!(confirmed.status, shared_types::ReservationStatus::Confirmed);
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn overload_and_gateway_errors_are_retried_up_to_the_limit_then_unknown() {
    for status in [429u16, 502, 503, 504] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
        let result = client(&server.uri(), 500, 2).get_reservation(&ctx()).await;
        assert!(
            matches!(result, Err(CourseError::Unknown(_))),
            "{status}: {result:?}"
        );
        assert_eq!(requests(&server).await, 3, "{status}");
    }
}

#[tokio::test]
async fn a_500_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let result = client(&server.uri(), 500, 3)
        .reserve(&ctx(), &s1(), None)
        .await;
    assert!(matches!(result, Err(CourseError::Unknown(_))));
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn a_reply_slower_than_the_timeout_is_retried_then_unknown_within_the_bound() {
    let server = MockServer::start().await;
    let ctx = ctx();
    Mock::given(method("PUT"))
        .and(path_regex("/reservations/"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(reservation(&ctx, "held"))
                .set_delay(Duration::from_millis(800)),
        )
        .mount(&server)
        .await;
    let started = Instant::now();
    let result = client(&server.uri(), 200, 2)
        .reserve(&ctx, &s1(), None)
        .await;
    assert!(matches!(result, Err(CourseError::Unknown(_))), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_millis(200 * 3 + 1200),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn a_refused_connection_on_every_attempt_is_not_delivered_and_fast() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let started = Instant::now();
    let result = client(&format!("http://127.0.0.1:{port}"), 1000, 3)
        .reserve(&ctx(), &s1(), None)
        .await;
    assert_eq!(result.expect_err("refused"), CourseError::NotDelivered);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreadable_success_body_is_unknown_not_success() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("oops"))
        .mount(&server)
        .await;
    let result = client(&server.uri(), 500, 1).get_reservation(&ctx()).await;
    assert!(matches!(result, Err(CourseError::Unknown(_))));
    assert!(!matches!(
        result,
        Err(CourseError::Refused {
            code: ErrorCode::Unknown,
            ..
        })
    ));
}

#[tokio::test]
async fn reachability_probes_health_live_under_the_base_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path("/courses-api/health/live"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    assert!(
        client(&format!("{}/courses-api/", server.uri()), 500, 0)
            .is_reachable()
            .await
    );
    assert!(
        !client(&server.uri(), 500, 0).is_reachable().await,
        "wrong path answers 404"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    assert!(
        !client(&format!("http://127.0.0.1:{port}"), 500, 0)
            .is_reachable()
            .await
    );
}

#[tokio::test]
async fn calls_go_under_the_base_path() {
    let server = MockServer::start().await;
    let ctx = ctx();
    Mock::given(method("GET"))
        .and(wiremock::matchers::path(format!(
            "/prefix/api/courses/{}/reservations/{}",
            ctx.course_id, ctx.reservation_id
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(reservation(&ctx, "held")))
        .mount(&server)
        .await;
    let held = client(&format!("{}/prefix", server.uri()), 500, 0)
        .get_reservation(&ctx)
        .await;
    assert!(held.is_ok(), "{held:?}");
}
