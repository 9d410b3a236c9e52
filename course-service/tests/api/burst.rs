//! A burst of every kind of reserve call on one course at once, for the tests that check each is
//! answered as if it had come alone: one id sent five times, one student with five ids, holds at
//! a stale price and new students at the right one.

use crate::helpers::{Reply, TestApp};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::{collections::HashMap, sync::Arc};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The price the burst's course has; the stale holds expect one cent less.
pub const PRICE: i64 = 1000;

/// One reserve call of the burst.
pub struct Call {
    pub kind: &'static str,
    pub student: String,
    pub id: Uuid,
    pub expected_price_cents: Option<i64>,
}

impl Call {
    pub fn new(kind: &'static str, student: &str) -> Call {
        Call {
            kind,
            student: student.to_owned(),
            id: Uuid::now_v7(),
            expected_price_cents: None,
        }
    }
}

/// The burst's calls: "same-id" (student "retrier", one id five times), "same-student" ("eager",
/// five ids), three "stale-price" and `fresh` "fresh" students expecting [`PRICE`].
pub fn calls(fresh: usize) -> Vec<Call> {
    let mut calls = Vec::new();
    let same_id = Uuid::now_v7();
    for _ in 0..5 {
        calls.push(Call {
            id: same_id,
            ..Call::new("same-id", "retrier")
        });
        calls.push(Call::new("same-student", "eager"));
    }
    for i in 0..3 {
        calls.push(Call {
            expected_price_cents: Some(PRICE - 1),
            ..Call::new("stale-price", &format!("stale-{i}"))
        });
    }
    for i in 0..fresh {
        calls.push(Call {
            expected_price_cents: Some(PRICE),
            ..Call::new("fresh", &format!("fresh-{i}"))
        });
    }
    calls
}

/// Sends a call as a client does with an idempotent call: again while it is answered 503
/// (unknown) when `again_when_unknown`, at most 20 times; the answer and how many 503s came first.
pub async fn until_known(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    again_when_unknown: bool,
) -> (Reply, u32) {
    let mut unknown = 0;
    loop {
        let reply = app
            .send(method.clone(), path, Some(&app.service()), body.clone())
            .await;
        if !again_when_unknown || reply.status != StatusCode::SERVICE_UNAVAILABLE || unknown == 20 {
            return (reply, unknown);
        }
        reply.assert_problem(503, "service_unavailable");
        unknown += 1;
    }
}

/// Starts `call` as a reserve of `course`.
pub fn send(
    app: &Arc<TestApp>,
    course: &str,
    call: Call,
    again_when_unknown: bool,
) -> JoinHandle<(&'static str, Reply, u32)> {
    let (app, course) = (Arc::clone(app), course.to_owned());
    tokio::spawn(async move {
        let mut body = serde_json::json!({"student_id": call.student});
        if let Some(price) = call.expected_price_cents {
            body["expected_price_cents"] = price.into();
        }
        let path = format!("/api/courses/{course}/reservations/{}", call.id);
        let (reply, unknown) =
            until_known(&app, Method::PUT, &path, Some(body), again_when_unknown).await;
        (call.kind, reply, unknown)
    })
}

/// The burst's answers, by kind of call.
#[derive(Debug)]
pub struct Answers {
    pub by_kind: HashMap<&'static str, Vec<(StatusCode, String)>>,
    same_id_bodies: Vec<Value>,
    /// 503 answers that came before the final ones.
    pub unknown: u32,
}

impl Answers {
    pub async fn collect(calls: Vec<JoinHandle<(&'static str, Reply, u32)>>) -> Answers {
        let mut answers = Answers {
            by_kind: HashMap::new(),
            same_id_bodies: Vec::new(),
            unknown: 0,
        };
        for result in join_all(calls).await {
            let (kind, reply, unknown) = result.expect("task");
            answers.unknown += unknown;
            if kind == "same-id" && reply.status.is_success() {
                answers.same_id_bodies.push(reply.body.clone());
            }
            answers
                .by_kind
                .entry(kind)
                .or_default()
                .push((reply.status, reply.code().to_owned()));
        }
        answers
    }

    /// How many calls of `kind` were answered `status` with `code` ("" for a success).
    pub fn count(&self, kind: &str, status: StatusCode, code: &str) -> usize {
        self.by_kind[kind]
            .iter()
            .filter(|(s, c)| *s == status && c == code)
            .count()
    }

    /// Checks what holds whatever the order of the calls, and returns how many of the burst's
    /// students (the retrier, the eager one and the `fresh` ones) got a seat:
    /// - one id sent five times: one hold and four replays of it, or (seats gone first) five
    ///   refusals;
    /// - one student with five ids: at most one hold, the rest refused;
    /// - every stale price refused with the price;
    /// - every fresh student held a seat or found none.
    pub fn check(&self, fresh: usize) -> usize {
        let conflict = StatusCode::CONFLICT;
        let retrier = self.count("same-id", StatusCode::CREATED, "");
        if retrier == 1 {
            assert_eq!(self.count("same-id", StatusCode::OK, ""), 4, "{self:?}");
            assert!(self.same_id_bodies.windows(2).all(|w| w[0] == w[1]));
        } else {
            assert_eq!(self.count("same-id", conflict, "sold_out"), 5, "{self:?}");
        }
        let eager = self.count("same-student", StatusCode::CREATED, "");
        assert!(eager <= 1, "{self:?}");
        assert_eq!(
            eager
                + self.count("same-student", conflict, "already_holding")
                + self.count("same-student", conflict, "sold_out"),
            5,
            "{self:?}"
        );
        assert_eq!(
            self.count("stale-price", conflict, "price_changed"),
            3,
            "{self:?}"
        );
        let fresh_held = self.count("fresh", StatusCode::CREATED, "");
        assert_eq!(
            fresh_held + self.count("fresh", conflict, "sold_out"),
            fresh,
            "{self:?}"
        );
        retrier + eager + fresh_held
    }
}
