//! Waitlists end to end: students wait through order-service, a freed seat becomes an offer in
//! course-service, and order-service's feed follower turns the offer into the student's order
//! (confirmed at once without payments, awaiting payment with a checkout with them).

use e2e_tests::cluster::{ClusterOptions, TestCluster};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared_types::Role;
use std::{sync::Arc, time::Duration};
use uuid::Uuid;

async fn join(cluster: &TestCluster, student: &str, course: Uuid) -> e2e_tests::cluster::Reply {
    let token = cluster.token(Role::Student, student);
    cluster
        .send(
            Method::POST,
            format!("{}/api/waitlist", cluster.order_url),
            Some(&token),
            Some(json!({ "course_id": course })),
            &[],
        )
        .await
}

async fn entries(cluster: &TestCluster, student: &str) -> Vec<Value> {
    let token = cluster.token(Role::Student, student);
    let reply = cluster
        .send(
            Method::GET,
            format!("{}/api/waitlist", cluster.order_url),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["items"].as_array().expect("items").clone()
}

/// The student's entry once `done` holds for it (bounded: 30 s).
async fn entry_until(cluster: &TestCluster, student: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let entry = entries(cluster, student).await.pop().expect("an entry");
        if done(&entry) || std::time::Instant::now() > deadline {
            return entry;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A course of `seats` seats, each bought (confirmed) by `buyer-i`; the buyers' order ids.
async fn sold_out(cluster: &TestCluster, seats: u32, price: i64) -> (Uuid, Vec<Uuid>) {
    let course = cluster.create_course(seats, price).await;
    let mut orders = Vec::new();
    for i in 0..seats {
        let reply = cluster.buy(&format!("buyer-{i}"), course).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        orders.push(reply.order_id());
    }
    (course, orders)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_wait_ten_cancel_and_exactly_the_first_ten_get_confirmed_orders() {
    let cluster = Arc::new(TestCluster::spawn().await);
    let (course, orders) = sold_out(&cluster, 10, 0).await;
    for i in 0..40 {
        let reply = join(&cluster, &format!("waiter-{i:02}"), course).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["status"], "waiting");
        assert_eq!(reply.body["position"], json!(i + 1));
        assert_eq!(reply.body["order_id"], Value::Null);
    }
    let cancels = orders.iter().enumerate().map(|(i, order)| {
        let (cluster, order) = (Arc::clone(&cluster), *order);
        tokio::spawn(async move {
            cluster
                .cancel_order(&format!("buyer-{i}"), order)
                .await
                .status
        })
    });
    for status in join_all(cancels).await {
        assert_eq!(status.expect("task"), StatusCode::OK);
    }
    for i in 0..40 {
        let student = format!("waiter-{i:02}");
        if i < 10 {
            let entry = entry_until(&cluster, &student, |e| e["status"] == "enrolled").await;
            assert_eq!(entry["status"], "enrolled", "{entry}");
            let order: Uuid = entry["order_id"]
                .as_str()
                .expect("order id")
                .parse()
                .unwrap();
            let order = cluster.get_order(&student, order).await.body;
            assert_eq!(order["status"], "confirmed", "{order}");
            assert_eq!(order["course_id"], json!(course));
        } else {
            let entry = entries(&cluster, &student).await.pop().expect("entry");
            assert_eq!(entry["status"], "waiting", "{entry}");
            assert_eq!(entry["position"], json!(i - 9), "{entry}");
        }
    }
    let now = cluster.course(course).await;
    assert_eq!(now["seats_sold"], json!(10), "{now}");
    assert_eq!(now["waitlist_length"], json!(30), "{now}");
    // Every seat sold has exactly one confirmed order, the ten new ones included.
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![10]);
}

#[tokio::test]
async fn the_waitlist_answers_students_by_the_contract() {
    let cluster = TestCluster::spawn().await;
    let open = cluster.create_course(3, 0).await;
    join(&cluster, "s", open)
        .await
        .assert_problem(409, "seats_available");
    let (course, _) = sold_out(&cluster, 1, 0).await;
    join(&cluster, "buyer-0", course)
        .await
        .assert_problem(409, "already_enrolled");
    join(&cluster, "s", Uuid::now_v7())
        .await
        .assert_problem(404, "course_not_found");
    let first = join(&cluster, "s", course).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = join(&cluster, "s", course).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["id"], first.body["id"]);
    assert!(entries(&cluster, "someone-else").await.is_empty());
    let id = first.body["id"].as_str().unwrap();
    let url = format!("{}/api/waitlist/{id}", cluster.order_url);
    let other = cluster.token(Role::Student, "someone-else");
    cluster
        .send(Method::DELETE, url.clone(), Some(&other), None, &[])
        .await
        .assert_problem(404, "waitlist_entry_not_found");
    let mine = cluster.token(Role::Student, "s");
    for _ in 0..2 {
        let left = cluster
            .send(Method::DELETE, url.clone(), Some(&mine), None, &[])
            .await;
        assert_eq!(left.status, StatusCode::OK, "{}", left.body);
        assert_eq!(left.body["status"], "left");
    }
    assert_eq!(cluster.course(course).await["waitlist_length"], json!(0));
}

#[tokio::test]
async fn with_payments_an_offer_becomes_an_order_awaiting_payment_with_a_checkout() {
    let cluster = TestCluster::spawn_with(ClusterOptions {
        payments: true,
        ..ClusterOptions::default()
    })
    .await;
    // A free course sells without a checkout; then it is sold out and priced.
    let (course, orders) = sold_out(&cluster, 1, 0).await;
    let token = cluster.token(Role::Instructor, "alice");
    let priced = cluster
        .send(
            Method::PATCH,
            format!("{}/api/courses/{course}/price", cluster.course_url),
            Some(&token),
            Some(json!({"price_cents": 4900})),
            &[],
        )
        .await;
    assert_eq!(priced.status, StatusCode::OK, "{}", priced.body);
    assert_eq!(
        join(&cluster, "w", course).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        cluster.cancel_order("buyer-0", orders[0]).await.status,
        StatusCode::OK
    );
    let entry = entry_until(&cluster, "w", |e| !e["order_id"].is_null()).await;
    assert_eq!(entry["status"], "offered", "{entry}");
    let order: Uuid = entry["order_id"]
        .as_str()
        .expect("order id")
        .parse()
        .unwrap();
    let order = cluster
        .order_until("w", order, 30, |o| o["status"] != "pending")
        .await;
    assert_eq!(order["status"], "awaiting_payment", "{order}");
    assert_eq!(order["payment"]["status"], "open", "{order}");
    assert!(order["payment"]["checkout_url"].is_string(), "{order}");
}
