//! The event feed over HTTP: every change in order with its counts, cursors that neither skip nor
//! repeat (across pages and restarts), long polling, retention, and who may read it.

use crate::helpers::{Reply, TestApp, id_of};
use course_service::clock::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared_types::Role;
use std::time::{Duration, Instant};
use storage_kit::journal::StorageMode;
use uuid::Uuid;

/// An app on the embedded store in `dir`, or on whatever TEST_BACKEND names when `dir` is `None`.
async fn app(dir: Option<&std::path::Path>) -> TestApp {
    let dir = dir.map(std::path::Path::to_owned);
    TestApp::spawn_with(move |c| {
        if let Some(dir) = dir {
            c.storage.database.database_url = None;
            c.storage.mode = StorageMode::Embedded;
            c.storage.data_dir = dir;
        }
    })
    .await
}

async fn events(app: &TestApp, query: &str) -> Reply {
    app.send(
        Method::GET,
        &format!("/api/events{query}"),
        Some(&app.service()),
        None,
    )
    .await
}

/// Every event after `after` (`None`: from the oldest), read `limit` at a time.
async fn read_all(app: &TestApp, after: Option<&str>, limit: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = after.map(str::to_owned);
    loop {
        let query = match &cursor {
            Some(c) => format!("?after={c}&limit={limit}"),
            None => format!("?limit={limit}"),
        };
        let reply = events(app, &query).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let items = reply.body["items"].as_array().expect("items").clone();
        if items.is_empty() {
            return all;
        }
        assert_eq!(
            reply.body["next_cursor"],
            items.last().expect("last")["cursor"]
        );
        cursor = reply.body["next_cursor"].as_str().map(str::to_owned);
        all.extend(items);
    }
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect()
}

fn counts(e: &Value) -> (u64, u64, u64, u64) {
    let c = &e["course"];
    let n = |k: &str| c[k].as_u64().expect(k);
    (
        n("seats_total"),
        n("seats_available"),
        n("seats_held"),
        n("seats_sold"),
    )
}

#[tokio::test]
async fn the_feed_tells_every_change_in_order_and_keeps_it_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(Some(dir.path())).await;
    let course = id_of(&app.create_course("alice", 3, 1000).await);
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    assert_eq!(app.hold(&course, a, "s1").await.status, 201);
    assert_eq!(app.hold(&course, b, "s2").await.status, 201);
    assert_eq!(app.act(&course, a, "confirm").await.status, 200);
    assert_eq!(app.act(&course, b, "cancel").await.status, 200);
    // Repeats change nothing and tell nothing.
    assert_eq!(app.act(&course, b, "cancel").await.status, 200);
    assert_eq!(app.hold(&course, a, "s1").await.status, 200);
    assert_eq!(app.act(&course, a, "release").await.status, 200);
    let instructor = app.token(Role::Instructor, "alice");
    let seats = app
        .send(
            Method::PATCH,
            &format!("/api/courses/{course}/seats"),
            Some(&instructor),
            Some(json!({"seats_total": 5})),
        )
        .await;
    assert_eq!(seats.status, 200);

    let all = read_all(&app, None, 100).await;
    assert_eq!(
        kinds(&all),
        [
            "course.created",
            "reservation.held",
            "reservation.held",
            "reservation.confirmed",
            "reservation.cancelled",
            "reservation.released",
            "course.updated"
        ]
    );
    let seen: Vec<_> = all.iter().map(counts).collect();
    assert_eq!(
        seen,
        [
            (3, 3, 0, 0),
            (3, 2, 1, 0),
            (3, 1, 2, 0),
            (3, 1, 1, 1),
            (3, 2, 0, 1),
            (3, 3, 0, 0),
            (5, 5, 0, 0)
        ]
    );
    for e in &all {
        assert_eq!(e["course_id"], course.as_str());
    }
    assert_eq!(all[1]["reservation_id"], a.to_string());
    assert_eq!(all[1]["student_id"], "s1");
    assert_eq!(all[4]["reservation_id"], b.to_string());
    assert!(all[0].get("reservation_id").is_none(), "{}", all[0]);
    let cursors: Vec<_> = all.iter().map(|e| e["cursor"].clone()).collect();
    let last = cursors.last().and_then(Value::as_str).expect("cursor");

    // Nothing after the last cursor; the next change is the one event after it.
    let reply = events(&app, &format!("?after={last}")).await;
    assert_eq!(reply.body["items"], json!([]));
    assert_eq!(reply.body["next_cursor"], last, "next_cursor stays put");
    app.stop().await;

    let app = crate::disk::restart(dir.path()).await;
    let again = read_all(&app, None, 3).await;
    assert_eq!(
        again, all,
        "the same events with the same cursors after a restart"
    );
    let c = Uuid::now_v7();
    assert_eq!(app.hold(&course, c, "s3").await.status, 201);
    let after = read_all(&app, Some(last), 100).await;
    assert_eq!(kinds(&after), ["reservation.held"]);
    assert_eq!(after[0]["reservation_id"], c.to_string());
    assert_eq!(counts(&after[0]), (5, 4, 1, 0));
}

