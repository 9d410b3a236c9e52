//! The embedded store under disk trouble, with faults injected where the journal commits: a
//! repeat or a read never answers before the change it reports is durable, and after a failed
//! write the service is fail-stop (every request that reads or changes state answers 503
//! `service_unavailable`, liveness fails) until a restart reloads the disk.

use crate::helpers::{TestApp, id_of};
use reqwest::Method;
use std::time::Duration;
use storage_kit::journal::{Faults, StorageMode};
use uuid::Uuid;

/// An app on the embedded store in `dir` (whatever TEST_BACKEND says), with `faults`.
async fn app_on_disk(dir: &std::path::Path, faults: &Faults) -> TestApp {
    let (dir, faults) = (dir.to_owned(), faults.clone());
    TestApp::spawn_with(move |c| {
        c.storage.database.database_url = None;
        c.storage.mode = StorageMode::Embedded;
        c.storage.data_dir = dir;
        c.storage.faults = faults;
    })
    .await
}

#[tokio::test]
async fn after_a_failed_write_every_request_that_reads_or_changes_state_answers_503() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = Faults::none();
    let app = app_on_disk(dir.path(), &faults).await;
    let course = id_of(&app.create_course("alice", 5, 1000).await);
    let kept = Uuid::now_v7();
    assert_eq!(app.hold(&course, kept, "s0").await.status, 201);
    // A long poll of the feed, waiting when the write fails, is ended by the failure.
    let head = app
        .send(
            Method::GET,
            "/api/events?limit=1000",
            Some(&app.service()),
            None,
        )
        .await
        .body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let poll = {
        let (address, client, token) = (app.address.clone(), app.client.clone(), app.service());
        tokio::spawn(async move {
            let response = client
                .get(format!("{address}/api/events?after={head}&wait_ms=30000"))
                .bearer_auth(token)
                .send()
                .await
                .expect("poll");
            crate::helpers::Reply::read(response).await
        })
    };

    faults.fail_every_write();
    let lost = Uuid::now_v7();
    app.hold(&course, lost, "s1")
        .await
        .assert_problem(503, "service_unavailable");
    // The same PUT again must not report the hold that never reached the disk.
    app.hold(&course, lost, "s1")
        .await
        .assert_problem(503, "service_unavailable");
    // Nor may anything else answer from memory that is now ahead of the disk, even about state
    // that was durable before the failure.
    app.hold(&course, kept, "s0")
        .await
        .assert_problem(503, "service_unavailable");
    for action in ["confirm", "cancel", "release"] {
        app.act(&course, kept, action)
            .await
            .assert_problem(503, "service_unavailable");
    }
    app.reservation(&course, kept)
        .await
        .assert_problem(503, "service_unavailable");
    app.get(&format!("/api/courses/{course}"))
        .await
        .assert_problem(503, "service_unavailable");
    app.get("/api/courses")
        .await
        .assert_problem(503, "service_unavailable");
    app.send(Method::GET, "/api/events", Some(&app.service()), None)
        .await
        .assert_problem(503, "service_unavailable");
    app.get(&format!("/api/courses/{course}/live"))
        .await
        .assert_problem(503, "service_unavailable");
    poll.await
        .expect("poll")
        .assert_problem(503, "service_unavailable");
    app.get(&format!("/api/courses/{}", Uuid::now_v7()))
        .await
        .assert_problem(503, "service_unavailable");
    let token = app.token(shared_types::Role::Instructor, "alice");
    app.send(
        Method::PATCH,
        &format!("/api/courses/{course}/price"),
        Some(&token),
        Some(serde_json::json!({"price_cents": 1})),
    )
    .await
    .assert_problem(503, "service_unavailable");
    assert_eq!(app.get("/health/live").await.status, 503);
    assert_eq!(app.get("/health/ready").await.status, 503);

    // Restarted on the repaired disk: what was acknowledged is there, what was refused is not.
    app.stop().await;
    faults.clear();
    let app = restart(dir.path()).await;
    assert_eq!(app.reservation(&course, kept).await.body["status"], "held");
    app.reservation(&course, lost)
        .await
        .assert_problem(404, "reservation_not_found");
    let c = app.course(&course).await;
    assert_eq!(
        (c["seats_held"].as_u64(), c["seats_sold"].as_u64()),
        (Some(1), Some(0))
    );
}

