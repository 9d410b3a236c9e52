//! Course routes: create, list with pagination, read, the owner's price and capacity changes, and
//! the owner's sales.

use crate::helpers::{TestApp, id_of, seats};
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared_types::Role;
use uuid::Uuid;

#[tokio::test]
async fn an_instructor_creates_a_course_with_all_fields_and_a_location() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Instructor, "alice");
    let body = json!({"title": "Rust", "description": "Ownership", "price_cents": 4900, "currency": "EUR", "seats": 30});
    let reply = app
        .send(Method::POST, "/api/courses", Some(&token), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let c = &reply.body;
    assert_eq!(
        reply.headers["location"].to_str().ok(),
        Some(format!("/api/courses/{}", id_of(c)).as_str())
    );
    assert_eq!(c["title"], "Rust");
    assert_eq!(c["description"], "Ownership");
    assert_eq!(c["instructor_id"], "alice");
    assert_eq!(c["price_cents"], 4900);
    assert_eq!(c["currency"], "EUR");
    assert_eq!(seats(c), (30, 0, 0));
    assert_eq!(c["seats_total"], 30);
    assert!(c["created_at"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert_eq!(app.course(&id_of(c)).await, *c);
}

#[tokio::test]
async fn currency_defaults_to_usd() {
    let app = TestApp::spawn().await;
    let c = app.create_course("alice", 1, 0).await;
    assert_eq!(c["currency"], "USD");
}

#[tokio::test]
async fn invalid_courses_answer_400_validation_failed() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Instructor, "alice");
    let bad = [
        json!({"title": "", "price_cents": 1, "seats": 1}),
        json!({"title": "x".repeat(201), "price_cents": 1, "seats": 1}),
        json!({"title": "x", "description": "d".repeat(5001), "price_cents": 1, "seats": 1}),
        json!({"title": "x", "price_cents": -1, "seats": 1}),
        json!({"title": "x", "price_cents": 1_000_000_001i64, "seats": 1}),
        json!({"title": "x", "price_cents": 10.5, "seats": 1}),
        json!({"title": "x", "price_cents": 1, "seats": 0}),
        json!({"title": "x", "price_cents": 1, "seats": 1_000_001}),
        json!({"title": "x", "price_cents": 1, "seats": 1, "currency": "usd"}),
        json!({"title": "x", "price_cents": 1, "seats": 1, "currency": "XYZ"}),
        json!({"price_cents": 1, "seats": 1}),
        json!({"title": "x", "price_cents": 1, "seats": 1, "instructor_id": "bob"}),
    ];
    for body in bad {
        let reply = app
            .send(
                Method::POST,
                "/api/courses",
                Some(&token),
                Some(body.clone()),
            )
            .await;
        reply.assert_problem(400, "validation_failed");
    }
    assert_eq!(app.get("/api/courses").await.body["items"], json!([]));
}

#[tokio::test]
async fn unknown_courses_answer_404_course_not_found() {
    let app = TestApp::spawn().await;
    app.get(&format!("/api/courses/{}", Uuid::now_v7()))
        .await
        .assert_problem(404, "course_not_found");
    let token = app.token(Role::Instructor, "alice");
    let path = format!("/api/courses/{}/price", Uuid::now_v7());
    app.send(
        Method::PATCH,
        &path,
        Some(&token),
        Some(json!({"price_cents": 1})),
    )
    .await
    .assert_problem(404, "course_not_found");
    let path = format!("/api/courses/{}/seats", Uuid::now_v7());
    app.send(
        Method::PATCH,
        &path,
        Some(&token),
        Some(json!({"seats_total": 1})),
    )
    .await
    .assert_problem(404, "course_not_found");
}

