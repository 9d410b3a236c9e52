//! Waitlists over HTTP: joining and leaving, offers made in the step that frees a seat (cancel,
//! expiry, capacity), positions, racing buyers, restarts, roles and bad input.

use crate::helpers::{TTL_SECS, TestApp, id_of, seats};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared_types::Role;
use std::sync::Arc;
use uuid::Uuid;

impl TestApp {
    pub async fn join(&self, course: &str, student: &str) -> crate::helpers::Reply {
        let path = format!("/api/courses/{course}/waitlist");
        let body = json!({ "student_id": student });
        self.send(Method::POST, &path, Some(&self.service()), Some(body))
            .await
    }

    pub async fn entries_of(&self, student: &str) -> Vec<Value> {
        let path = format!("/api/waitlist?student_id={student}");
        let reply = self
            .send(Method::GET, &path, Some(&self.service()), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["items"].as_array().expect("items").clone()
    }

    pub async fn entry(&self, id: &str) -> crate::helpers::Reply {
        let path = format!("/api/waitlist/entries/{id}");
        self.send(Method::GET, &path, Some(&self.service()), None)
            .await
    }

    pub async fn leave(&self, id: &str, student: &str) -> crate::helpers::Reply {
        let path = format!("/api/waitlist/entries/{id}/leave");
        let body = json!({ "student_id": student });
        self.send(Method::POST, &path, Some(&self.service()), Some(body))
            .await
    }

    /// A course of `seats` seats, every one held by a buyer (`buyer-0`, ...); returns the course
    /// id and the buyers' reservation ids.
    async fn sold_out(&self, seats: u32) -> (String, Vec<Uuid>) {
        let course = id_of(&self.create_course("alice", seats, 1000).await);
        let mut ids = Vec::new();
        for i in 0..seats {
            let id = Uuid::now_v7();
            let reply = self.hold(&course, id, &format!("buyer-{i}")).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            ids.push(id);
        }
        (course, ids)
    }
}

fn status(entry: &Value) -> &str {
    entry["status"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_wait_ten_cancel_at_once_and_exactly_the_first_ten_are_offered() {
    let app = Arc::new(TestApp::spawn().await);
    let (course, ids) = app.sold_out(10).await;
    let mut entries = Vec::new();
    for i in 0..40 {
        let reply = app.join(&course, &format!("waiter-{i:02}")).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["position"], json!(i + 1));
        entries.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(app.course(&course).await["waitlist_length"], json!(40));
    // Ten cancels and, racing them, ten buyers who never waited.
    let cancels = ids.iter().map(|id| {
        let (app, course, id) = (Arc::clone(&app), course.clone(), *id);
        tokio::spawn(async move { app.act(&course, id, "cancel").await.status })
    });
    let racers = (0..10).map(|i| {
        let (app, course) = (Arc::clone(&app), course.clone());
        tokio::spawn(async move {
            let reply = app
                .hold(&course, Uuid::now_v7(), &format!("racer-{i}"))
                .await;
            (reply.status, reply.code().to_owned())
        })
    });
    let (cancels, racers) = futures::join!(join_all(cancels), join_all(racers));
    assert!(cancels.into_iter().all(|s| s.unwrap() == StatusCode::OK));
    for racer in racers {
        assert_eq!(
            racer.unwrap(),
            (StatusCode::CONFLICT, "sold_out".to_owned()),
            "a racing buyer got a seat someone waited for"
        );
    }
    let course_now = app.course(&course).await;
    assert_eq!(seats(&course_now), (0, 10, 0));
    assert_eq!(course_now["waitlist_length"], json!(30));
    for (i, id) in entries.iter().enumerate() {
        let entry = app.entry(id).await.body;
        if i < 10 {
            assert_eq!(status(&entry), "offered", "{entry}");
            assert_eq!(entry["position"], Value::Null);
            let hold = entry["reservation_id"].as_str().unwrap().parse().unwrap();
            let r = app.reservation(&course, hold).await.body;
            assert_eq!(r["status"], "held");
            assert_eq!(r["student_id"], format!("waiter-{i:02}"));
        } else {
            assert_eq!(status(&entry), "waiting", "{entry}");
            assert_eq!(entry["position"], json!(i - 9), "{entry}");
        }
    }
    app.check_invariants().await;
}

#[tokio::test]
async fn an_offer_confirmed_enrols_and_one_that_lapses_passes_on() {
    let app = TestApp::spawn_with(|c| c.waitlist_offer_secs = 600).await;
    let (course, ids) = app.sold_out(1).await;
    let first = app.join(&course, "w1").await.body;
    let second = app.join(&course, "w2").await.body;
    // The buyer's hold lapses; the sweep offers its seat to w1 in the same step.
    app.advance(TTL_SECS as i64);
    assert_eq!(app.sweep().await.expired, 1);
    let first = app.entry(first["id"].as_str().unwrap()).await.body;
    assert_eq!(status(&first), "offered");
    let offer: Uuid = first["reservation_id"].as_str().unwrap().parse().unwrap();
    let held = app.reservation(&course, offer).await.body;
    let expires: chrono::DateTime<chrono::Utc> =
        held["expires_at"].as_str().unwrap().parse().unwrap();
    let created: chrono::DateTime<chrono::Utc> =
        held["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!((expires - created).num_seconds(), 600);
    // A replay of the offer by its student, as order-service sends it, answers the hold.
    let replay = app.hold(&course, offer, "w1").await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.body);
    // w1 lets it lapse: w2 gets it.
    app.advance(600);
    app.sweep().await;
    let first = app.entry(first["id"].as_str().unwrap()).await.body;
    assert_eq!(status(&first), "lapsed");
    let second = app.entry(second["id"].as_str().unwrap()).await.body;
    assert_eq!(status(&second), "offered");
    let offer: Uuid = second["reservation_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        app.act(&course, offer, "confirm").await.status,
        StatusCode::OK
    );
    let second = app.entry(second["id"].as_str().unwrap()).await.body;
    assert_eq!(status(&second), "enrolled");
    assert_eq!(seats(&app.course(&course).await), (0, 0, 1));
    assert_eq!(
        app.reservation(&course, ids[0]).await.body["status"],
        "expired"
    );
    app.check_invariants().await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        "course_waitlist_offers_total 2",
        "course_waitlist_offers_taken 1",
        "course_waitlist_offers_lapsed 1",
        "course_waitlist_length 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
}

#[tokio::test]
async fn more_seats_go_to_the_waitlist_first() {
    let app = TestApp::spawn().await;
    let (course, _) = app.sold_out(2).await;
    for i in 0..5 {
        app.join(&course, &format!("w{i}")).await;
    }
    let token = app.token(Role::Instructor, "alice");
    let path = format!("/api/courses/{course}/seats");
    let resized = app
        .send(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"seats_total": 5})),
        )
        .await;
    assert_eq!(resized.status, StatusCode::OK, "{}", resized.body);
    assert_eq!(seats(&resized.body), (0, 5, 0));
    assert_eq!(resized.body["waitlist_length"], json!(2));
    let mut offered = Vec::new();
    for i in 0..5 {
        if status(&app.entries_of(&format!("w{i}")).await[0]) == "offered" {
            offered.push(format!("w{i}"));
        }
    }
    assert_eq!(offered, ["w0", "w1", "w2"]);
    let w3 = &app.entries_of("w3").await[0];
    assert_eq!(w3["position"], json!(1));
    app.check_invariants().await;
}

