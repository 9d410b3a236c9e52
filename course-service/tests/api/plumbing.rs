//! Health, request ids, and problem+json for errors the framework raises before any handler.

use crate::helpers::{Reply, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared_types::Role;

#[tokio::test]
async fn health_endpoints_answer_ok_with_service_and_version() {
    let app = TestApp::spawn().await;
    for path in ["/health/live", "/health/ready", "/api/health"] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.body["status"], "ok");
        assert_eq!(reply.body["service"], "course-service");
        assert!(reply.body["version"].is_string());
        assert!(reply.body["checks"].is_object());
    }
}

#[tokio::test]
async fn a_callers_request_id_is_echoed_and_one_is_generated_otherwise() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(format!("{}/health/live", app.address))
        .header("X-Request-Id", "trace-abc-123")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["x-request-id"], "trace-abc-123");
    let generated = app.get("/api/courses/not-a-uuid").await;
    let id = generated.headers["x-request-id"].to_str().expect("ascii");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "generated id {id}");
}

#[tokio::test]
async fn a_request_id_with_control_characters_or_too_long_is_replaced() {
    let app = TestApp::spawn().await;
    let long = "x".repeat(200);
    let response = app
        .client
        .get(format!("{}/health/live", app.address))
        .header("X-Request-Id", long.as_str())
        .send()
        .await
        .expect("sent");
    assert_ne!(response.headers()["x-request-id"], long.as_str());
}

#[tokio::test]
async fn unknown_routes_answer_404_problem() {
    let app = TestApp::spawn().await;
    app.get("/api/nothing-here")
        .await
        .assert_problem(404, "not_found");
    app.get("/").await.assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_wrong_method_answers_405_problem() {
    let app = TestApp::spawn().await;
    app.send(Method::DELETE, "/api/courses", None, None)
        .await
        .assert_problem(405, "method_not_allowed");
    let course = uuid::Uuid::now_v7();
    let path = format!(
        "/api/courses/{course}/reservations/{}",
        uuid::Uuid::now_v7()
    );
    app.send(Method::POST, &path, None, None)
        .await
        .assert_problem(405, "method_not_allowed");
}

#[tokio::test]
async fn malformed_json_and_unknown_fields_answer_400_and_create_nothing() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Instructor, "alice");
    let response = app
        .client
        .post(format!("{}/api/courses", app.address))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .expect("sent");
    Reply::read(response)
        .await
        .assert_problem(400, "validation_failed");
    let mass_assignment = json!({"title": "x", "price_cents": 1, "seats": 1, "seats_sold": 1});
    app.send(
        Method::POST,
        "/api/courses",
        Some(&token),
        Some(mass_assignment),
    )
    .await
    .assert_problem(400, "validation_failed");
    let wrong_type = json!({"title": "x", "price_cents": "ten", "seats": 1});
    app.send(Method::POST, "/api/courses", Some(&token), Some(wrong_type))
        .await
        .assert_problem(400, "validation_failed");
    let list = app.get("/api/courses").await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn a_body_over_64_kib_answers_413() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Instructor, "alice");
    let big =
        json!({"title": "x", "description": "d".repeat(70 * 1024), "price_cents": 1, "seats": 1});
    app.send(Method::POST, "/api/courses", Some(&token), Some(big))
        .await
        .assert_problem(413, "payload_too_large");
}

#[tokio::test]
async fn a_body_that_is_not_json_answers_415() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Instructor, "alice");
    let response = app
        .client
        .post(format!("{}/api/courses", app.address))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("title=x")
        .send()
        .await
        .expect("sent");
    Reply::read(response)
        .await
        .assert_problem(415, "unsupported_media_type");
}

#[tokio::test]
async fn ids_that_are_not_uuids_answer_400_quickly() {
    let app = TestApp::spawn().await;
    app.get("/api/courses/42")
        .await
        .assert_problem(400, "validation_failed");
    app.get("/api/courses/%00%ff")
        .await
        .assert_problem(400, "validation_failed");
    let path = format!("/api/courses/{}/reservations/nope", uuid::Uuid::now_v7());
    app.send(Method::GET, &path, Some(&app.service()), None)
        .await
        .assert_problem(400, "validation_failed");
}

