//! Shared transactions (PostgreSQL keeps a course's concurrent changes in one transaction, its
//! common holds in one statement): a burst of every kind of call on one course, confirms and
//! cancels among them, is answered as if each call had come alone, also when a batch's commit
//! fails and its calls are sent again.

use crate::helpers::{Reply, TestApp, id_of, seats};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

/// The student whose reservation makes its transaction's commit fail, [`FAULTS`] times.
const DOOMED: &str = "doomed";
const FAULTS: i64 = 2;

/// On PostgreSQL, makes the commit of any transaction that writes a reservation of [`DOOMED`]
/// fail, the first [`FAULTS`] times (a sequence counts them: it survives the rollback).
async fn fail_commits_of_doomed(url: &str) -> sqlx::PgPool {
    let pool = sqlx::PgPool::connect(url).await.expect("test database");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SEQUENCE doomed_commits; \
         CREATE FUNCTION fail_doomed() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           IF NEW.student_id = '{DOOMED}' AND nextval('doomed_commits') <= {FAULTS} THEN \
             RAISE EXCEPTION 'commit refused for the test'; \
           END IF; \
           RETURN NULL; \
         END $$; \
         CREATE CONSTRAINT TRIGGER fail_doomed AFTER INSERT ON reservations \
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_doomed();"
    )))
    .execute(&pool)
    .await
    .expect("fault trigger");
    pool
}

