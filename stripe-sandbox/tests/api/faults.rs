//! Injected faults and the other controls: session creation answering 500 or hanging, the
//! expirer (with the sandbox clock moved forward), paying without a browser, and reset.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Env, eventually, session_form};

#[tokio::test]
async fn error500_refuses_every_creation_until_cleared() {
    let env = Env::start().await;
    env.control("faults", json!({"create_session": "error500"}))
        .await;
    for _ in 0..2 {
        let r = env
            .post("/v1/checkout/sessions", &session_form("o1"), None)
            .await;
        assert_eq!(r.status, 500);
        assert_eq!(
            r.body,
            json!({"error": {"type": "api_error", "message": "An unknown error occurred"}})
        );
    }
    assert!(
        env.get("/v1/checkout/sessions").await.body["data"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    env.control("faults", json!({"create_session": "none"}))
        .await;
    assert_eq!(
        env.post("/v1/checkout/sessions", &session_form("o1"), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn hang_keeps_the_caller_waiting_then_creates_the_session() {
    let env = Env::start().await;
    let set = env
        .control("faults", json!({"create_session": "hang", "hang_ms": 800}))
        .await;
    assert_eq!(set, json!({"create_session": "hang", "hang_ms": 800}));
    let form = session_form("o1");
    let timed_out = env
        .post_request("/v1/checkout/sessions", &form, Some("checkout-o1"))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(timed_out.is_err_and(|e| e.is_timeout()));
    // The request went on executing: the session exists, and the key replays it.
    eventually("the session", Duration::from_secs(5), || async {
        env.get("/v1/checkout/sessions").await.body["data"]
            .as_array()
            .is_some_and(|d| d.len() == 1)
    })
    .await;
    env.control("faults", json!({"create_session": "none"}))
        .await;
    let replay = env
        .post("/v1/checkout/sessions", &form, Some("checkout-o1"))
        .await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn lapsed_sessions_are_expired_in_the_background() {
    let env = Env::start().await;
    let id = env.create_session("o1").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let moved = env.control("clock", json!({"advance_seconds": 7200})).await;
    assert_eq!(moved["offset_seconds"], 7200);
    eventually("expired", Duration::from_secs(5), || async {
        env.get(&format!("/v1/checkout/sessions/{id}")).await.body["status"] == "expired"
    })
    .await;
    let events = env.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "checkout.session.expired");
    assert_eq!(events[0]["event"]["data"]["object"]["url"], Value::Null);
    let pay = env
        .http
        .post(format!("{}/_sandbox/checkout/{id}/pay", env.base))
        .send()
        .await
        .expect("send");
    assert_eq!(pay.status().as_u16(), 400);
}

#[tokio::test]
async fn the_control_pay_answers_the_session_and_reset_forgets_everything() {
    let env = Env::start().await;
    let id = env.create_session("o1").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let paid = env.pay(&id).await;
    assert_eq!(
        (paid["status"].clone(), paid["payment_status"].clone()),
        (json!("complete"), json!("paid"))
    );
    assert_eq!(env.pay(&id).await["payment_intent"], paid["payment_intent"]);
    env.control("faults", json!({"create_session": "error500"}))
        .await;
    env.control("webhooks", json!({"mode": "hold"})).await;
    env.control("reset", Value::Null).await;
    assert_eq!(
        env.get(&format!("/v1/checkout/sessions/{id}")).await.status,
        404
    );
    assert!(env.events().await.is_empty());
    let webhooks = env
        .http
        .get(format!("{}/_sandbox/webhooks", env.base))
        .send()
        .await
        .expect("send");
    let webhooks: Value = webhooks.json().await.expect("json");
    assert_eq!(webhooks["mode"], "deliver");
    assert_eq!(
        env.post("/v1/checkout/sessions", &session_form("o1"), None)
            .await
            .status,
        200
    );

    let bad = env
        .http
        .post(format!("{}/_sandbox/faults", env.base))
        .body(r#"{"create_session": "sometimes"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status().as_u16(), 400);
}