#[tokio::test]
async fn listing_pages_through_every_course_in_creation_order() {
    let app = TestApp::spawn().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(id_of(
            &app.create_course(if i % 2 == 0 { "alice" } else { "bob" }, 1, 100)
                .await,
        ));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/courses?limit=3&cursor={c}"),
            None => "/api/courses?limit=3".to_owned(),
        };
        let page = app.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        let items = page.body["items"].as_array().expect("items").clone();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(id_of));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, created);
}

#[tokio::test]
async fn listing_filters_by_instructor_and_defaults_to_20() {
    let app = TestApp::spawn().await;
    for _ in 0..22 {
        app.create_course("alice", 1, 1).await;
    }
    let bobs = id_of(&app.create_course("bob", 1, 1).await);
    let page = app.get("/api/courses").await;
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(20));
    assert!(page.body["next_cursor"].is_string());
    let only_bob = app.get("/api/courses?instructor_id=bob").await;
    let items = only_bob.body["items"].as_array().expect("items");
    assert_eq!(items.iter().map(id_of).collect::<Vec<_>>(), vec![bobs]);
    assert!(only_bob.body["next_cursor"].is_null());
    let nobody = app.get("/api/courses?instructor_id=carol").await;
    assert_eq!(nobody.body["items"], json!([]));
}

#[tokio::test]
async fn listing_refuses_bad_limits_and_cursors() {
    let app = TestApp::spawn().await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=abc",
        "cursor=xyz",
        "color=red",
    ] {
        app.get(&format!("/api/courses?{query}"))
            .await
            .assert_problem(400, "validation_failed");
    }
    assert_eq!(
        app.get("/api/courses?limit=100").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_owner_changes_the_price_and_holds_keep_theirs() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 2, 1000).await);
    let held = app.hold(&course, Uuid::now_v7(), "s1").await;
    assert_eq!(held.body["unit_price_cents"], 1000);
    let token = app.token(Role::Instructor, "alice");
    let reply = app
        .send(
            Method::PATCH,
            &format!("/api/courses/{course}/price"),
            Some(&token),
            Some(json!({"price_cents": 1500})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["price_cents"], 1500);
    let reservation = held.body["id"].as_str().expect("id").parse().expect("uuid");
    let confirmed = app.act(&course, reservation, "confirm").await;
    assert_eq!(confirmed.body["unit_price_cents"], 1000);
    let next = app.hold(&course, Uuid::now_v7(), "s2").await;
    assert_eq!(next.body["unit_price_cents"], 1500);
}

#[tokio::test]
async fn invalid_prices_and_capacities_answer_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 2, 1000).await);
    let token = app.token(Role::Instructor, "alice");
    for body in [
        json!({"price_cents": -5}),
        json!({"price_cents": 1, "seats_total": 3}),
        json!({}),
    ] {
        app.send(
            Method::PATCH,
            &format!("/api/courses/{course}/price"),
            Some(&token),
            Some(body),
        )
        .await
        .assert_problem(400, "validation_failed");
    }
    for body in [
        json!({"seats_total": 0}),
        json!({"seats_total": 2_000_000}),
        json!({"seats": 3}),
    ] {
        app.send(
            Method::PATCH,
            &format!("/api/courses/{course}/seats"),
            Some(&token),
            Some(body),
        )
        .await
        .assert_problem(400, "validation_failed");
    }
    let c = app.course(&course).await;
    assert_eq!(
        (c["price_cents"].as_i64(), c["seats_total"].as_u64()),
        (Some(1000), Some(2))
    );
}

#[tokio::test]
async fn capacity_changes_keep_the_invariant_and_never_drop_below_committed() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 3, 1000).await);
    let first = Uuid::now_v7();
    app.hold(&course, first, "s1").await;
    app.hold(&course, Uuid::now_v7(), "s2").await;
    app.act(&course, first, "confirm").await;
    let token = app.token(Role::Instructor, "alice");
    let path = format!("/api/courses/{course}/seats");
    app.send(
        Method::PATCH,
        &path,
        Some(&token),
        Some(json!({"seats_total": 1})),
    )
    .await
    .assert_problem(409, "seats_below_committed");
    assert_eq!(seats(&app.course(&course).await), (1, 1, 1));
    let grown = app
        .send(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"seats_total": 10})),
        )
        .await;
    assert_eq!(grown.status, StatusCode::OK);
    assert_eq!(seats(&grown.body), (8, 1, 1));
    let shrunk = app
        .send(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"seats_total": 2})),
        )
        .await;
    assert_eq!(seats(&shrunk.body), (0, 1, 1));
}

