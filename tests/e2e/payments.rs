//! Checkout end to end: both services and the Stripe sandbox, order-service speaking Stripe's API
//! to it and receiving its signed webhooks. Pay through the hosted page; never pay; cancel before
//! and after paying; a webhook lost, duplicated, held and delivered out of order; the sandbox
//! failing or hanging on session creation; a forged webhook; and a flash sale with payment. In
//! every case the seats and the money agree.

use e2e_tests::{ClusterOptions, TestCluster};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::{collections::HashMap, sync::Arc, time::Duration};
use uuid::Uuid;

fn options(ttl_secs: u64) -> ClusterOptions {
    ClusterOptions {
        payments: true,
        reservation_ttl_secs: ttl_secs,
        ..ClusterOptions::default()
    }
}

/// An order awaiting its payment: its id and its checkout (`payment`).
async fn checkout(cluster: &TestCluster, student: &str, course: Uuid) -> (Uuid, Value) {
    let reply = cluster.buy(student, course).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["status"], "awaiting_payment", "{}", reply.body);
    let payment = reply.body["payment"].clone();
    assert_eq!(payment["provider"], "stripe");
    assert_eq!(payment["status"], "open");
    assert!(payment["checkout_url"].as_str().is_some(), "{payment}");
    (reply.order_id(), payment)
}

/// The student clicks Pay on the hosted page (the form's POST): 303 to the success page.
async fn click_pay(cluster: &TestCluster, payment: &Value) {
    let _ = cluster;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let url = format!("{}/pay", payment["checkout_url"].as_str().expect("url"));
    let page = browser.post(url).send().await.expect("paid");
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    let to = page.headers()["location"].to_str().expect("location");
    assert!(to.contains(session_id(payment)), "{to}");
}

fn session_id(payment: &Value) -> &str {
    payment["checkout_session_id"].as_str().expect("session id")
}

async fn refunds_of(cluster: &TestCluster, intent: &str) -> usize {
    let path = format!("/v1/refunds?payment_intent={intent}&limit=100");
    let list = cluster.stripe(&path, None).await;
    list["data"].as_array().map_or(0, Vec::len)
}

