//! The order API end to end: the happy path, every error code, idempotent replay, cancel and
//! re-buy, listing, and who may see what.

use e2e_tests::TestCluster;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared_types::Role;
use uuid::Uuid;

#[tokio::test]
async fn a_student_buys_a_seat_and_the_order_is_confirmed_at_the_locked_price() {
    let cluster = TestCluster::spawn().await;
    let course = cluster.create_course(3, 4900).await;
    let reply = cluster.buy("stu1", course).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let order = &reply.body;
    assert_eq!(order["status"], "confirmed");
    assert_eq!(order["student_id"], "stu1");
    assert_eq!(order["course_id"], course.to_string());
    assert_eq!(order["unit_price_cents"], 4900);
    assert_eq!(order["currency"], "USD");
    assert!(order["failure_code"].is_null());
    assert!(
        order["reservation_id"]
            .as_str()
            .is_some_and(|s| s.parse::<Uuid>().is_ok())
    );
    let id = reply.order_id();
    assert_eq!(
        reply.headers["location"].to_str().ok(),
        Some(format!("/api/orders/{id}").as_str())
    );
    let read = cluster.get_order("stu1", id).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, reply.body);
    let c = cluster.course(course).await;
    assert_eq!(
        (
            c["seats_available"].as_u64(),
            c["seats_held"].as_u64(),
            c["seats_sold"].as_u64()
        ),
        (Some(2), Some(0), Some(1))
    );
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![1]);
}

#[tokio::test]
async fn the_request_id_of_an_order_is_echoed() {
    let cluster = TestCluster::spawn().await;
    let course = cluster.create_course(1, 100).await;
    let reply = cluster
        .order(
            "stu1",
            json!({"course_id": course}),
            &[("X-Request-Id", "order-trace-1")],
        )
        .await;
    assert_eq!(reply.headers["x-request-id"], "order-trace-1");
}

#[tokio::test]
async fn business_refusals_fail_the_order_with_the_contract_codes() {
    let cluster = TestCluster::spawn().await;
    let course = cluster.create_course(1, 700).await;
    assert_eq!(
        cluster.buy("stu1", course).await.status,
        StatusCode::CREATED
    );
    cluster
        .buy("stu2", course)
        .await
        .assert_problem(409, "sold_out");
    cluster
        .buy("stu1", Uuid::now_v7())
        .await
        .assert_problem(404, "course_not_found");
    let other = cluster.create_course(5, 1000).await;
    let stale = cluster
        .order(
            "stu1",
            json!({"course_id": other, "expected_price_cents": 900}),
            &[],
        )
        .await;
    stale.assert_problem(409, "price_changed");
    assert_eq!(stale.body["price_cents"], 1000);
    let agreed = cluster
        .order(
            "stu1",
            json!({"course_id": other, "expected_price_cents": 1000}),
            &[],
        )
        .await;
    assert_eq!(agreed.status, StatusCode::CREATED);
    cluster
        .buy("stu1", other)
        .await
        .assert_problem(409, "already_enrolled");
    let token = cluster.token(Role::Student, "stu2");
    let list = cluster
        .send(
            Method::GET,
            format!("{}/api/orders?status=failed", cluster.order_url),
            Some(&token),
            None,
            &[],
        )
        .await;
    let failed = list.body["items"].as_array().expect("items");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["failure_code"], "sold_out");
    assert!(failed[0]["unit_price_cents"].is_null());
    assert_eq!(cluster.settle_and_check(&[course, other]).await, vec![1, 1]);
}

#[tokio::test]
async fn invalid_order_requests_answer_400_and_change_nothing() {
    let cluster = TestCluster::spawn().await;
    let course = cluster.create_course(1, 700).await;
    for body in [
        json!({}),
        json!({"course_id": "not-a-uuid"}),
        json!({"course_id": course, "status": "confirmed"}),
        json!({"course_id": course, "unit_price_cents": 1}),
        json!({"course_id": course, "expected_price_cents": -1}),
    ] {
        cluster
            .order("stu1", body, &[])
            .await
            .assert_problem(400, "validation_failed");
    }
    let long_key = "k".repeat(256);
    cluster
        .order(
            "stu1",
            json!({"course_id": course}),
            &[("Idempotency-Key", long_key.as_str())],
        )
        .await
        .assert_problem(400, "validation_failed");
    assert!(cluster.all_orders().await.is_empty());
    assert_eq!(cluster.course(course).await["seats_available"], 1);
}

