//! order-service's embedded store under disk trouble, with faults injected where its journal
//! commits (both services in this process): a replayed `Idempotency-Key` answer waits until that
//! answer is durable, and after a failed write order-service is fail-stop, answering 503
//! `service_unavailable` (its own store failed, not course-service) until restarted.

use e2e_tests::cluster::{ClusterOptions, TestCluster};
use reqwest::Method;
use serde_json::json;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use storage_kit::journal::Faults;

async fn cluster_with_order_disk(dir: &std::path::Path, faults: &Faults) -> TestCluster {
    TestCluster::spawn_with(ClusterOptions {
        order_disk: Some((dir.to_owned(), faults.clone())),
        ..ClusterOptions::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failed_write_order_service_answers_503_service_unavailable_to_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = Faults::none();
    let cluster = cluster_with_order_disk(dir.path(), &faults).await;
    let course = cluster.create_course(10, 1000).await;
    let key = [("Idempotency-Key", "before")];
    let before = cluster
        .order("s1", json!({"course_id": course}), &key)
        .await;
    assert_eq!(before.status, 201, "{}", before.body);
    let order = before.order_id();

    faults.fail_every_write();
    cluster
        .buy("s2", course)
        .await
        .assert_problem(503, "service_unavailable");
    // A replay of an answer that was durable is refused too: the service no longer trusts its
    // memory, which may now be ahead of the disk.
    cluster
        .order("s1", json!({"course_id": course}), &key)
        .await
        .assert_problem(503, "service_unavailable");
    cluster
        .get_order("s1", order)
        .await
        .assert_problem(503, "service_unavailable");
    let token = cluster.token(shared_types::Role::Student, "s1");
    cluster
        .send(
            Method::GET,
            format!("{}/api/orders", cluster.order_url),
            Some(&token),
            None,
            &[],
        )
        .await
        .assert_problem(503, "service_unavailable");
    cluster
        .cancel_order("s1", order)
        .await
        .assert_problem(503, "service_unavailable");
    let live = cluster
        .send(
            Method::GET,
            format!("{}/health/live", cluster.order_url),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(live.status, 503, "{}", live.body);
    // Nothing acknowledged was given back: the seat of the confirmed order is still sold.
    assert_eq!(cluster.course(course).await["seats_sold"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_answer_waits_until_the_answer_it_replays_is_durable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = Faults::none();
    let cluster = Arc::new(cluster_with_order_disk(dir.path(), &faults).await);
    let course = cluster.create_course(10, 1000).await;
    let commit = Duration::from_millis(1000);
    faults.delay_commits(commit);

    let first = {
        let cluster = Arc::clone(&cluster);
        tokio::spawn(async move {
            let reply = cluster
                .order(
                    "s1",
                    json!({"course_id": course}),
                    &[("Idempotency-Key", "k")],
                )
                .await;
            (reply, Instant::now())
        })
    };
    // Replays (once the first request has claimed the key), one every 20 ms, until one is
    // answered with the stored 201.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let replayed_at = loop {
        let reply = cluster
            .order(
                "s1",
                json!({"course_id": course}),
                &[("Idempotency-Key", "k")],
            )
            .await;
        match reply.status.as_u16() {
            201 => break Instant::now(),
            409 if reply.code() == "request_in_progress" => {}
            other => panic!("unexpected replay answer {other}: {}", reply.body),
        }
        assert!(Instant::now() < deadline, "no replay answered 201");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (reply, answered_at) = first.await.expect("first request");
    assert_eq!(reply.status, 201, "{}", reply.body);
    // The key's answer is stored, then made durable (one slow commit), then the first request
    // answers. A replay that answered from memory would come a whole commit earlier.
    assert!(
        replayed_at + commit / 2 > answered_at,
        "a replay answered {:?} before the answer it replays was durable",
        answered_at - replayed_at
    );
}