#[tokio::test]
async fn nul_bytes_and_control_characters_are_refused_alike_on_every_backend() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Instructor, "alice");
    for body in [
        json!({"title": "nul\u{0}", "price_cents": 1, "seats": 1}),
        json!({"title": "ok", "description": "nul \u{0} inside", "price_cents": 1, "seats": 1}),
        json!({"title": "tab\there", "price_cents": 1, "seats": 1}),
    ] {
        app.send(Method::POST, "/api/courses", Some(&token), Some(body))
            .await
            .assert_problem(400, "validation_failed");
    }
    app.get("/api/courses?instructor_id=a%00b")
        .await
        .assert_problem(400, "validation_failed");
    let course = id_of(&app.create_course("alice", 1, 100).await);
    app.hold(&course, Uuid::now_v7(), "nul\u{0}student")
        .await
        .assert_problem(400, "validation_failed");
    let c = app.course(&course).await;
    assert_eq!(c["seats_held"], 0, "nothing changed: {c}");
    let listed = app.get("/api/courses?instructor_id=alice").await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn sales_show_the_instructor_seats_sold_at_the_prices_they_were_held_at() {
    let app = TestApp::spawn().await;
    let course = app.create_course("alice", 5, 1000).await;
    let id = id_of(&course);
    let (first, second, held, given_back) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    assert_eq!(app.hold(&id, first, "s1").await.status, StatusCode::CREATED);
    assert_eq!(app.act(&id, first, "confirm").await.status, StatusCode::OK);
    assert_eq!(
        app.hold(&id, given_back, "s4").await.status,
        StatusCode::CREATED
    );
    let alice = app.token(Role::Instructor, "alice");
    let changed = app
        .send(
            Method::PATCH,
            &format!("/api/courses/{id}/price"),
            Some(&alice),
            Some(json!({"price_cents": 2500})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(
        app.hold(&id, second, "s2").await.status,
        StatusCode::CREATED
    );
    assert_eq!(app.act(&id, second, "confirm").await.status, StatusCode::OK);
    assert_eq!(
        app.act(&id, given_back, "confirm").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.act(&id, given_back, "release").await.status,
        StatusCode::OK
    );
    assert_eq!(app.hold(&id, held, "s3").await.status, StatusCode::CREATED);

    let path = format!("/api/courses/{id}/sales");
    let sales = app.send(Method::GET, &path, Some(&alice), None).await;
    assert_eq!(sales.status, StatusCode::OK, "{}", sales.body);
    assert_eq!(
        sales.body,
        json!({"course_id": id, "seats_sold": 2, "revenue_cents": 3500, "currency": "USD"}),
        "one seat at 1000 and one at 2500; the held seat and the one given back do not count"
    );
    let bob = app.token(Role::Instructor, "bob");
    app.send(Method::GET, &path, Some(&bob), None)
        .await
        .assert_problem(403, "forbidden");
    let student = app.token(Role::Student, "s1");
    app.send(Method::GET, &path, Some(&student), None)
        .await
        .assert_problem(403, "forbidden");
    app.send(Method::GET, &path, None, None)
        .await
        .assert_problem(401, "unauthorized");
    app.send(
        Method::GET,
        &format!("/api/courses/{}/sales", Uuid::now_v7()),
        Some(&alice),
        None,
    )
    .await
    .assert_problem(404, "course_not_found");
    app.check_invariants().await;
}