#[tokio::test]
async fn only_students_place_orders() {
    let cluster = TestCluster::spawn().await;
    let course = cluster.create_course(1, 700).await;
    let url = format!("{}/api/orders", cluster.order_url);
    let body = json!({"course_id": course});
    cluster
        .send(Method::POST, url.clone(), None, Some(body.clone()), &[])
        .await
        .assert_problem(401, "unauthorized");
    for role in [Role::Instructor, Role::Service] {
        let token = cluster.token(role, "someone");
        cluster
            .send(
                Method::POST,
                url.clone(),
                Some(&token),
                Some(body.clone()),
                &[],
            )
            .await
            .assert_problem(403, "forbidden");
    }
    assert_eq!(cluster.course(course).await["seats_available"], 1);
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_replays_the_first_response() {
    let cluster = TestCluster::spawn().await;
    let course = cluster.create_course(2, 700).await;
    let key = [("Idempotency-Key", "buy-once-123")];
    let first = cluster
        .order("stu1", json!({"course_id": course}), &key)
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = cluster
        .order("stu1", json!({"course_id": course}), &key)
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["location"], first.headers["location"]);
    assert_eq!(cluster.all_orders().await.len(), 1);
    assert_eq!(cluster.course(course).await["seats_sold"], 1);
    let other_body = cluster
        .order(
            "stu1",
            json!({"course_id": course, "expected_price_cents": 700}),
            &key,
        )
        .await;
    other_body.assert_problem(422, "idempotency_key_reused");
    let other_student = cluster
        .order("stu2", json!({"course_id": course}), &key)
        .await;
    assert_eq!(
        other_student.status,
        StatusCode::CREATED,
        "keys are per student"
    );
}

#[tokio::test]
async fn a_refusal_under_an_idempotency_key_is_replayed_too() {
    let cluster = TestCluster::spawn().await;
    let course = cluster.create_course(1, 700).await;
    cluster.buy("stu1", course).await;
    let key = [("Idempotency-Key", "k-1")];
    cluster
        .order("stu2", json!({"course_id": course}), &key)
        .await
        .assert_problem(409, "sold_out");
    cluster
        .order("stu2", json!({"course_id": course}), &key)
        .await
        .assert_problem(409, "sold_out");
    assert_eq!(cluster.all_orders().await.len(), 2);
}

#[tokio::test]
async fn a_concurrent_duplicate_under_the_same_key_answers_request_in_progress() {
    let cluster = TestCluster::spawn_with(e2e_tests::ClusterOptions::with_faults()).await;
    let course = cluster.create_course(1, 700).await;
    cluster.proxy().inject(
        e2e_tests::Target::Hold,
        e2e_tests::Fault::SlowResponse(std::time::Duration::from_millis(200)),
        1,
    );
    let key = [("Idempotency-Key", "same-key")];
    let body = json!({"course_id": course});
    let (a, b) = tokio::join!(cluster.order("stu1", body.clone(), &key), async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        cluster.order("stu1", body.clone(), &key).await
    });
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    b.assert_problem(409, "request_in_progress");
    let replay = cluster.order("stu1", body, &key).await;
    assert_eq!(replay.body, a.body);
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![1]);
}

#[tokio::test]
async fn a_cancelled_order_returns_its_seat_and_the_student_can_buy_again() {
    let cluster = TestCluster::spawn().await;
    let course = cluster.create_course(1, 700).await;
    let first = cluster.buy("stu1", course).await.order_id();
    for _ in 0..2 {
        let cancelled = cluster.cancel_order("stu1", first).await;
        assert_eq!(cancelled.status, StatusCode::OK);
        assert_eq!(cancelled.body["status"], "cancelled");
    }
    let c = cluster.course(course).await;
    assert_eq!(
        (c["seats_available"].as_u64(), c["seats_sold"].as_u64()),
        (Some(1), Some(0))
    );
    let again = cluster.buy("stu1", course).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_ne!(again.order_id(), first);
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![1]);
}

