//! Following one order through both services: by its request id in both services' log lines,
//! and, with an OTLP endpoint configured, by its trace: order-service continues the caller's
//! W3C `traceparent`, passes it to course-service, and both export their spans to the collector.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use e2e_tests::procs::{self, ServiceProcess};
use parking_lot::Mutex;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared_types::Role;
use std::sync::Arc;

const SECRET: &str = "tracing-test-secret-0123456789abcdefghijklmnop";

/// What a fake OpenTelemetry collector received: `(path, body)` of every export request.
type Exports = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// An OTLP/HTTP collector that accepts every export and keeps the raw protobuf bodies.
fn collector() -> (String, Exports) {
    let exports: Exports = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let kept = Arc::clone(&exports);
    let server = HttpServer::new(move || {
        let kept = Arc::clone(&kept);
        App::new()
            .app_data(web::PayloadConfig::new(16 << 20))
            .default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                kept.lock().push((req.path().to_owned(), body.to_vec()));
                async {
                    HttpResponse::Ok()
                        .content_type("application/x-protobuf")
                        .finish()
                }
            }))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(0)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    (url, exports)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn hex(bytes: &str) -> Vec<u8> {
    (0..bytes.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&bytes[i..i + 2], 16).expect("hex"))
        .collect()
}

#[tokio::test]
async fn one_order_is_one_trace_and_one_request_id_across_both_services() {
    let (collector_url, exports) = collector();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("services.log");
    let env = [
        ("AUTH_JWT_SECRET", SECRET.to_owned()),
        ("STORAGE", "memory".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "info".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector_url.clone()),
    ];
    let (mut course, mut orders) = procs::start_both(&env, &log);
    let keys = service_kit::TokenKeys::from_secret(SECRET).expect("keys");
    let course_id = procs::create_course(&course.base(), &keys, 3, 100).await;
    let client = reqwest::Client::new();

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let request_id = "follow-me-0001";
    let order = client
        .post(format!("{}/api/orders", orders.base()))
        .bearer_auth(keys.mint("stu1", Role::Student, 600))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .header("x-request-id", request_id)
        .json(&json!({"course_id": course_id}))
        .send()
        .await
        .expect("order");
    assert_eq!(order.status(), StatusCode::CREATED);
    assert_eq!(order.headers()["x-request-id"], request_id);

    // Stopping flushes the spans still batched.
    assert_eq!(orders.terminate(), Some(0));
    assert_eq!(course.terminate(), Some(0));

    // The logs: the order's request id on order-service's line and on each course-service call.
    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &Value| l["span"]["request_id"] == request_id)
        .collect();
    let routes: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["span"]["route"].as_str())
        .collect();
    assert!(
        routes.contains(&"/api/orders"),
        "no order-service line for {request_id} in:\n{}",
        &text[..text.len().min(3000)]
    );
    let course_calls = routes
        .iter()
        .filter(|r| r.starts_with("/api/courses/{course_id}/reservations/{reservation_id}"))
        .count();
    assert_eq!(
        course_calls, 2,
        "hold and confirm logged by course-service: {routes:?}"
    );

    // The trace: both services exported spans of the caller's trace.
    let exports = exports.lock().clone();
    assert!(!exports.is_empty(), "nothing was exported");
    assert!(exports.iter().all(|(path, _)| path == "/v1/traces"));
    let trace = hex(trace_id);
    for service in ["order-service", "course-service"] {
        assert!(
            exports
                .iter()
                .any(|(_, body)| { contains(body, service.as_bytes()) && contains(body, &trace) }),
            "{service} exported no span of the order's trace"
        );
    }
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_exported_or_propagated() {
    let (collector_url, exports) = collector();
    let env = vec![
        ("AUTH_JWT_SECRET", SECRET.to_owned()),
        ("STORAGE", "memory".to_owned()),
    ];
    let mut course = ServiceProcess::start("course-service", &env);
    let response = reqwest::Client::new()
        .get(format!("{}/api/courses", course.base()))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .expect("list");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(course.terminate(), Some(0));
    assert!(
        exports.lock().is_empty(),
        "exported to {collector_url} unasked"
    );
}
