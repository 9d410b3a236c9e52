//! Shared transactions (PostgreSQL keeps a course's concurrent changes in one transaction, its
//! common holds in one statement): a burst of every kind of call on one course, confirms and
//! cancels among them, is answered as if each call had come alone, also when a batch's commit
//! fails and its calls are sent again.

use crate::{
    burst,
    helpers::{TestApp, id_of, seats},
};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use std::sync::Arc;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_with_confirms_cancels_and_failed_commits_is_answered_as_if_each_came_alone() {
    let mut url = None;
    let app =
        Arc::new(TestApp::spawn_with(|c| url = c.storage.database.database_url.clone()).await);
    let faults = match &url {
        Some(url) => Some(fail_commits_of_doomed(url).await),
        None => None,
    };
    let course = id_of(&app.create_course("alice", 35, burst::PRICE).await);
    // Twelve holds before the burst: six to confirm and six to cancel during it.
    let mut earlier = Vec::new();
    for i in 0..12 {
        let id = Uuid::now_v7();
        let reply = app.hold(&course, id, &format!("early-{i}")).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        earlier.push(id);
    }

    let mut calls = vec![burst::Call::new("doomed", DOOMED)];
    calls.extend(burst::calls(30));
    let holds = calls
        .into_iter()
        .map(|call| burst::send(&app, &course, call, true))
        .collect();
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
                let (reply, unknown) =
                    burst::until_known(&app, Method::POST, &path, None, true).await;
                (action, reply, unknown)
            })
        })
        .collect::<Vec<_>>();

    let answers = burst::Answers::collect(holds).await;
    let mut unknown_answers = answers.unknown;
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
    // Nothing was left unknown: every call that met a failed commit was answered when sent again.
    for kind in answers.by_kind.values() {
        assert!(
            kind.iter()
                .all(|(s, _)| *s != StatusCode::SERVICE_UNAVAILABLE),
            "{answers:?}"
        );
    }
    let burst_held = answers.check(30);
    let doomed_held = answers.count("doomed", StatusCode::CREATED, "");
    let doomed_refused = answers.count("doomed", StatusCode::CONFLICT, "sold_out");
    assert_eq!(doomed_held + doomed_refused, 1, "{answers:?}");

    // 23 seats were free and the cancels freed six more while 33 students wanted one: between 23
    // and 29 got one, and each seat is held by exactly one of them.
    let held = burst_held + doomed_held;
    assert!((23..=29).contains(&held), "{held}: {answers:?}");
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
            assert_eq!(fired, FAULTS + 1, "{answers:?}");
            assert!(unknown_answers >= FAULTS as u32, "{unknown_answers}");
        }
        pool.close().await;
    }
    app.check_invariants().await;
}
