//! Reservation routes: every success and every error code of the contract.

use crate::helpers::{TTL_SECS, TestApp, id_of, seats};
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn a_hold_answers_201_held_and_a_replay_answers_200_with_the_same_body() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 2, 1000).await);
    let id = Uuid::now_v7();
    let first = app.hold(&course, id, "s1").await;
    assert_eq!(first.status, StatusCode::CREATED);
    let r = &first.body;
    assert_eq!(r["id"], id.to_string());
    assert_eq!(r["course_id"], course);
    assert_eq!(r["student_id"], "s1");
    assert_eq!(r["status"], "held");
    assert_eq!(r["unit_price_cents"], 1000);
    assert_eq!(r["currency"], "USD");
    let created =
        chrono::DateTime::parse_from_rfc3339(r["created_at"].as_str().expect("created_at"))
            .expect("time");
    let expires =
        chrono::DateTime::parse_from_rfc3339(r["expires_at"].as_str().expect("expires_at"))
            .expect("time");
    assert_eq!((expires - created).num_seconds(), TTL_SECS as i64);
    let again = app.hold(&course, id, "s1").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, first.body);
    assert_eq!(seats(&app.course(&course).await), (1, 1, 0));
    assert_eq!(app.reservation(&course, id).await.body, first.body);
}

#[tokio::test]
async fn a_replay_after_confirmation_returns_the_stored_confirmed_reservation() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 1000).await);
    let id = Uuid::now_v7();
    app.hold(&course, id, "s1").await;
    app.act(&course, id, "confirm").await;
    let replay = app.hold(&course, id, "s1").await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.body["status"], "confirmed");
    assert_eq!(seats(&app.course(&course).await), (0, 0, 1));
}

#[tokio::test]
async fn a_hold_on_an_unknown_course_answers_404() {
    let app = TestApp::spawn().await;
    app.hold(&Uuid::now_v7().to_string(), Uuid::now_v7(), "s1")
        .await
        .assert_problem(404, "course_not_found");
}

#[tokio::test]
async fn holds_beyond_capacity_answer_sold_out() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 1000).await);
    assert_eq!(
        app.hold(&course, Uuid::now_v7(), "s1").await.status,
        StatusCode::CREATED
    );
    app.hold(&course, Uuid::now_v7(), "s2")
        .await
        .assert_problem(409, "sold_out");
    assert_eq!(seats(&app.course(&course).await), (0, 1, 0));
}

#[tokio::test]
async fn a_stale_expected_price_answers_price_changed_with_the_current_price() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 1000).await);
    let path = format!("/api/courses/{course}/reservations/{}", Uuid::now_v7());
    let body = json!({"student_id": "s1", "expected_price_cents": 900});
    let reply = app
        .send(Method::PUT, &path, Some(&app.service()), Some(body))
        .await;
    reply.assert_problem(409, "price_changed");
    assert_eq!(reply.body["price_cents"], 1000);
    let body = json!({"student_id": "s1", "expected_price_cents": 1000});
    assert_eq!(
        app.send(Method::PUT, &path, Some(&app.service()), Some(body))
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_student_with_a_hold_or_a_seat_answers_already_holding() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 5, 1000).await);
    let first = Uuid::now_v7();
    app.hold(&course, first, "s1").await;
    app.hold(&course, Uuid::now_v7(), "s1")
        .await
        .assert_problem(409, "already_holding");
    app.act(&course, first, "confirm").await;
    app.hold(&course, Uuid::now_v7(), "s1")
        .await
        .assert_problem(409, "already_holding");
    assert_eq!(seats(&app.course(&course).await), (4, 0, 1));
}

#[tokio::test]
async fn the_same_id_with_a_different_body_answers_idempotency_conflict() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 5, 1000).await);
    let id = Uuid::now_v7();
    app.hold(&course, id, "s1").await;
    app.hold(&course, id, "s2")
        .await
        .assert_problem(409, "idempotency_conflict");
    assert_eq!(seats(&app.course(&course).await), (4, 1, 0));
}

#[tokio::test]
async fn invalid_hold_bodies_answer_400() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 5, 1000).await);
    let path = format!("/api/courses/{course}/reservations/{}", Uuid::now_v7());
    for body in [
        json!({"student_id": ""}),
        json!({}),
        json!({"student_id": "s1", "status": "confirmed"}),
    ] {
        app.send(Method::PUT, &path, Some(&app.service()), Some(body))
            .await
            .assert_problem(400, "validation_failed");
    }
    assert_eq!(seats(&app.course(&course).await), (5, 0, 0));
}