#[tokio::test]
async fn callers_over_their_rate_get_429_with_retry_after_and_services_are_exempt() {
    let app = TestApp::spawn_with(|c| {
        c.server.rate_limit_rps = 1;
        c.server.rate_limit_burst = 3;
    })
    .await;
    let alice = app.token(Role::Instructor, "alice");
    let body = json!({"title": "x", "price_cents": 1, "seats": 1});
    for _ in 0..3 {
        let reply = app
            .send(
                Method::POST,
                "/api/courses",
                Some(&alice),
                Some(body.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let limited = app
        .send(
            Method::POST,
            "/api/courses",
            Some(&alice),
            Some(body.clone()),
        )
        .await;
    limited.assert_problem(429, "rate_limited");
    assert!(
        limited.headers["retry-after"]
            .to_str()
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s >= 1)
    );
    let bob = app.token(Role::Instructor, "bob");
    assert_eq!(
        app.send(Method::POST, "/api/courses", Some(&bob), Some(body))
            .await
            .status,
        StatusCode::CREATED,
        "another subject has its own budget"
    );
    assert_eq!(
        app.get("/api/courses?instructor_id=alice").await.body["items"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "the refused request created nothing"
    );
    for _ in 0..20 {
        let path = format!(
            "/api/courses/{}/reservations/{}",
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7()
        );
        let reply = app
            .send(Method::GET, &path, Some(&app.service()), None)
            .await;
        assert_ne!(
            reply.status,
            StatusCode::TOO_MANY_REQUESTS,
            "service calls are never limited"
        );
    }
}

#[tokio::test]
async fn anonymous_callers_are_limited_per_address() {
    let app = TestApp::spawn_with(|c| {
        c.server.rate_limit_rps = 1;
        c.server.rate_limit_burst = 5;
    })
    .await;
    let statuses: Vec<u16> = futures::future::join_all((0..8).map(|_| app.get("/api/courses")))
        .await
        .iter()
        .map(|r| r.status.as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_head_or_body_is_cut_off() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let app = TestApp::spawn_with(|c| c.server.client_timeout_ms = 500).await;
    let port = app
        .address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .expect("port");
    let token = app.token(Role::Instructor, "alice");
    let cases = [
        "GET /health/live HTTP/1.1\r\nHost: x\r\n".to_owned(),
        format!(
            "POST /api/courses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\""
        ),
    ];
    for (i, request) in cases.into_iter().enumerate() {
        let handle = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            stream.write_all(request.as_bytes()).expect("write");
            let started = Instant::now();
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
            (
                started.elapsed(),
                String::from_utf8_lossy(&answer).into_owned(),
            )
        });
        let (waited, answer) = handle.await.expect("client");
        assert!(
            waited < Duration::from_secs(3),
            "held the connection for {waited:?}"
        );
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
        if i == 1 {
            assert!(
                answer.starts_with("HTTP/1.1 408") && answer.contains("request_timeout"),
                "slow body: {answer}"
            );
        }
    }
    assert_eq!(app.get("/api/courses").await.body["items"], json!([]));
}

/// Sends `request` on a fresh connection and reads the whole answer: (status, content type, body).
fn raw_exchange(port: u16, request: &[u8]) -> (u16, String, serde_json::Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    // A client may be cut off while it still writes (431): what it managed to send is enough.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (
        status,
        content_type,
        serde_json::from_str(body).unwrap_or_default(),
    )
}

#[tokio::test]
async fn the_frameworks_own_400_408_and_431_answer_problem_json_too() {
    let app = TestApp::spawn_with(|c| c.server.client_timeout_ms = 1000).await;
    let port: u16 = app
        .address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let huge = format!(
        "GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(512 * 1024)
    );
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /health/live HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    // (An oversized head is cut off when the server stops reading it: 431, or 408 when the
    // rest of the head never arrives.)
    let cases: [(&[u8], &[u16], &str); 5] = [
        (b"THIS IS NOT HTTP\r\n\r\n", &[400], "validation_failed"),
        (
            b"GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
            &[400],
            "validation_failed",
        ),
        (
            b"GET /health/live HTTP/1.1\r\nHost: x\r\n",
            &[408],
            "request_timeout",
        ),
        (huge.as_bytes(), &[431, 408], ""),
        (many.as_bytes(), &[431, 400, 408], ""),
    ];
    for (request, statuses, code) in cases {
        let request = request.to_vec();
        let (status, content_type, body) =
            tokio::task::spawn_blocking(move || raw_exchange(port, &request))
                .await
                .expect("client");
        assert!(statuses.contains(&status), "{status} {body}");
        let code = match (code, status) {
            ("", 400) => "validation_failed",
            ("", 408) => "request_timeout",
            ("", _) => "headers_too_large",
            (code, _) => code,
        };
        assert_eq!(content_type, "application/problem+json", "{status}");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status, "{body}");
    }
    // The connection filter leaves everything else alone.
    assert_eq!(app.get("/health/live").await.status, 200);
}
