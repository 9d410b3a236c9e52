//! Faults between the services, injected by the proxy: lost responses, 503s, a stopped
//! course-service, slow and late replies. After each, every order settles and no seat is held
//! without an order, no confirmed order lacks a sold seat, and the invariant holds.

use e2e_tests::{ClusterOptions, Fault, Target, TestCluster};
use futures::future::join_all;
use reqwest::StatusCode;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

const ALL_ATTEMPTS: usize = 3; // ClusterOptions::with_faults: 1 attempt + 2 retries

async fn faulty() -> TestCluster {
    TestCluster::spawn_with(ClusterOptions::with_faults()).await
}

#[tokio::test]
async fn a_lost_hold_response_is_retried_safely_under_the_same_reservation_id() {
    let cluster = faulty().await;
    let course = cluster.create_course(5, 1000).await;
    cluster.proxy().inject(Target::Hold, Fault::LoseResponse, 1);
    let reply = cluster.buy("stu1", course).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(
        cluster.proxy().count(Target::Hold),
        2,
        "the retry replays the same PUT"
    );
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![1]);
}

#[tokio::test]
async fn every_hold_response_lost_is_resolved_by_reading_the_reservation() {
    let cluster = faulty().await;
    let course = cluster.create_course(5, 1000).await;
    cluster
        .proxy()
        .inject(Target::Hold, Fault::LoseResponse, ALL_ATTEMPTS);
    let reply = cluster.buy("stu1", course).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["status"], "confirmed");
    assert!(
        cluster.proxy().count(Target::Read) >= 1,
        "the outcome was read back"
    );
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![1]);
}

#[tokio::test]
async fn every_confirm_response_lost_is_resolved_by_reading_the_reservation() {
    let cluster = faulty().await;
    let course = cluster.create_course(5, 1000).await;
    cluster
        .proxy()
        .inject(Target::Confirm, Fault::LoseResponse, ALL_ATTEMPTS);
    let reply = cluster.buy("stu1", course).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![1]);
}

#[tokio::test]
async fn two_503s_then_recovery_still_confirms_once() {
    let cluster = faulty().await;
    let course = cluster.create_course(5, 1000).await;
    cluster.proxy().inject(Target::Hold, Fault::Unavailable, 2);
    let reply = cluster.buy("stu1", course).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(cluster.proxy().count(Target::Hold), 3);
    assert_eq!(cluster.proxy().count(Target::Confirm), 1);
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![1]);
}

#[tokio::test]
async fn business_refusals_are_never_retried() {
    let cluster = faulty().await;
    let course = cluster.create_course(1, 1000).await;
    cluster.buy("stu1", course).await;
    cluster.proxy().reset_counts();
    cluster
        .buy("stu2", course)
        .await
        .assert_problem(409, "sold_out");
    assert_eq!(
        cluster.proxy().count(Target::Hold),
        1,
        "409 sold_out was retried"
    );
    let other = cluster.create_course(1, 1000).await;
    cluster.proxy().reset_counts();
    cluster
        .order(
            "stu3",
            serde_json::json!({"course_id": other, "expected_price_cents": 1}),
            &[],
        )
        .await
        .assert_problem(409, "price_changed");
    assert_eq!(
        cluster.proxy().count(Target::Hold),
        1,
        "409 price_changed was retried"
    );
    cluster.proxy().reset_counts();
    cluster
        .buy("stu3", uuid::Uuid::now_v7())
        .await
        .assert_problem(404, "course_not_found");
    assert_eq!(cluster.proxy().count(Target::Hold), 1, "404 was retried");
    // An expired hold's 410 on confirm is not retried either.
    assert_eq!(cluster.settle_and_check(&[course, other]).await, vec![1, 0]);
}