#[tokio::test]
async fn a_failed_order_cannot_be_cancelled() {
    let cluster = TestCluster::spawn().await;
    let course = cluster.create_course(1, 700).await;
    cluster.buy("stu1", course).await;
    cluster
        .buy("stu2", course)
        .await
        .assert_problem(409, "sold_out");
    let failed = cluster
        .all_orders()
        .await
        .into_iter()
        .find(|o| o.student_id == "stu2")
        .expect("order");
    cluster
        .cancel_order("stu2", failed.id)
        .await
        .assert_problem(409, "order_not_cancellable");
}

#[tokio::test]
async fn students_cannot_see_or_cancel_each_others_orders() {
    let cluster = TestCluster::spawn().await;
    let course = cluster.create_course(2, 700).await;
    let id = cluster.buy("stu1", course).await.order_id();
    cluster
        .get_order("stu2", id)
        .await
        .assert_problem(404, "order_not_found");
    cluster
        .cancel_order("stu2", id)
        .await
        .assert_problem(404, "order_not_found");
    cluster
        .get_order("stu1", Uuid::now_v7())
        .await
        .assert_problem(404, "order_not_found");
    let token = cluster.token(Role::Student, "stu2");
    let list = cluster
        .send(
            Method::GET,
            format!("{}/api/orders", cluster.order_url),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(list.body["items"], json!([]));
    assert_eq!(
        cluster.get_order("stu1", id).await.body["status"],
        "confirmed"
    );
    assert_eq!(cluster.course(course).await["seats_sold"], 1);
}

#[tokio::test]
async fn listing_pages_through_own_orders_newest_first() {
    let cluster = TestCluster::spawn().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let course = cluster.create_course(1, 100).await;
        ids.push(cluster.buy("stu1", course).await.order_id().to_string());
    }
    ids.reverse();
    let token = cluster.token(Role::Student, "stu1");
    let mut seen = Vec::new();
    let mut url = format!("{}/api/orders?limit=2", cluster.order_url);
    loop {
        let page = cluster
            .send(Method::GET, url.clone(), Some(&token), None, &[])
            .await;
        assert_eq!(page.status, StatusCode::OK);
        seen.extend(
            page.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|o| o["id"].as_str().unwrap_or("").to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => url = format!("{}/api/orders?limit=2&cursor={c}", cluster.order_url),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    for query in [
        "limit=0",
        "limit=101",
        "status=shipped",
        "cursor=zzz",
        "sort=asc",
    ] {
        cluster
            .send(
                Method::GET,
                format!("{}/api/orders?{query}", cluster.order_url),
                Some(&token),
                None,
                &[],
            )
            .await
            .assert_problem(400, "validation_failed");
    }
    let confirmed = cluster
        .send(
            Method::GET,
            format!("{}/api/orders?status=confirmed", cluster.order_url),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(confirmed.body["items"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn readiness_reports_course_service_reachability() {
    let cluster = TestCluster::spawn_with(e2e_tests::ClusterOptions::with_faults()).await;
    let ready = cluster
        .send(
            Method::GET,
            format!("{}/health/ready", cluster.order_url),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["checks"]["course_service"], "ok");
    cluster.proxy().stop().await;
    let down = cluster
        .send(
            Method::GET,
            format!("{}/health/ready", cluster.order_url),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.body["status"], "unavailable");
    let live = cluster
        .send(
            Method::GET,
            format!("{}/health/live", cluster.order_url),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(live.status, StatusCode::OK);
}

#[tokio::test]
async fn both_services_serve_their_openapi_document_and_docs_page() {
    let cluster = TestCluster::spawn().await;
    for base in [&cluster.course_url, &cluster.order_url] {
        let doc = cluster
            .send(Method::GET, format!("{base}/openapi.json"), None, None, &[])
            .await;
        assert_eq!(doc.status, StatusCode::OK);
        assert!(
            doc.body["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1"))
        );
        let page = cluster
            .client
            .get(format!("{base}/docs/"))
            .send()
            .await
            .expect("docs");
        assert_eq!(page.status(), StatusCode::OK);
    }
}

/// The value of the first sample of `name` whose labels contain every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_report_requests_seats_orders_and_calls() {
    let cluster = TestCluster::spawn().await;
    let course = cluster.create_course(3, 700).await;
    assert_eq!(
        cluster.buy("stu1", course).await.status,
        StatusCode::CREATED
    );
    cluster
        .buy("stu2", Uuid::now_v7())
        .await
        .assert_problem(404, "course_not_found");
    let scrape = |base: String| {
        let client = cluster.client.clone();
        async move {
            let response = client
                .get(format!("{base}/metrics"))
                .send()
                .await
                .expect("metrics");
            assert_eq!(response.status(), StatusCode::OK);
            assert!(
                response.headers()["content-type"]
                    .to_str()
                    .unwrap_or("")
                    .contains("openmetrics-text")
            );
            response.text().await.expect("text")
        }
    };
    let course_metrics = scrape(cluster.course_url.clone()).await;
    let hold_route = r#"route="/api/courses/{course_id}/reservations/{reservation_id}""#;
    assert_eq!(
        sample(
            &course_metrics,
            "course_http_requests_total",
            &[hold_route, r#"method="PUT""#, r#"status="201""#]
        ),
        Some(1.0),
        "{course_metrics}"
    );
    assert!(
        sample(
            &course_metrics,
            "course_http_request_duration_seconds_count",
            &[hold_route]
        )
        .is_some_and(|n| n >= 1.0)
    );
    assert_eq!(
        sample(&course_metrics, "course_holds_created_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        sample(&course_metrics, "course_holds_confirmed_total", &[]),
        Some(1.0)
    );
    assert_eq!(sample(&course_metrics, "course_seats_sold", &[]), Some(1.0));
    assert_eq!(
        sample(&course_metrics, "course_seats_available", &[]),
        Some(2.0)
    );
    assert_eq!(sample(&course_metrics, "course_courses", &[]), Some(1.0));

    let order_metrics = scrape(cluster.order_url.clone()).await;
    assert_eq!(
        sample(
            &order_metrics,
            "order_orders_placed_total",
            &[r#"outcome="confirmed""#]
        ),
        Some(1.0),
        "{order_metrics}"
    );
    assert_eq!(
        sample(
            &order_metrics,
            "order_orders_placed_total",
            &[r#"outcome="failed""#]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &order_metrics,
            "order_course_calls_total",
            &[r#"call="hold""#, r#"result="ok""#]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &order_metrics,
            "order_course_calls_total",
            &[r#"call="hold""#, r#"result="refused""#]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &order_metrics,
            "order_course_calls_total",
            &[r#"call="confirm""#, r#"result="ok""#]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&order_metrics, "order_course_call_attempts_total", &[]),
        Some(3.0),
        "no retries were needed"
    );
    assert_eq!(
        sample(&order_metrics, "order_reconciler_backlog", &[]),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &order_metrics,
            "order_http_requests_total",
            &[r#"route="/api/orders""#, r#"status="201""#]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn orders_placed_counts_new_orders_not_replays_or_refusals() {
    let cluster = TestCluster::spawn().await;
    let course = cluster.create_course(3, 700).await;
    let body = json!({"course_id": course});
    let key = [("Idempotency-Key", "k1")];
    for _ in 0..2 {
        let reply = cluster.order("stu1", body.clone(), &key).await;
        assert_eq!(reply.status, StatusCode::CREATED, "the second is a replay");
    }
    cluster
        .order("stu1", body.clone(), &[])
        .await
        .assert_problem(409, "already_enrolled");
    let metrics = cluster
        .client
        .get(format!("{}/metrics", cluster.order_url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let placed: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("order_orders_placed_total"))
        .collect();
    assert_eq!(
        placed,
        [r#"order_orders_placed_total{outcome="confirmed"} 1"#]
    );
    let help = metrics
        .lines()
        .find(|l| l.starts_with("# HELP order_orders_placed"))
        .expect("help");
    assert!(
        help.contains("New orders recorded by POST /api/orders"),
        "{help}"
    );
    assert!(help.contains("replays"), "{help}");
}