#[tokio::test]
async fn pages_of_any_size_neither_skip_nor_repeat() {
    let app = app(None).await;
    let course = id_of(&app.create_course("alice", 50, 0).await);
    for i in 0..20 {
        let id = Uuid::now_v7();
        assert_eq!(app.hold(&course, id, &format!("s{i}")).await.status, 201);
        if i % 3 == 0 {
            assert_eq!(app.act(&course, id, "cancel").await.status, 200);
        }
    }
    let whole = read_all(&app, None, 1000).await;
    assert_eq!(whole.len(), 1 + 20 + 7);
    for limit in [1, 2, 7, 27, 28] {
        assert_eq!(read_all(&app, None, limit).await, whole, "limit {limit}");
    }
    let cursors: Vec<&str> = whole.iter().filter_map(|e| e["cursor"].as_str()).collect();
    let mut sorted = cursors.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, cursors, "cursors are distinct and in order");
}

#[tokio::test]
async fn a_long_poll_answers_as_soon_as_an_event_arrives() {
    let app = std::sync::Arc::new(app(None).await);
    let course = id_of(&app.create_course("alice", 5, 0).await);
    let head = read_all(&app, None, 100).await;
    let last = head.last().expect("created")["cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();

    // With nothing new, the call waits its time out and answers with no events.
    let started = Instant::now();
    let reply = events(&app, &format!("?after={last}&wait_ms=400")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["items"], json!([]));
    assert!(started.elapsed() >= Duration::from_millis(350));

    let poll = {
        let (app, last) = (app.clone(), last.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let reply = events(&app, &format!("?after={last}&wait_ms=30000")).await;
            (reply, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poll.is_finished(), "the poll answered before any event");
    let id = Uuid::now_v7();
    assert_eq!(app.hold(&course, id, "s1").await.status, 201);
    let (reply, waited) = poll.await.expect("poll");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        kinds(reply.body["items"].as_array().expect("items")),
        ["reservation.held"]
    );
    assert!(
        waited < Duration::from_secs(20),
        "the poll waited {waited:?}, not until the event"
    );
}

#[tokio::test]
async fn events_past_the_retention_are_forgotten_and_their_cursors_expire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(Some(dir.path())).await;
    let course = id_of(&app.create_course("alice", 5, 0).await);
    assert_eq!(app.hold(&course, Uuid::now_v7(), "s1").await.status, 201);
    let old = read_all(&app, None, 100).await;
    assert_eq!(old.len(), 2);
    let first = old[0]["cursor"].as_str().expect("cursor").to_owned();

    // Everything so far is older than the cutoff.
    app.advance(60);
    let forgotten = app
        .store
        .trim_events(app.clock.now() - chrono::TimeDelta::seconds(30))
        .await
        .expect("trim");
    assert_eq!(forgotten, 2);
    assert_eq!(app.hold(&course, Uuid::now_v7(), "s2").await.status, 201);

    let reply = events(&app, &format!("?after={first}")).await;
    reply.assert_problem(410, "cursor_expired");
    // The last forgotten cursor still reads on, and so does starting over.
    let last_old = old[1]["cursor"].as_str().expect("cursor");
    let kept = read_all(&app, Some(last_old), 100).await;
    assert_eq!(kinds(&kept), ["reservation.held"]);
    assert_eq!(read_all(&app, None, 100).await, kept);
    app.stop().await;

    let app = crate::disk::restart(dir.path()).await;
    assert_eq!(read_all(&app, None, 100).await, kept, "after a restart");
    events(&app, &format!("?after={first}"))
        .await
        .assert_problem(410, "cursor_expired");
}

#[tokio::test]
async fn bad_queries_are_refused_and_only_services_read_the_feed() {
    let app = app(None).await;
    for query in [
        "?after=nope",
        "?after=ev1_zz",
        // Well formed, but ahead of every event there is.
        "?after=ev1_00000000ffffffff",
        "?limit=0",
        "?limit=1001",
        "?limit=ten",
        "?wait_ms=-1",
        "?wait_ms=30001",
        "?since=1",
    ] {
        events(&app, query)
            .await
            .assert_problem(400, "validation_failed");
    }
    for ok in ["?limit=1", "?limit=1000", "?wait_ms=0", ""] {
        assert_eq!(events(&app, ok).await.status, 200, "{ok}");
    }
    let student = app.token(Role::Student, "s1");
    app.send(Method::GET, "/api/events", Some(&student), None)
        .await
        .assert_problem(403, "forbidden");
    let instructor = app.token(Role::Instructor, "alice");
    app.send(Method::GET, "/api/events", Some(&instructor), None)
        .await
        .assert_problem(403, "forbidden");
    app.send(Method::GET, "/api/events", None, None)
        .await
        .assert_problem(401, "unauthorized");
}