#[tokio::test]
async fn joining_again_leaving_and_the_refusals() {
    let app = TestApp::spawn().await;
    let open = id_of(&app.create_course("alice", 3, 1000).await);
    app.join(&open, "s")
        .await
        .assert_problem(409, "seats_available");
    let (course, _) = app.sold_out(1).await;
    app.join(&course, "buyer-0")
        .await
        .assert_problem(409, "already_enrolled");
    let missing = Uuid::now_v7();
    app.join(&missing.to_string(), "s")
        .await
        .assert_problem(404, "course_not_found");
    let first = app.join(&course, "s").await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app.join(&course, "s").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, first.body);
    let id = first.body["id"].as_str().unwrap();
    app.leave(id, "someone-else")
        .await
        .assert_problem(404, "waitlist_entry_not_found");
    let left = app.leave(id, "s").await;
    assert_eq!(left.status, StatusCode::OK, "{}", left.body);
    assert_eq!(status(&left.body), "left");
    assert_eq!(left.body["position"], Value::Null);
    let again = app.leave(id, "s").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, left.body);
    assert_eq!(app.course(&course).await["waitlist_length"], json!(0));
    // Joining after leaving is a new entry at the back.
    let back = app.join(&course, "s").await;
    assert_eq!(back.status, StatusCode::CREATED);
    assert_ne!(back.body["id"], first.body["id"]);
    let mine = app.entries_of("s").await;
    assert_eq!(mine.len(), 2);
    assert_eq!(status(&mine[0]), "left");
    assert_eq!(status(&mine[1]), "waiting");
    app.entry(&Uuid::now_v7().to_string())
        .await
        .assert_problem(404, "waitlist_entry_not_found");
}

