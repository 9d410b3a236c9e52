//! Contention end to end: exact outcomes for many buyers, and for one buyer many times.

use e2e_tests::TestCluster;
use futures::future::join_all;
use reqwest::StatusCode;
use std::{collections::HashMap, sync::Arc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flash_sale_of_100_seats_to_1000_students_sells_exactly_100() {
    let cluster = Arc::new(TestCluster::spawn().await);
    let course = cluster.create_course(100, 2500).await;
    let buyers = (0..1000).map(|i| {
        let cluster = Arc::clone(&cluster);
        tokio::spawn(async move { cluster.buy_and_settle(&format!("buyer-{i}"), course).await })
    });
    let mut outcomes: HashMap<(StatusCode, String), usize> = HashMap::new();
    for result in join_all(buyers).await {
        *outcomes.entry(result.expect("task")).or_default() += 1;
    }
    assert_eq!(
        outcomes.get(&(StatusCode::CREATED, String::new())),
        Some(&100),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.get(&(StatusCode::CONFLICT, "sold_out".to_owned())),
        Some(&900),
        "{outcomes:?}"
    );
    let c = cluster.course(course).await;
    assert_eq!(
        (
            c["seats_sold"].as_u64(),
            c["seats_held"].as_u64(),
            c["seats_available"].as_u64()
        ),
        (Some(100), Some(0), Some(0))
    );
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![100]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_student_ordering_50_times_at_once_gets_exactly_one_seat() {
    let cluster = Arc::new(TestCluster::spawn().await);
    let course = cluster.create_course(10, 2500).await;
    let attempts = (0..50).map(|_| {
        let cluster = Arc::clone(&cluster);
        tokio::spawn(async move { cluster.buy_and_settle("eager", course).await })
    });
    let mut outcomes: HashMap<(StatusCode, String), usize> = HashMap::new();
    for result in join_all(attempts).await {
        *outcomes.entry(result.expect("task")).or_default() += 1;
    }
    assert_eq!(
        outcomes.get(&(StatusCode::CREATED, String::new())),
        Some(&1),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.get(&(StatusCode::CONFLICT, "already_enrolled".to_owned())),
        Some(&49),
        "{outcomes:?}"
    );
    assert_eq!(cluster.settle_and_check(&[course]).await, vec![1]);
    assert_eq!(cluster.course(course).await["seats_available"], 9);
}