#[tokio::test]
async fn an_unknown_reservation_answers_404_reservation_not_found() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 1000).await);
    let id = Uuid::now_v7();
    app.reservation(&course, id)
        .await
        .assert_problem(404, "reservation_not_found");
    app.act(&course, id, "confirm")
        .await
        .assert_problem(404, "reservation_not_found");
    app.act(&course, id, "release")
        .await
        .assert_problem(404, "reservation_not_found");
    let elsewhere = id_of(&app.create_course("alice", 1, 1000).await);
    app.hold(&course, id, "s1").await;
    app.reservation(&elsewhere, id)
        .await
        .assert_problem(404, "reservation_not_found");
    app.reservation(&Uuid::now_v7().to_string(), id)
        .await
        .assert_problem(404, "course_not_found");
}

#[tokio::test]
async fn confirm_answers_200_and_again_200() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 1000).await);
    let id = Uuid::now_v7();
    app.hold(&course, id, "s1").await;
    for _ in 0..2 {
        let reply = app.act(&course, id, "confirm").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body["status"], "confirmed");
    }
    assert_eq!(seats(&app.course(&course).await), (0, 0, 1));
}

#[tokio::test]
async fn confirm_returns_410_after_the_hold_lapses_even_before_the_sweep() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 1000).await);
    let id = Uuid::now_v7();
    app.hold(&course, id, "s1").await;
    app.advance(TTL_SECS as i64);
    app.act(&course, id, "confirm")
        .await
        .assert_problem(410, "reservation_expired");
    assert_eq!(app.reservation(&course, id).await.body["status"], "expired");
    assert_eq!(seats(&app.course(&course).await), (1, 0, 0));
    app.act(&course, id, "confirm")
        .await
        .assert_problem(410, "reservation_expired");
}

#[tokio::test]
async fn confirm_of_a_cancelled_or_released_reservation_answers_409_reservation_cancelled() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 2, 1000).await);
    let (cancelled, released) = (Uuid::now_v7(), Uuid::now_v7());
    app.hold(&course, cancelled, "s1").await;
    app.act(&course, cancelled, "cancel").await;
    app.act(&course, cancelled, "confirm")
        .await
        .assert_problem(409, "reservation_cancelled");
    app.hold(&course, released, "s2").await;
    app.act(&course, released, "confirm").await;
    app.act(&course, released, "release").await;
    app.act(&course, released, "confirm")
        .await
        .assert_problem(409, "reservation_cancelled");
    assert_eq!(seats(&app.course(&course).await), (2, 0, 0));
}

#[tokio::test]
async fn cancel_returns_the_seat_and_again_answers_200() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 1000).await);
    let id = Uuid::now_v7();
    app.hold(&course, id, "s1").await;
    for _ in 0..2 {
        let reply = app.act(&course, id, "cancel").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body["status"], "cancelled");
    }
    assert_eq!(seats(&app.course(&course).await), (1, 0, 0));
    assert_eq!(
        app.hold(&course, Uuid::now_v7(), "s1").await.status,
        StatusCode::CREATED,
        "the student may hold again"
    );
}

#[tokio::test]
async fn cancelling_an_unknown_id_records_it_so_a_late_hold_answers_reservation_cancelled() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 1000).await);
    let id = Uuid::now_v7();
    let reply = app.act(&course, id, "cancel").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["status"], "cancelled");
    assert!(reply.body["student_id"].is_null());
    app.hold(&course, id, "s1")
        .await
        .assert_problem(409, "reservation_cancelled");
    assert_eq!(seats(&app.course(&course).await), (1, 0, 0));
    assert_eq!(
        app.reservation(&course, id).await.body["status"],
        "cancelled"
    );
}

#[tokio::test]
async fn cancelling_an_unknown_id_under_an_unknown_course_answers_404() {
    let app = TestApp::spawn().await;
    app.act(&Uuid::now_v7().to_string(), Uuid::now_v7(), "cancel")
        .await
        .assert_problem(404, "course_not_found");
}

#[tokio::test]
async fn cancel_of_a_confirmed_reservation_answers_409_reservation_confirmed() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 1000).await);
    let id = Uuid::now_v7();
    app.hold(&course, id, "s1").await;
    app.act(&course, id, "confirm").await;
    app.act(&course, id, "cancel")
        .await
        .assert_problem(409, "reservation_confirmed");
    assert_eq!(seats(&app.course(&course).await), (0, 0, 1));
}

#[tokio::test]
async fn cancel_of_an_expired_hold_answers_200_unchanged() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 1000).await);
    let id = Uuid::now_v7();
    app.hold(&course, id, "s1").await;
    app.advance(TTL_SECS as i64 + 1);
    let reply = app.act(&course, id, "cancel").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["status"], "expired");
    assert_eq!(seats(&app.course(&course).await), (1, 0, 0));
}