async fn is(cluster: &TestCluster, student: &str, order: Uuid, status: &str) -> Value {
    let found = cluster
        .order_until(student, order, 20, |o| o["status"] == status)
        .await;
    assert_eq!(found["status"], status, "{found}");
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_student_pays_on_the_hosted_page_and_the_webhook_confirms_the_seat() {
    let cluster = TestCluster::spawn_with(options(300)).await;
    let course = cluster.create_course(3, 4900).await;
    let (order, payment) = checkout(&cluster, "s1", course).await;
    let held = cluster.course(course).await;
    assert_eq!(held["seats_held"], 1);
    let session = cluster
        .stripe(
            &format!("/v1/checkout/sessions/{}", session_id(&payment)),
            None,
        )
        .await;
    assert_eq!(session["amount_total"], 4900);
    assert_eq!(session["currency"], "usd");
    assert_eq!(session["client_reference_id"], order.to_string());
    assert_eq!(session["metadata"]["order_id"], order.to_string());
    click_pay(&cluster, &payment).await;
    let paid = is(&cluster, "s1", order, "confirmed").await;
    assert_eq!(paid["payment"]["status"], "paid");
    let c = cluster.course(course).await;
    assert_eq!(
        (c["seats_sold"].as_u64(), c["seats_held"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_never_paid_closes_with_the_hold_and_the_seat_goes_back() {
    let cluster = TestCluster::spawn_with(options(2)).await;
    let course = cluster.create_course(1, 900).await;
    let (order, payment) = checkout(&cluster, "s1", course).await;
    let failed = is(&cluster, "s1", order, "failed").await;
    assert_eq!(failed["failure_code"], "payment_not_completed");
    assert_eq!(failed["payment"]["status"], "expired");
    let session = cluster
        .stripe(
            &format!("/v1/checkout/sessions/{}", session_id(&payment)),
            None,
        )
        .await;
    assert_eq!(session["status"], "expired");
    assert_eq!(cluster.course(course).await["seats_available"], 1);
    // Another student gets the seat.
    let (next, payment) = checkout(&cluster, "s2", course).await;
    click_pay(&cluster, &payment).await;
    is(&cluster, "s2", next, "confirmed").await;
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_before_paying_closes_the_checkout_and_after_paying_refunds() {
    let cluster = TestCluster::spawn_with(options(300)).await;
    let course = cluster.create_course(2, 1500).await;
    let (unpaid, payment) = checkout(&cluster, "s1", course).await;
    let cancelled = cluster.cancel_order("s1", unpaid).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    let session = cluster
        .stripe(
            &format!("/v1/checkout/sessions/{}", session_id(&payment)),
            None,
        )
        .await;
    assert_eq!(session["status"], "expired");

    let (paid, payment) = checkout(&cluster, "s2", course).await;
    click_pay(&cluster, &payment).await;
    is(&cluster, "s2", paid, "confirmed").await;
    let refunded = cluster.cancel_order("s2", paid).await;
    assert_eq!(refunded.status, StatusCode::OK, "{}", refunded.body);
    assert_eq!(refunded.body["status"], "refunded");
    let session = cluster
        .stripe(
            &format!("/v1/checkout/sessions/{}", session_id(&payment)),
            None,
        )
        .await;
    let intent = session["payment_intent"].as_str().expect("paid");
    assert_eq!(refunds_of(&cluster, intent).await, 1);
    assert_eq!(
        cluster.cancel_order("s2", paid).await.body["status"],
        "refunded"
    );
    assert_eq!(
        refunds_of(&cluster, intent).await,
        1,
        "one refund however often asked"
    );
    let c = cluster.course(course).await;
    assert_eq!(
        (c["seats_sold"].as_u64(), c["seats_available"].as_u64()),
        (Some(0), Some(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_webhook_is_covered_by_reading_the_session() {
    let cluster = TestCluster::spawn_with(options(300)).await;
    let course = cluster.create_course(1, 900).await;
    cluster
        .sandbox_control("webhooks", json!({"mode": "drop"}))
        .await;
    let (order, payment) = checkout(&cluster, "s1", course).await;
    click_pay(&cluster, &payment).await;
    // PAYMENT_POLL_SECS=1 in these tests: the order looks at its session on its own.
    is(&cluster, "s1", order, "confirmed").await;
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_duplicated_held_and_out_of_order_apply_once() {
    let cluster = TestCluster::spawn_with(options(300)).await;
    let course = cluster.create_course(2, 900).await;
    cluster
        .sandbox_control("webhooks", json!({"mode": "hold", "duplicate": 2}))
        .await;
    let (first, payment) = checkout(&cluster, "s1", course).await;
    let (second, other) = checkout(&cluster, "s2", course).await;
    click_pay(&cluster, &payment).await;
    click_pay(&cluster, &other).await;
    cluster
        .sandbox_control("webhooks/release", json!({"order": "reverse"}))
        .await;
    is(&cluster, "s1", first, "confirmed").await;
    is(&cluster, "s2", second, "confirmed").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = cluster.course(course).await;
    assert_eq!(
        (c["seats_sold"].as_u64(), c["seats_held"].as_u64()),
        (Some(2), Some(0))
    );
    for p in [&payment, &other] {
        let session = cluster
            .stripe(&format!("/v1/checkout/sessions/{}", session_id(p)), None)
            .await;
        let intent = session["payment_intent"].as_str().expect("paid");
        assert_eq!(refunds_of(&cluster, intent).await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_checkout_answers_503_and_leaves_nothing_held() {
    let cluster = TestCluster::spawn_with(options(300)).await;
    let course = cluster.create_course(1, 900).await;
    for fault in [
        json!({"create_session": "error500"}),
        json!({"create_session": "hang", "hang_ms": 5000}),
    ] {
        cluster.sandbox_control("faults", fault.clone()).await;
        let reply = cluster.buy("s1", course).await;
        reply.assert_problem(503, "payment_provider_unavailable");
        assert!(reply.headers.contains_key("retry-after"), "{fault}");
        let c = cluster.course(course).await;
        assert_eq!(
            (c["seats_held"].as_u64(), c["seats_available"].as_u64()),
            (Some(0), Some(1)),
            "{fault}"
        );
    }
    cluster
        .sandbox_control("faults", json!({"create_session": "none"}))
        .await;
    let (order, payment) = checkout(&cluster, "s1", course).await;
    click_pay(&cluster, &payment).await;
    is(&cluster, "s1", order, "confirmed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_or_stale_webhook_changes_nothing() {
    let cluster = TestCluster::spawn_with(options(300)).await;
    let course = cluster.create_course(1, 900).await;
    let (order, payment) = checkout(&cluster, "s1", course).await;
    let event = json!({
        "id": "evt_forged", "object": "event", "type": "checkout.session.completed",
        "created": chrono::Utc::now().timestamp(),
        "data": {"object": {"id": session_id(&payment), "object": "checkout.session",
            "status": "complete", "payment_status": "paid", "payment_intent": "pi_forged",
            "client_reference_id": order.to_string(), "metadata": {"order_id": order.to_string()},
            "expires_at": chrono::Utc::now().timestamp() + 3600}}
    })
    .to_string();
    let url = format!("{}/api/payments/stripe/webhook", cluster.order_url);
    let now = chrono::Utc::now().timestamp();
    let secret = cluster.sandbox().webhook_secret().to_owned();
    let wrong = stripe_sandbox::signature_header("whsec_wrong", now, &event);
    let stale = stripe_sandbox::signature_header(&secret, now - 301, &event);
    for header in [None, Some(wrong), Some(stale), Some("t=1,v1=00".to_owned())] {
        let mut request = cluster.client.post(&url).body(event.clone());
        request = request.header("content-type", "application/json");
        if let Some(h) = &header {
            request = request.header("stripe-signature", h);
        }
        let answer = request.send().await.expect("answered");
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{header:?}");
        let body: Value = answer.json().await.expect("problem");
        assert_eq!(body["code"], "invalid_signature", "{header:?}");
    }
    let unchanged = cluster.get_order("s1", order).await.body;
    assert_eq!(unchanged["status"], "awaiting_payment");
    // The same event, signed right, is applied (the session id is real, the payment is not:
    // the order reads as paid because a correctly signed event says so).
    let good = stripe_sandbox::signature_header(&secret, now, &event);
    let answer = cluster
        .client
        .post(&url)
        .header("content-type", "application/json")
        .header("stripe-signature", good)
        .body(event)
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flash_sale_with_payment_sells_exactly_the_seats_and_keeps_no_money_without_one() {
    let cluster = Arc::new(TestCluster::spawn_with(options(15)).await);
    let course = cluster.create_course(100, 2500).await;
    cluster
        .sandbox_control("webhooks", json!({"mode": "deliver", "duplicate": 1}))
        .await;
    let buyers = (0..1000).map(|i| {
        let cluster = Arc::clone(&cluster);
        tokio::spawn(async move {
            let student = format!("fan-{i}");
            let reply = cluster.buy(&student, course).await;
            (student, reply.status, reply.code().to_owned(), reply.body)
        })
    });
    let mut counts: HashMap<(StatusCode, String), usize> = HashMap::new();
    let mut awaiting = Vec::new();
    let mut pending = Vec::new();
    for result in join_all(buyers).await {
        let (student, status, code, body) = result.expect("task");
        if status == StatusCode::ACCEPTED {
            // Slower than the order deadline on a busy machine: counted as it settles.
            pending.push((student, body));
            continue;
        }
        *counts.entry((status, code)).or_default() += 1;
        if status == StatusCode::CREATED {
            awaiting.push((student, body));
        }
    }
    for (student, body) in pending {
        let id: Uuid = body["id"].as_str().expect("id").parse().expect("uuid");
        let settled = cluster
            .order_until(&student, id, 20, |o| o["status"] != "pending")
            .await;
        match (settled["status"].as_str(), settled["failure_code"].as_str()) {
            (Some("awaiting_payment"), _) => {
                *counts
                    .entry((StatusCode::CREATED, String::new()))
                    .or_default() += 1;
                awaiting.push((student, settled));
            }
            (Some("failed"), Some("sold_out")) => {
                *counts
                    .entry((StatusCode::CONFLICT, "sold_out".into()))
                    .or_default() += 1;
            }
            _ => panic!("a pending order of {student} settled as {settled}"),
        }
    }
    assert_eq!(
        counts.get(&(StatusCode::CREATED, String::new())),
        Some(&100),
        "{counts:?}"
    );
    assert_eq!(
        counts.get(&(StatusCode::CONFLICT, "sold_out".into())),
        Some(&900),
        "{counts:?}"
    );
    // 70 pay at once; 30 never do.
    let payers = awaiting.iter().take(70).map(|(_, body)| {
        let (cluster, payment) = (Arc::clone(&cluster), body["payment"].clone());
        tokio::spawn(async move { click_pay(&cluster, &payment).await })
    });
    for paid in join_all(payers).await {
        paid.expect("paid");
    }
    for (student, body) in awaiting.iter().take(70) {
        let id: Uuid = body["id"].as_str().expect("id").parse().expect("uuid");
        is(&cluster, student, id, "confirmed").await;
    }
    for (student, body) in awaiting.iter().skip(70) {
        let id: Uuid = body["id"].as_str().expect("id").parse().expect("uuid");
        let failed = is(&cluster, student, id, "failed").await;
        assert_eq!(failed["failure_code"], "payment_not_completed");
    }
    // Their seats went back; the next 30 buyers get them and pay.
    let late = (0..30).map(|i| {
        let cluster = Arc::clone(&cluster);
        tokio::spawn(async move {
            let student = format!("late-{i}");
            let (order, payment) = checkout(&cluster, &student, course).await;
            click_pay(&cluster, &payment).await;
            is(&cluster, &student, order, "confirmed").await;
        })
    });
    for bought in join_all(late).await {
        bought.expect("bought");
    }
    assert_eq!(cluster.buy("one-too-many", course).await.code(), "sold_out");
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![100]);
    // Every paid session has its seat: 100 paid, none refunded.
    let mut paid = 0;
    let mut after: Option<String> = None;
    for _ in 0..20 {
        let path = match &after {
            Some(id) => format!("/v1/checkout/sessions?limit=100&starting_after={id}"),
            None => "/v1/checkout/sessions?limit=100".to_owned(),
        };
        let page = cluster.stripe(&path, None).await;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        paid += data
            .iter()
            .filter(|s| s["payment_status"] == "paid")
            .count();
        after = data
            .last()
            .and_then(|s| s["id"].as_str())
            .map(str::to_owned);
        if page["has_more"] != true {
            break;
        }
    }
    assert_eq!(paid, 100);
    let refunds = cluster.stripe("/v1/refunds?limit=100", None).await;
    assert_eq!(refunds["data"].as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_not_held_to_the_per_address_rate_limit() {
    let cluster = TestCluster::spawn_with(ClusterOptions {
        order_rate_limit: Some((50, 100)),
        ..options(300)
    })
    .await;
    let hook = format!("{}/api/payments/stripe/webhook", cluster.order_url);
    let bad = [("stripe-signature", "t=1,v1=00")];
    // Past the burst from one address: every delivery still reaches the handler.
    for _ in 0..150 {
        let reply = cluster
            .send(
                reqwest::Method::POST,
                hook.clone(),
                None,
                Some(json!({})),
                &bad,
            )
            .await;
        reply.assert_problem(400, "invalid_signature");
    }
    // Other anonymous requests from that address are limited (400 of them outrun a burst of 100
    // at 50 a second unless they take 6 s).
    let mut limited = 0;
    for _ in 0..400 {
        let url = format!("{}/api/orders", cluster.order_url);
        let reply = cluster
            .send(reqwest::Method::GET, url, None, None, &[])
            .await;
        limited += usize::from(reply.status == StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(limited > 0, "the limit applies elsewhere");
}
