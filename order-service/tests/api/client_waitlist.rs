//! The waitlist and feed calls of the HTTP client against a mock course-service: the paths,
//! queries and bodies it sends (with the service token and the request id), what each answer
//! means, which failures are retried, and a long poll's timeout above its wait.

use order_service::{
    course_client::{
        CourseError, FeedClient, FeedRead, HttpCourseClient, HttpCourseClientConfig, WaitlistClient,
    },
    domain::{CourseId, StudentId},
};
use serde_json::json;
use service_kit::TokenKeys;
use shared_types::{ErrorCode, Role, WaitlistStatus};
use std::time::{Duration, Instant};
use uuid::Uuid;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

const SECRET: &str = "client-test-secret-0123456789abcdefghijklmnop";

fn client(base_url: &str, timeout_ms: u64) -> HttpCourseClient {
    let config = HttpCourseClientConfig {
        base_url: base_url.into(),
        timeout: Duration::from_millis(timeout_ms),
        max_retries: 2,
    };
    HttpCourseClient::new(&config, TokenKeys::from_secret(SECRET).expect("keys")).expect("client")
}

fn entry(course: Uuid, status: &str, reservation: Option<Uuid>) -> serde_json::Value {
    json!({
        "id": Uuid::now_v7(), "course_id": course, "student_id": "s1", "status": status,
        "position": if status == "waiting" { json!(1) } else { json!(null) },
        "reservation_id": reservation,
        "created_at": "2030-01-01T00:00:00Z", "updated_at": "2030-01-01T00:00:00Z"
    })
}

fn problem(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/problem+json")
        .set_body_json(
            json!({"type": "x", "title": "t", "status": status, "detail": "d", "code": code}),
        )
}

fn assert_service_call(sent: &wiremock::Request) {
    assert_eq!(sent.headers["x-request-id"], "req-7");
    let token = sent.headers["authorization"]
        .to_str()
        .expect("ascii")
        .trim_start_matches("Bearer ");
    let claims = TokenKeys::from_secret(SECRET)
        .expect("keys")
        .verify(token)
        .expect("a token course-service accepts");
    assert!(claims.has(Role::Service));
}

fn s1() -> StudentId {
    StudentId::new("s1")
}

#[tokio::test]
async fn a_join_posts_the_student_to_the_courses_waitlist_and_tells_201_from_200() {
    let server = MockServer::start().await;
    let course = CourseId::generate();
    let at = format!("/api/courses/{course}/waitlist");
    Mock::given(method("POST"))
        .and(path(at.as_str()))
        .respond_with(ResponseTemplate::new(201).set_body_json(entry(
            course.as_uuid(),
            "waiting",
            None,
        )))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(at.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(entry(
            course.as_uuid(),
            "waiting",
            None,
        )))
        .mount(&server)
        .await;
    let client = client(&server.uri(), 500);
    let first = client
        .join_waitlist(course, &s1(), "req-7")
        .await
        .expect("joined");
    assert!(first.created);
    assert_eq!(
        (first.entry.status, first.entry.position),
        (WaitlistStatus::Waiting, Some(1))
    );
    let again = client
        .join_waitlist(course, &s1(), "req-7")
        .await
        .expect("joined");
    assert!(!again.created);
    let sent = &server.received_requests().await.expect("recorded")[0];
    assert_service_call(sent);
    let body: serde_json::Value = serde_json::from_slice(&sent.body).expect("json");
    assert_eq!(body, json!({"student_id": "s1"}));
}

#[tokio::test]
async fn join_refusals_come_back_with_their_code_after_one_attempt() {
    for (status, code) in [
        (404, ErrorCode::CourseNotFound),
        (409, ErrorCode::SeatsAvailable),
        (409, ErrorCode::AlreadyEnrolled),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(problem(status, code.as_str()))
            .mount(&server)
            .await;
        let refused = client(&server.uri(), 500)
            .join_waitlist(CourseId::generate(), &s1(), "req-7")
            .await
            .expect_err("refused");
        assert!(refused.is_refusal(code), "{refused:?}");
        let sent = server.received_requests().await.expect("recorded").len();
        assert_eq!(sent, 1, "{code} was retried");
    }
}