/// Starts a fresh app on the store in `dir` once the previous one has let go of it.
pub(crate) async fn restart(dir: &std::path::Path) -> TestApp {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let dir_owned = dir.to_owned();
        let built = TestApp::try_spawn_with(move |c| {
            c.storage.database.database_url = None;
            c.storage.mode = StorageMode::Embedded;
            c.storage.data_dir = dir_owned;
        })
        .await;
        match built {
            Ok(app) => return app,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("could not restart on {}: {e:#}", dir.display()),
        }
    }
}

/// Waits until `student`'s hold is in the ledger (counted in memory, whatever its commit).
async fn in_ledger(app: &TestApp, student: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.inspect.holds_of(student).await.expect("holds") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the hold never arrived"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Sends `request` in the background and returns whether it answered within `within`, and its
/// status once it does.
async fn answered_within(
    request: impl std::future::Future<Output = crate::helpers::Reply> + Send + 'static,
    within: Duration,
) -> (bool, u16) {
    let task = tokio::spawn(request);
    tokio::time::sleep(within).await;
    let early = task.is_finished();
    (early, task.await.expect("request").status.as_u16())
}

#[tokio::test]
async fn a_repeat_during_a_slow_commit_waits_for_the_commit_it_repeats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = Faults::none();
    let app = std::sync::Arc::new(app_on_disk(dir.path(), &faults).await);
    let course = id_of(&app.create_course("alice", 5, 1000).await);
    // Long enough that a loaded machine still sends the repeats while the commit is in flight.
    faults.delay_commits(Duration::from_millis(2000));

    let id = Uuid::now_v7();
    let first = {
        let (app, course) = (app.clone(), course.clone());
        tokio::spawn(async move { app.hold(&course, id, "s1").await })
    };
    // The hold is in the ledger (its commit still in flight) before the replay is sent.
    in_ledger(&app, "s1").await;
    let replay = {
        let (app, course) = (app.clone(), course.clone());
        async move { app.hold(&course, id, "s1").await }
    };
    let (early, status) = answered_within(replay, Duration::from_millis(500)).await;
    assert!(
        !early,
        "the replay answered before the hold it replays was durable"
    );
    assert_eq!(status, 200);
    assert_eq!(first.await.expect("first").status, 201);

    // The same for a confirm repeated while the first confirm's commit is in flight, and for a
    // read of the confirmed state.
    let confirm = {
        let (app, course) = (app.clone(), course.clone());
        tokio::spawn(async move { app.act(&course, id, "confirm").await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let repeats: Vec<_> = ["confirm", "read"]
        .into_iter()
        .map(|repeat| {
            let (app, course) = (app.clone(), course.clone());
            tokio::spawn(async move {
                match repeat {
                    "confirm" => app.act(&course, id, "confirm").await,
                    _ => app.reservation(&course, id).await,
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        repeats.iter().all(|r| !r.is_finished()),
        "a repeat or a read answered before the confirm was durable"
    );
    for repeat in repeats {
        let reply = repeat.await.expect("repeat");
        assert_eq!(
            (reply.status.as_u16(), reply.body["status"].as_str()),
            (200, Some("confirmed"))
        );
    }
    assert_eq!(confirm.await.expect("confirm").status, 200);
    faults.clear();
    // Nothing in flight: a read answers at once.
    let (app2, course2) = (app.clone(), course.clone());
    let (early, status) = answered_within(
        async move { app2.reservation(&course2, id).await },
        Duration::from_millis(1500),
    )
    .await;
    assert!(early && status == 200);
}
