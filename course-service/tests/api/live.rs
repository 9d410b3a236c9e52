//! `GET /api/courses/{id}/live`: the course's counts as server-sent events, now and on every
//! change of that course (and only that course).

use crate::helpers::{TestApp, id_of};
use serde_json::Value;
use std::time::Duration;
use uuid::Uuid;

/// Reads server-sent events from a streaming response.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(app: &TestApp, course: &str) -> Events {
        let response = app
            .client
            .get(format!("{}/api/courses/{course}/live", app.address))
            .send()
            .await
            .expect("open the stream");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().ok(),
            Some("text/event-stream")
        );
        Events {
            response,
            buffer: String::new(),
        }
    }

    /// The next event's name and data (bounded: a stream that says nothing for 10 s fails).
    async fn next(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = Value::Null;
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = n.to_owned();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(d).expect("json data");
                    }
                }
                return (name, data);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .expect("read")
                .expect("the stream ended");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    }
}

fn counts(data: &Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| data[k].as_u64().expect(k);
    (
        n("seats_total"),
        n("seats_available"),
        n("seats_held"),
        n("seats_sold"),
    )
}

#[tokio::test]
async fn the_live_stream_shows_the_counts_now_and_every_change_of_its_course() {
    let app = TestApp::spawn().await;
    let course = id_of(&app.create_course("alice", 5, 1000).await);
    let other = id_of(&app.create_course("alice", 5, 1000).await);
    let mut live = Events::open(&app, &course).await;
    let (name, data) = live.next().await;
    assert_eq!(name, "seats");
    assert_eq!(counts(&data), (5, 5, 0, 0));
    assert_eq!(data["waitlist_length"], 0);

    // A change of another course is not told on this stream.
    assert_eq!(app.hold(&other, Uuid::now_v7(), "s9").await.status, 201);
    let id = Uuid::now_v7();
    assert_eq!(app.hold(&course, id, "s1").await.status, 201);
    assert_eq!(counts(&live.next().await.1), (5, 4, 1, 0));
    assert_eq!(app.act(&course, id, "confirm").await.status, 200);
    assert_eq!(counts(&live.next().await.1), (5, 4, 0, 1));
    drop(live);
    app.check_invariants().await;
}

#[tokio::test]
async fn a_live_stream_of_an_unknown_course_is_refused() {
    let app = TestApp::spawn().await;
    app.get(&format!("/api/courses/{}/live", Uuid::now_v7()))
        .await
        .assert_problem(404, "course_not_found");
    app.get("/api/courses/nope/live")
        .await
        .assert_problem(400, "validation_failed");
}
