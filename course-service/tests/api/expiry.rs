//! Expiry: the sweep returns lapsed holds' seats and touches nothing else; the real cron job does
//! it on time.

use crate::helpers::{TTL_SECS, TestApp, id_of, seats};
use course_service::domain::{CourseId, ReservationId};
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[tokio::test]
async fn a_sweep_expires_exactly_the_lapsed_holds() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 10, 1000).await);
    let early: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    for (i, id) in early.iter().enumerate() {
        app.hold(&course, *id, &format!("early-{i}")).await;
    }
    let sold = Uuid::now_v7();
    app.hold(&course, sold, "buyer").await;
    app.act(&course, sold, "confirm").await;
    app.advance(100);
    let late = Uuid::now_v7();
    app.hold(&course, late, "late").await;
    assert_eq!(app.sweep().await.expired, 0, "nothing is due yet");
    app.advance(TTL_SECS as i64 - 100);
    let report = app.sweep().await;
    assert_eq!(report.expired, 3);
    assert_eq!(seats(&app.course(&course).await), (8, 1, 1));
    for id in &early {
        assert_eq!(
            app.reservation(&course, *id).await.body["status"],
            "expired"
        );
    }
    assert_eq!(app.reservation(&course, late).await.body["status"], "held");
    assert_eq!(
        app.reservation(&course, sold).await.body["status"],
        "confirmed"
    );
    assert_eq!(app.sweep().await.expired, 0, "a second sweep finds nothing");
}

#[tokio::test]
async fn a_sweep_with_nothing_due_leaves_the_deadline_heap_alone() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1000, 1).await);
    for i in 0..1000 {
        app.store
            .hold(
                course.parse().expect("uuid"),
                ReservationId::new_v7(),
                &course_service::domain::HoldRequest {
                    student: format!("s{i}").into(),
                    expected_price_cents: None,
                },
            )
            .await
            .expect("held");
    }
    let report = app.sweep().await;
    assert_eq!((report.due, report.expired), (0, 0));
    assert_eq!(app.expiry_backlog().await, 1000);
}

#[tokio::test]
async fn a_sweep_of_many_courses_in_batches_returns_every_seat() {
    // Only this test's sweep runs: the scheduled one would share the work and the report.
    let app = TestApp::spawn_with(|c| c.expiry_sweep_cron = "0 0 0 1 1 *".into()).await;
    let mut courses = Vec::new();
    for _ in 0..5 {
        courses.push(
            id_of(&app.create_course("alice", 1000, 1).await)
                .parse::<CourseId>()
                .expect("uuid"),
        );
    }
    for (c, course) in courses.iter().enumerate() {
        for i in 0..900 {
            let request = course_service::domain::HoldRequest {
                student: format!("s{c}-{i}").into(),
                expected_price_cents: None,
            };
            app.store
                .hold(*course, ReservationId::new_v7(), &request)
                .await
                .expect("held");
        }
    }
    app.advance(TTL_SECS as i64);
    let report = app.sweep().await;
    assert_eq!((report.due, report.expired), (4500, 4500));
    for course in &courses {
        assert_eq!(seats(&app.course(&course.to_string()).await), (1000, 0, 0));
    }
    assert_eq!(app.expiry_backlog().await, 0);
    app.check_invariants().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cron_job_expires_a_hold_within_two_seconds_of_its_deadline() {
    let app = TestApp::spawn_system_clock(1).await;
    let course = id_of(&app.create_course("alice", 1, 1000).await);
    let id = Uuid::now_v7();
    let held = app.hold(&course, id, "s1").await;
    assert_eq!(held.status, StatusCode::CREATED);
    let deadline =
        chrono::DateTime::parse_from_rfc3339(held.body["expires_at"].as_str().expect("expires_at"))
            .expect("time")
            .with_timezone(&chrono::Utc);
    let started = Instant::now();
    // Course reads never expire holds themselves, so a free seat here is the job's doing.
    loop {
        let (available, held, _) = seats(&app.course(&course).await);
        if available == 1 && held == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "the hold was not expired by the job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let lag = chrono::Utc::now() - deadline;
    assert!(
        lag < chrono::TimeDelta::milliseconds(2500),
        "expired {lag} after the deadline"
    );
    let stored = app.reservation(&course, id).await;
    assert_eq!(stored.body["status"], "expired");
}