#[tokio::test]
async fn release_gives_a_sold_seat_back_and_again_answers_200() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 1, 1000).await);
    let id = Uuid::now_v7();
    app.hold(&course, id, "s1").await;
    app.act(&course, id, "confirm").await;
    for _ in 0..2 {
        let reply = app.act(&course, id, "release").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body["status"], "released");
    }
    assert_eq!(seats(&app.course(&course).await), (1, 0, 0));
}

#[tokio::test]
async fn release_of_anything_not_confirmed_answers_409_reservation_not_confirmed() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 3, 1000).await);
    let (held, cancelled, expired) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    app.hold(&course, held, "s1").await;
    app.hold(&course, cancelled, "s2").await;
    app.act(&course, cancelled, "cancel").await;
    app.act(&course, held, "release")
        .await
        .assert_problem(409, "reservation_not_confirmed");
    app.act(&course, cancelled, "release")
        .await
        .assert_problem(409, "reservation_not_confirmed");
    app.advance(TTL_SECS as i64);
    app.hold(&course, expired, "s3").await;
    app.advance(TTL_SECS as i64);
    app.act(&course, expired, "release")
        .await
        .assert_problem(409, "reservation_not_confirmed");
    app.sweep().await;
    assert_eq!(seats(&app.course(&course).await), (3, 0, 0));
}

#[tokio::test]
async fn a_student_holds_at_most_five_seats_at_once_across_courses() {
    let app = TestApp::spawn().await;
    let mut holds = Vec::new();
    for _ in 0..6 {
        let course = id_of(&app.create_course("alice", 3, 1000).await);
        holds.push((course, Uuid::now_v7()));
    }
    for (course, id) in &holds[..5] {
        assert_eq!(
            app.hold(course, *id, "hoarder").await.status,
            StatusCode::CREATED
        );
    }
    let (sixth, id) = &holds[5];
    app.hold(sixth, *id, "hoarder")
        .await
        .assert_problem(409, "hold_limit_reached");
    assert_eq!(
        seats(&app.course(sixth).await),
        (3, 0, 0),
        "the refused hold took nothing"
    );
    let (first, first_id) = &holds[0];
    assert_eq!(
        app.hold(first, *first_id, "hoarder").await.status,
        StatusCode::OK,
        "a retry is still answered"
    );
    assert_eq!(
        app.hold(sixth, Uuid::now_v7(), "someone-else").await.status,
        StatusCode::CREATED
    );

    // A confirmed seat is no longer a hold: the student may hold another.
    app.act(first, *first_id, "confirm").await;
    assert_eq!(
        app.hold(sixth, *id, "hoarder").await.status,
        StatusCode::CREATED
    );
    app.hold(first, Uuid::now_v7(), "hoarder")
        .await
        .assert_problem(409, "hold_limit_reached");

    // Holds that expire free their slots too.
    app.advance(TTL_SECS as i64);
    app.sweep().await;
    let extra = id_of(&app.create_course("alice", 3, 1000).await);
    assert_eq!(
        app.hold(&extra, Uuid::now_v7(), "hoarder").await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn the_hold_limit_is_configurable_and_zero_turns_it_off() {
    let app = TestApp::spawn_with(|c| c.max_holds_per_student = 0).await;
    for _ in 0..8 {
        let course = id_of(&app.create_course("alice", 1, 1000).await);
        assert_eq!(
            app.hold(&course, Uuid::now_v7(), "collector").await.status,
            StatusCode::CREATED
        );
    }
    let strict = TestApp::spawn_with(|c| c.max_holds_per_student = 1).await;
    let (a, b) = (
        id_of(&strict.create_course("alice", 1, 1).await),
        id_of(&strict.create_course("alice", 1, 1).await),
    );
    assert_eq!(
        strict.hold(&a, Uuid::now_v7(), "s").await.status,
        StatusCode::CREATED
    );
    strict
        .hold(&b, Uuid::now_v7(), "s")
        .await
        .assert_problem(409, "hold_limit_reached");
}

#[tokio::test]
async fn a_tombstone_ages_out_after_an_hour() {
    let app = TestApp::spawn_with(|c| c.reservation_ttl_secs = 60).await;
    let course = id_of(&app.create_course("alice", 1, 1000).await);
    let id = Uuid::now_v7();
    app.act(&course, id, "cancel").await;
    app.advance(59 * 60);
    app.sweep().await;
    app.hold(&course, id, "s1")
        .await
        .assert_problem(409, "reservation_cancelled");
    app.advance(60);
    app.sweep().await;
    app.reservation(&course, id)
        .await
        .assert_problem(404, "reservation_not_found");
    assert_eq!(app.expiry_backlog().await, 0, "the index forgot it too");
}
