//! Authentication and authorization: who may call what, and that refused calls change nothing.

use crate::helpers::{SECRET, TestApp, id_of, seats};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use shared_types::{Role, SERVICE_AUDIENCE};
use uuid::Uuid;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

fn unsigned(claims: &Value) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(claims)
    )
}

/// Tokens that must all be refused with 401 for any protected route.
fn bad_tokens(role: &str) -> Vec<(&'static str, String)> {
    let live = json!({"sub": "alice", "role": role, "exp": now() + 600, "aud": SERVICE_AUDIENCE});
    let expired = json!({"sub": "alice", "role": role, "exp": now() - 5, "aud": SERVICE_AUDIENCE});
    vec![
        ("expired", sign(&expired, SECRET)),
        (
            "badly signed",
            sign(&live, "another-secret-another-secret-another-secret"),
        ),
        ("alg none", unsigned(&live)),
        ("garbage", "not.a.token".to_owned()),
        (
            "no role",
            sign(&json!({"sub": "alice", "exp": now() + 600}), SECRET),
        ),
        (
            "no sub",
            sign(&json!({"role": role, "exp": now() + 600}), SECRET),
        ),
        (
            "no exp",
            sign(&json!({"sub": "alice", "role": role}), SECRET),
        ),
    ]
}

#[tokio::test]
async fn missing_and_invalid_tokens_answer_401_with_www_authenticate() {
    let app = TestApp::spawn().await;
    let body = json!({"title": "x", "price_cents": 1, "seats": 1});
    let missing = app
        .send(Method::POST, "/api/courses", None, Some(body.clone()))
        .await;
    missing.assert_problem(401, "unauthorized");
    assert_eq!(missing.headers["www-authenticate"], "Bearer");
    for (what, token) in bad_tokens("instructor") {
        let reply = app
            .send(
                Method::POST,
                "/api/courses",
                Some(&token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 401, "{what}: {}", reply.body);
        reply.assert_problem(401, "unauthorized");
        assert!(reply.headers.contains_key("www-authenticate"), "{what}");
    }
    let raw = app
        .client
        .post(format!("{}/api/courses", app.address))
        .header("authorization", "Basic YWxpY2U6cHc=")
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(raw.status().as_u16(), 401);
    assert_eq!(app.get("/api/courses").await.body["items"], json!([]));
}

#[tokio::test]
async fn reservation_routes_refuse_bad_tokens_and_change_nothing() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 100).await);
    let path = format!("/api/courses/{course}/reservations/{}", Uuid::now_v7());
    for (what, token) in bad_tokens("service") {
        let reply = app
            .send(
                Method::PUT,
                &path,
                Some(&token),
                Some(json!({"student_id": "s1"})),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 401, "{what}");
    }
    assert_eq!(seats(&app.course(&course).await), (1, 0, 0));
}

#[tokio::test]
async fn students_and_services_cannot_create_courses() {
    let app = TestApp::spawn().await;
    let body = json!({"title": "x", "price_cents": 1, "seats": 1});
    for role in [Role::Student, Role::Service] {
        let token = app.token(role, "mallory");
        app.send(
            Method::POST,
            "/api/courses",
            Some(&token),
            Some(body.clone()),
        )
        .await
        .assert_problem(403, "forbidden");
    }
    assert_eq!(app.get("/api/courses").await.body["items"], json!([]));
}

#[tokio::test]
async fn end_user_tokens_cannot_touch_reservations() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 100).await);
    let held = Uuid::now_v7();
    app.hold(&course, held, "s1").await;
    let fresh = format!("/api/courses/{course}/reservations/{}", Uuid::now_v7());
    let existing = format!("/api/courses/{course}/reservations/{held}");
    for role in [Role::Student, Role::Instructor] {
        let token = app.token(role, "s1");
        app.send(
            Method::PUT,
            &fresh,
            Some(&token),
            Some(json!({"student_id": "s1"})),
        )
        .await
        .assert_problem(403, "forbidden");
        app.send(Method::GET, &existing, Some(&token), None)
            .await
            .assert_problem(403, "forbidden");
        for action in ["confirm", "cancel", "release"] {
            app.send(
                Method::POST,
                &format!("{existing}/{action}"),
                Some(&token),
                None,
            )
            .await
            .assert_problem(403, "forbidden");
        }
    }
    assert_eq!(seats(&app.course(&course).await), (0, 1, 0));
    assert_eq!(app.reservation(&course, held).await.body["status"], "held");
}

#[tokio::test]
async fn another_instructor_cannot_change_a_course_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let before = app.create_course("alice", 5, 1000).await;
    let course = id_of(&before);
    let bob = app.token(Role::Instructor, "bob");
    app.send(
        Method::PATCH,
        &format!("/api/courses/{course}/price"),
        Some(&bob),
        Some(json!({"price_cents": 1})),
    )
    .await
    .assert_problem(403, "forbidden");
    app.send(
        Method::PATCH,
        &format!("/api/courses/{course}/seats"),
        Some(&bob),
        Some(json!({"seats_total": 1})),
    )
    .await
    .assert_problem(403, "forbidden");
    let student = app.token(Role::Student, "alice");
    app.send(
        Method::PATCH,
        &format!("/api/courses/{course}/price"),
        Some(&student),
        Some(json!({"price_cents": 1})),
    )
    .await
    .assert_problem(403, "forbidden");
    app.send(
        Method::PATCH,
        &format!("/api/courses/{course}/price"),
        None,
        Some(json!({"price_cents": 1})),
    )
    .await
    .assert_problem(401, "unauthorized");
    assert_eq!(app.course(&course).await, before);
}

#[tokio::test]
async fn service_tokens_for_another_audience_or_living_too_long_are_refused() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 100).await);
    let path = format!("/api/courses/{course}/reservations/{}", Uuid::now_v7());
    let other_audience = sign(
        &json!({"sub": "x", "role": "service", "exp": now() + 60, "aud": "billing"}),
        SECRET,
    );
    let no_audience = sign(
        &json!({"sub": "x", "role": "service", "exp": now() + 60}),
        SECRET,
    );
    let long_lived = sign(
        &json!({"sub": "x", "role": "service", "iat": now(), "exp": now() + 3600, "aud": SERVICE_AUDIENCE}),
        SECRET,
    );
    for token in [other_audience, no_audience, long_lived] {
        app.send(
            Method::PUT,
            &path,
            Some(&token),
            Some(json!({"student_id": "s1"})),
        )
        .await
        .assert_problem(401, "unauthorized");
    }
    assert_eq!(seats(&app.course(&course).await), (1, 0, 0));
}