/// Sends a call until it is answered with anything but 503 (unknown: sent again, as a client
/// does with an idempotent call); returns the answer and how many 503s came first.
async fn until_known(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (Reply, u32) {
    let mut unknown = 0;
    loop {
        let reply = app
            .send(method.clone(), path, Some(&app.service()), body.clone())
            .await;
        if reply.status != StatusCode::SERVICE_UNAVAILABLE || unknown == 20 {
            return (reply, unknown);
        }
        reply.assert_problem(503, "service_unavailable");
        unknown += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_with_confirms_cancels_and_failed_commits_is_answered_as_if_each_came_alone() {
    let mut url = None;
    let app =
        Arc::new(TestApp::spawn_with(|c| url = c.storage.database.database_url.clone()).await);
    let faults = match &url {
        Some(url) => Some(fail_commits_of_doomed(url).await),
        None => None,
    };
    let course = id_of(&app.create_course("alice", 35, 1000).await);
    // Twelve holds before the burst: six to confirm and six to cancel during it.
    let mut earlier = Vec::new();
    for i in 0..12 {
        let id = Uuid::now_v7();
        let reply = app.hold(&course, id, &format!("early-{i}")).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        earlier.push(id);
    }

    // (kind, student, reservation id, expected price)
    let mut calls: Vec<(&str, String, Uuid, Option<i64>)> = Vec::new();
    calls.push(("doomed", DOOMED.into(), Uuid::now_v7(), None));
    let same_id = Uuid::now_v7();
    for _ in 0..5 {
        calls.push(("same-id", "retrier".into(), same_id, None));
        calls.push(("same-student", "eager".into(), Uuid::now_v7(), None));
    }
    for i in 0..3 {
        calls.push((
            "stale-price",
            format!("stale-{i}"),
            Uuid::now_v7(),
            Some(999),
        ));
    }
    for i in 0..30 {
        calls.push(("fresh", format!("fresh-{i}"), Uuid::now_v7(), Some(1000)));
    }
    let holds = calls.into_iter().map(|(kind, student, id, expected)| {
        let (app, course) = (Arc::clone(&app), course.clone());
        tokio::spawn(async move {
            let mut body = serde_json::json!({"student_id": student});
            if let Some(price) = expected {
                body["expected_price_cents"] = price.into();
            }
            let path = format!("/api/courses/{course}/reservations/{id}");
            let (reply, unknown) = until_known(&app, Method::PUT, &path, Some(body)).await;
            (kind, reply, unknown)
        })
    });
    // Each earlier hold is confirmed or cancelled twice (the second a repeat), at once.
    let transitions = earlier
        .iter()
        .chain(earlier.iter())
        .enumerate()
        .map(|(n, &id)| {
            let action = if n % 12 < 6 { "confirm" } else { "cancel" };
            let (app, course) = (Arc::clone(&app), course.clone());
            tokio::spawn(async move {
                let path = format!("/api/courses/{course}/reservations/{id}/{action}");
                let (reply, unknown) = until_known(&app, Method::POST, &path, None).await;
                (action, reply, unknown)
            })
        })
        .collect::<Vec<_>>();

    let mut by_kind: HashMap<&str, Vec<(StatusCode, String)>> = HashMap::new();
    let mut same_id_bodies = Vec::new();
    let mut unknown_answers = 0;
    for result in join_all(holds).await {
        let (kind, reply, unknown) = result.expect("task");
        unknown_answers += unknown;
        if kind == "same-id" && reply.status.is_success() {
            same_id_bodies.push(reply.body.clone());
        }
        by_kind
            .entry(kind)
            .or_default()
            .push((reply.status, reply.code().to_owned()));
    }
    for result in join_all(transitions).await {
        let (action, reply, unknown) = result.expect("task");
        unknown_answers += unknown;
        assert_eq!(reply.status, StatusCode::OK, "{action}: {}", reply.body);
        let status = if action == "confirm" {
            "confirmed"
        } else {
            "cancelled"
        };
        assert_eq!(reply.body["status"], status, "{action}: {}", reply.body);
    }
    let count = |kind: &str, status: StatusCode, code: &str| {
        by_kind[kind]
            .iter()
            .filter(|(s, c)| *s == status && c == code)
            .count()
    };
    let (created, conflict) = (StatusCode::CREATED, StatusCode::CONFLICT);

    // Nothing was left unknown: every call that met a failed commit was answered when sent again.
    for answers in by_kind.values() {
        assert!(
            answers
                .iter()
                .all(|(s, _)| *s != StatusCode::SERVICE_UNAVAILABLE),
            "{by_kind:?}"
        );
    }
    let retrier_held = count("same-id", created, "");
    if retrier_held == 1 {
        assert_eq!(count("same-id", StatusCode::OK, ""), 4, "{by_kind:?}");
        assert!(same_id_bodies.windows(2).all(|w| w[0] == w[1]));
    } else {
        assert_eq!(count("same-id", conflict, "sold_out"), 5, "{by_kind:?}");
    }
    let eager_held = count("same-student", created, "");
    assert!(eager_held <= 1, "{by_kind:?}");
    assert_eq!(
        eager_held
            + count("same-student", conflict, "already_holding")
            + count("same-student", conflict, "sold_out"),
        5,
        "{by_kind:?}"
    );
    assert_eq!(
        count("stale-price", conflict, "price_changed"),
        3,
        "{by_kind:?}"
    );
    let doomed_held = count("doomed", created, "");
    assert_eq!(
        doomed_held + count("doomed", conflict, "sold_out"),
        1,
        "{by_kind:?}"
    );
    let fresh_held = count("fresh", created, "");
    assert_eq!(
        fresh_held + count("fresh", conflict, "sold_out"),
        30,
        "{by_kind:?}"
    );

    // 23 seats were free and the cancels freed six more while 33 students wanted one: between 23
    // and 29 got one, and each seat is held by exactly one of them.
    let held = retrier_held + eager_held + doomed_held + fresh_held;
    assert!((23..=29).contains(&held), "{held}: {by_kind:?}");
    assert_eq!(
        seats(&app.course(&course).await),
        (35 - 6 - held as u64, held as u64, 6)
    );

    if let Some(pool) = faults {
        // The doomed student's transactions failed to commit FAULTS times before one that held
        // its seat (or it met a sold-out course first): those calls were answered 503.
        let fired: i64 = sqlx::query_scalar("SELECT last_value FROM doomed_commits")
            .fetch_one(&pool)
            .await
            .expect("fault count");
        if doomed_held == 1 {
            assert_eq!(fired, FAULTS + 1, "{by_kind:?}");
            assert!(unknown_answers >= FAULTS as u32, "{unknown_answers}");
        }
        pool.close().await;
    }
    app.check_invariants().await;
}