#[tokio::test]
async fn the_list_asks_for_the_students_entries_and_a_leave_posts_to_the_entry() {
    let server = MockServer::start().await;
    let (course, hold) = (Uuid::now_v7(), Uuid::now_v7());
    let left = entry(course, "left", Some(hold));
    let id = left["id"].as_str().expect("id").to_owned();
    Mock::given(method("GET"))
        .and(path("/api/waitlist"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [left.clone()]})))
        .mount(&server)
        .await;
    let leave = format!("/api/waitlist/entries/{id}/leave");
    Mock::given(method("POST"))
        .and(path(leave.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(left))
        .mount(&server)
        .await;
    let client = client(&server.uri(), 500);
    let listed = client
        .waitlist_of(&StudentId::new("s 1&x"), "req-7")
        .await
        .expect("listed");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].reservation_id, Some(hold));
    let gone = client
        .leave_waitlist(Uuid::parse_str(&id).expect("uuid"), &s1(), "req-7")
        .await
        .expect("left");
    assert_eq!(gone.status, WaitlistStatus::Left);
    let sent = server.received_requests().await.expect("recorded");
    let pairs: Vec<(String, String)> = sent[0].url.query_pairs().into_owned().collect();
    assert_eq!(pairs, [("student_id".to_owned(), "s 1&x".to_owned())]);
    assert_service_call(&sent[1]);
    let body: serde_json::Value = serde_json::from_slice(&sent[1].body).expect("json");
    assert_eq!(body, json!({"student_id": "s1"}));
}

#[tokio::test]
async fn a_waitlist_call_answered_503_is_retried_and_an_unreachable_service_is_not_delivered() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .mount(&server)
        .await;
    let listed = client(&server.uri(), 500).waitlist_of(&s1(), "req-7").await;
    assert_eq!(listed, Ok(Vec::new()));
    assert_eq!(server.received_requests().await.expect("recorded").len(), 2);
    let nowhere = client("http://127.0.0.1:9", 200)
        .waitlist_of(&s1(), "req-7")
        .await;
    assert_eq!(nowhere, Err(CourseError::NotDelivered));
}

fn read(after: Option<&str>, wait_ms: u64) -> FeedRead {
    FeedRead {
        after: after.map(str::to_owned),
        limit: 200,
        wait: Duration::from_millis(wait_ms),
        request_id: "req-7".into(),
    }
}

#[tokio::test]
async fn a_feed_read_sends_its_cursor_limit_and_wait_and_reads_the_events() {
    let server = MockServer::start().await;
    let event = json!({
        "cursor": "ev1_0000000000000002", "type": "reservation.offered", "course_id": Uuid::now_v7(),
        "reservation_id": Uuid::now_v7(), "student_id": "s1", "at": "2030-01-01T00:00:00Z",
        "course": {"seats_total": 1, "seats_available": 0, "seats_held": 1, "seats_sold": 0, "waitlist_length": 0}
    });
    Mock::given(method("GET"))
        .and(path("/api/events"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": [event], "next_cursor": "ev1_0000000000000002"})),
        )
        .mount(&server)
        .await;
    let client = client(&server.uri(), 500);
    let page = client
        .events(&read(Some("ev1_0000000000000001"), 25_000))
        .await
        .expect("read");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].kind, "reservation.offered");
    assert_eq!(page.next_cursor.as_deref(), Some("ev1_0000000000000002"));
    let from_start = client.events(&read(None, 0)).await.expect("read");
    assert_eq!(from_start.items.len(), 1);
    let sent = server.received_requests().await.expect("recorded");
    assert_service_call(&sent[0]);
    assert_eq!(
        sent[0].headers["connection"], "close",
        "a connection of its own"
    );
    let query = |i: usize| sent[i].url.query().unwrap_or_default().to_owned();
    assert_eq!(
        query(0),
        "after=ev1_0000000000000001&limit=200&wait_ms=25000"
    );
    assert_eq!(query(1), "limit=200&wait_ms=0");
}

#[tokio::test]
async fn an_expired_cursor_is_a_cursor_expired_refusal() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(problem(410, "cursor_expired"))
        .mount(&server)
        .await;
    let answer = client(&server.uri(), 500)
        .events(&read(Some("ev1_0000000000000001"), 0))
        .await;
    let refused = answer.expect_err("refused");
    assert!(refused.is_refusal(ErrorCode::CursorExpired), "{refused:?}");
}

#[tokio::test]
async fn a_long_poll_may_last_its_wait_but_not_much_longer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": [], "next_cursor": null}))
                .set_delay(Duration::from_millis(600)),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": [], "next_cursor": null}))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    // A wait of 500 ms with a 300 ms timeout on top: an answer after 600 ms is read...
    let client = client(&server.uri(), 300);
    let page = client.events(&read(None, 500)).await.expect("read");
    assert!(page.items.is_empty());
    // ...one that takes seconds is cut off after about 800 ms, in one attempt.
    let started = Instant::now();
    let late = client.events(&read(None, 500)).await;
    assert!(matches!(late, Err(CourseError::Unknown(_))), "{late:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(750) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(server.received_requests().await.expect("recorded").len(), 2);
}