#[tokio::test]
async fn giving_an_offer_up_passes_the_seat_on() {
    let app = TestApp::spawn().await;
    let (course, ids) = app.sold_out(1).await;
    let first = app.join(&course, "w1").await.body;
    app.join(&course, "w2").await;
    assert_eq!(
        app.act(&course, ids[0], "cancel").await.status,
        StatusCode::OK
    );
    let id = first["id"].as_str().unwrap();
    assert_eq!(status(&app.entry(id).await.body), "offered");
    let left = app.leave(id, "w1").await;
    assert_eq!(status(&left.body), "left", "{}", left.body);
    let offer: Uuid = left.body["reservation_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        app.reservation(&course, offer).await.body["status"],
        "cancelled"
    );
    assert_eq!(status(&app.entries_of("w2").await[0]), "offered");
    assert_eq!(seats(&app.course(&course).await), (0, 1, 0));
    app.check_invariants().await;
}

#[tokio::test]
async fn offers_count_against_the_hold_limit() {
    let app = TestApp::spawn_with(|c| c.max_holds_per_student = 1).await;
    let (course, ids) = app.sold_out(1).await;
    app.join(&course, "w").await;
    app.act(&course, ids[0], "cancel").await;
    let other = id_of(&app.create_course("alice", 5, 1000).await);
    app.hold(&other, Uuid::now_v7(), "w")
        .await
        .assert_problem(409, "hold_limit_reached");
}

#[tokio::test]
async fn the_waitlist_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let on_disk = |c: &mut course_service::Config| {
        c.storage.database.database_url = None;
        c.storage.mode = storage_kit::journal::StorageMode::Embedded;
        c.storage.data_dir = dir.path().to_owned();
    };
    let app = TestApp::spawn_with(on_disk).await;
    let (course, ids) = app.sold_out(1).await;
    let w1 = app.join(&course, "w1").await.body;
    let w2 = app.join(&course, "w2").await.body;
    app.act(&course, ids[0], "cancel").await;
    let before = (
        app.entry(w1["id"].as_str().unwrap()).await.body,
        app.entry(w2["id"].as_str().unwrap()).await.body,
    );
    app.stop().await;
    let app = TestApp::spawn_with(on_disk).await;
    let after = (
        app.entry(w1["id"].as_str().unwrap()).await.body,
        app.entry(w2["id"].as_str().unwrap()).await.body,
    );
    assert_eq!(before, after);
    assert_eq!(status(&after.0), "offered");
    assert_eq!(after.1["position"], json!(1));
    assert_eq!(app.course(&course).await["waitlist_length"], json!(1));
    app.check_invariants().await;
}

#[tokio::test]
async fn only_services_use_the_waitlist_routes_and_bad_input_changes_nothing() {
    let app = TestApp::spawn().await;
    let (course, _) = app.sold_out(1).await;
    let path = format!("/api/courses/{course}/waitlist");
    let body = json!({"student_id": "s"});
    for role in [Role::Student, Role::Instructor] {
        let token = app.token(role, "s");
        app.send(Method::POST, &path, Some(&token), Some(body.clone()))
            .await
            .assert_problem(403, "forbidden");
        app.send(
            Method::GET,
            "/api/waitlist?student_id=s",
            Some(&token),
            None,
        )
        .await
        .assert_problem(403, "forbidden");
    }
    app.send(Method::POST, &path, None, Some(body))
        .await
        .assert_problem(401, "unauthorized");
    for bad in [
        json!({}),
        json!({"student_id": ""}),
        json!({"student_id": "s", "x": 1}),
    ] {
        app.send(Method::POST, &path, Some(&app.service()), Some(bad))
            .await
            .assert_problem(400, "validation_failed");
    }
    app.send(Method::GET, "/api/waitlist", Some(&app.service()), None)
        .await
        .assert_problem(400, "validation_failed");
    app.send(
        Method::GET,
        "/api/waitlist/entries/not-a-uuid",
        Some(&app.service()),
        None,
    )
    .await
    .assert_problem(400, "validation_failed");
    assert_eq!(app.course(&course).await["waitlist_length"], json!(0));
}