#[tokio::test]
async fn a_course_service_unreachable_from_the_start_answers_503_quickly() {
    let cluster = faulty().await;
    let course = cluster.create_course(1, 1000).await;
    cluster.proxy().stop().await;
    let started = Instant::now();
    let reply = cluster.buy("stu1", course).await;
    reply.assert_problem(503, "course_service_unavailable");
    assert!(reply.headers.contains_key("retry-after"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    cluster.proxy().restart().await;
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![0]);
    assert_eq!(
        cluster.buy("stu1", course).await.status,
        StatusCode::CREATED,
        "the student may try again"
    );
}

#[tokio::test]
async fn a_reply_slower_than_the_timeout_is_resolved_within_the_deadline() {
    let cluster = faulty().await;
    let course = cluster.create_course(5, 1000).await;
    cluster.proxy().inject(
        Target::Hold,
        Fault::SlowResponse(Duration::from_millis(1000)),
        ALL_ATTEMPTS,
    );
    let started = Instant::now();
    let reply = cluster.buy("stu1", course).await;
    assert!(
        started.elapsed() < Duration::from_millis(4500),
        "the request waited {:?}",
        started.elapsed()
    );
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![1]);
}

#[tokio::test]
async fn a_hold_delivered_after_the_order_gave_up_cannot_take_a_seat() {
    // Three attempts of 300 ms with back-off, then a read: about 1.2 s on a quiet machine.
    const LATE_MS: u64 = 3000;
    let cluster = faulty().await;
    let course = cluster.create_course(5, 1000).await;
    cluster.proxy().inject(
        Target::Hold,
        Fault::LateDelivery(Duration::from_millis(LATE_MS)),
        ALL_ATTEMPTS,
    );
    let started = Instant::now();
    let reply = cluster.buy("stu1", course).await;
    // The order must have given up before the first PUT arrives, or reading the reservation
    // would rightly find the hold and confirm it; that is another test.
    assert!(
        started.elapsed() < Duration::from_millis(LATE_MS),
        "the order took {:?}, longer than the delivery delay",
        started.elapsed()
    );
    reply.assert_problem(503, "course_service_unavailable");
    // Let the late PUTs land: the tombstone must refuse every one of them.
    tokio::time::sleep(Duration::from_millis(LATE_MS + 1000)).await;
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![0]);
    assert_eq!(cluster.course(course).await["seats_available"], 5);
}

#[tokio::test]
async fn a_saga_cut_off_by_a_stopped_course_service_answers_202_and_settles_after_restart() {
    let cluster = faulty().await;
    let course = cluster.create_course(5, 1000).await;
    // The hold lands; then course-service goes away before the confirm gets an answer.
    cluster
        .proxy()
        .inject(Target::Confirm, Fault::LoseResponse, 1);
    let proxy = cluster.proxy();
    let (reply, ()) = tokio::join!(cluster.buy("stu1", course), async {
        while proxy.count(Target::Confirm) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        proxy.stop().await;
    });
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["status"], "pending");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        cluster.get_order("stu1", reply.order_id()).await.body["status"],
        "pending"
    );
    proxy.restart().await;
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![1]);
    assert_eq!(
        cluster.get_order("stu1", reply.order_id()).await.body["status"],
        "confirmed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn course_service_stopped_and_restarted_under_load_loses_and_doubles_nothing() {
    let cluster = Arc::new(faulty().await);
    let course = cluster.create_course(60, 1000).await;
    let buyers = (0..120).map(|i| {
        let cluster = Arc::clone(&cluster);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(i * 10)).await;
            cluster.buy(&format!("buyer-{i}"), course).await.status
        })
    });
    let outage = {
        let cluster = Arc::clone(&cluster);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cluster.proxy().stop().await;
            tokio::time::sleep(Duration::from_millis(700)).await;
            cluster.proxy().restart().await;
        })
    };
    let statuses: Vec<StatusCode> = join_all(buyers)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    outage.await.expect("outage");
    for status in &statuses {
        assert!(
            matches!(status.as_u16(), 201 | 202 | 409 | 503),
            "unexpected {status}"
        );
    }
    let confirmed_now = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let sold = cluster.settle_and_check(&[course]).await[0];
    assert!(
        sold >= confirmed_now,
        "every 201 stays confirmed: {sold} < {confirmed_now}"
    );
    assert!(sold <= 60);
}
