//! Concurrency over real HTTP: exact outcomes under contention, and the seat invariant after.

use crate::{
    burst,
    helpers::{TTL_SECS, TestApp, id_of, seats},
};
use futures::future::join_all;
use reqwest::StatusCode;
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_students_race_for_100_seats_and_exactly_100_get_one() {
    // 2,000 connections opened at once by one test client on a busy machine may send their
    // request heads late: this test is about seats, not slow clients.
    let app = Arc::new(TestApp::spawn_with(|c| c.server.client_timeout_ms = 60_000).await);
    let course = id_of(&app.create_course("alice", 100, 1000).await);
    let attempts = (0..2000).map(|i| {
        let (app, course) = (Arc::clone(&app), course.clone());
        tokio::spawn(async move {
            let reply = app
                .hold(&course, Uuid::now_v7(), &format!("student-{i}"))
                .await;
            (reply.status, reply.code().to_owned())
        })
    });
    let mut outcomes: HashMap<(StatusCode, String), usize> = HashMap::new();
    for result in join_all(attempts).await {
        *outcomes.entry(result.expect("task")).or_default() += 1;
    }
    assert_eq!(
        outcomes.get(&(StatusCode::CREATED, String::new())),
        Some(&100),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.get(&(StatusCode::CONFLICT, "sold_out".to_owned())),
        Some(&1900),
        "{outcomes:?}"
    );
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert_eq!(seats(&app.course(&course).await), (0, 100, 0));
    app.check_invariants().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirms_cancels_new_holds_and_sweeps_interleaved_keep_the_invariant() {
    let app = Arc::new(TestApp::spawn().await);
    let course = id_of(&app.create_course("alice", 100, 1000).await);
    let mut holds = Vec::new();
    for i in 0..100 {
        let id = Uuid::now_v7();
        assert_eq!(
            app.hold(&course, id, &format!("first-{i}")).await.status,
            StatusCode::CREATED
        );
        holds.push(id);
    }
    let mut tasks = Vec::new();
    for (i, id) in holds.iter().copied().enumerate() {
        let (app, course) = (Arc::clone(&app), course.clone());
        let action = if i < 50 { "confirm" } else { "cancel" };
        tasks.push(tokio::spawn(async move {
            (action, app.act(&course, id, action).await.status)
        }));
    }
    for i in 0..200 {
        let (app, course) = (Arc::clone(&app), course.clone());
        tasks.push(tokio::spawn(async move {
            (
                "hold",
                app.hold(&course, Uuid::now_v7(), &format!("second-{i}"))
                    .await
                    .status,
            )
        }));
    }
    let sweeper = {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let mut expired = 0;
            for _ in 0..200 {
                expired += app.sweep().await.expired;
            }
            expired
        })
    };
    let mut new_holds = 0;
    for task in join_all(tasks).await {
        match task.expect("task") {
            ("confirm" | "cancel", status) => assert_eq!(status, StatusCode::OK),
            ("hold", StatusCode::CREATED) => new_holds += 1,
            ("hold", status) => assert_eq!(status, StatusCode::CONFLICT),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(sweeper.await.expect("sweeper"), 0, "nothing was due");
    assert!(
        new_holds <= 50,
        "only the 50 cancelled seats were free, got {new_holds}"
    );
    let (available, held, sold) = seats(&app.course(&course).await);
    assert_eq!(sold, 50);
    assert_eq!(held, new_holds);
    assert_eq!(available, 50 - new_holds);
    app.check_invariants().await;

    // Every remaining hold lapses; the sweep returns exactly those seats.
    app.advance(TTL_SECS as i64);
    assert_eq!(app.sweep().await.expired as u64, new_holds);
    assert_eq!(seats(&app.course(&course).await), (50, 0, 50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_racing_the_expiry_of_its_hold_ends_in_exactly_one_of_the_two() {
    let app = Arc::new(TestApp::spawn().await);
    let course = id_of(&app.create_course("alice", 40, 1000).await);
    let mut confirmed_count = 0u64;
    for round in 0..40 {
        let id = Uuid::now_v7();
        assert_eq!(
            app.hold(&course, id, &format!("racer-{round}"))
                .await
                .status,
            StatusCode::CREATED
        );
        let expiry = {
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                app.advance(TTL_SECS as i64);
                app.sweep().await.expired
            })
        };
        let confirm = app.act(&course, id, "confirm").await;
        let expired_by_sweep = expiry.await.expect("sweep");
        let stored = app.reservation(&course, id).await.body["status"].clone();
        match confirm.status {
            StatusCode::OK => {
                confirmed_count += 1;
                assert_eq!(stored, "confirmed");
                assert_eq!(expired_by_sweep, 0);
            }
            StatusCode::GONE => {
                assert_eq!(confirm.code(), "reservation_expired");
                assert_eq!(stored, "expired");
            }
            other => panic!("unexpected {other}: {}", confirm.body),
        }
        let (_, held, sold) = seats(&app.course(&course).await);
        assert_eq!((held, sold), (0, confirmed_count), "round {round}");
    }
    app.check_invariants().await;
}

/// Every kind of reserve answer at once on one course (on PostgreSQL these share transactions, a
/// batch per course): each is answered as if it had come alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_mixed_calls_on_one_course_is_answered_as_if_each_came_alone() {
    let app = Arc::new(TestApp::spawn().await);
    let course = id_of(&app.create_course("alice", 35, burst::PRICE).await);
    // Ten holds to confirm during the burst, and a student at the hold limit elsewhere.
    let mut earlier = Vec::new();
    for i in 0..10 {
        let id = Uuid::now_v7();
        let reply = app.hold(&course, id, &format!("early-{i}")).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        earlier.push(id);
    }
    for _ in 0..5 {
        let other = id_of(&app.create_course("bob", 1, 1000).await);
        let reply = app.hold(&other, Uuid::now_v7(), "hoarder").await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }

    let mut calls = burst::calls(30);
    calls.push(burst::Call::new("limited", "hoarder"));
    let holds = calls
        .into_iter()
        .map(|call| burst::send(&app, &course, call, false))
        .collect();
    let confirms = earlier
        .iter()
        .chain(earlier.iter())
        .copied()
        .chain([Uuid::now_v7()])
        .map(|id| {
            let (app, course) = (Arc::clone(&app), course.clone());
            tokio::spawn(async move { (id, app.act(&course, id, "confirm").await) })
        })
        .collect::<Vec<_>>();

    let answers = burst::Answers::collect(holds).await;
    let held = answers.check(30);
    let conflict = StatusCode::CONFLICT;
    assert_eq!(
        answers.count("limited", conflict, "hold_limit_reached"),
        1,
        "{answers:?}"
    );
    // 25 seats were free: 32 students wanted one, so all went.
    assert_eq!(held, 25, "{answers:?}");

    let unknown = earlier.len() * 2;
    for (n, result) in join_all(confirms).await.into_iter().enumerate() {
        let (id, reply) = result.expect("task");
        if n == unknown {
            reply.assert_problem(404, "reservation_not_found");
        } else {
            assert_eq!(reply.status, StatusCode::OK, "{id}: {}", reply.body);
            assert_eq!(reply.body["status"], "confirmed");
        }
    }
    assert_eq!(seats(&app.course(&course).await), (0, 25, 10));
    app.check_invariants().await;
}
