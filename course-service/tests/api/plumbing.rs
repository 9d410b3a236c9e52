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
