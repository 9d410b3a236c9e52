//! Idempotent requests: replays, a key reused for another request, a key in use, results of
//! executed requests saved (500s too), refused validation not saved.

use std::time::Duration;

use serde_json::json;

use crate::common::{Env, session_form};

#[tokio::test]
async fn the_same_key_replays_the_first_answer() {
    let env = Env::start().await;
    let form = session_form("o1");
    let first = env
        .post("/v1/checkout/sessions", &form, Some("checkout-o1"))
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = env
        .post("/v1/checkout/sessions", &form, Some("checkout-o1"))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.text, first.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("original-request"), first.header("request-id"));
    assert_ne!(again.header("request-id"), first.header("request-id"));
    let listed = env.get("/v1/checkout/sessions").await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1));

    // The same parameters in another order are the same request.
    let mut reordered = form.clone();
    reordered.reverse();
    let third = env
        .post("/v1/checkout/sessions", &reordered, Some("checkout-o1"))
        .await;
    assert_eq!(third.text, first.text);

    let mut other = form.clone();
    other.push(("metadata[note]", "different".into()));
    let mismatch = env
        .post("/v1/checkout/sessions", &other, Some("checkout-o1"))
        .await;
    assert_eq!(mismatch.status, 400);
    assert_eq!(
        mismatch.body,
        json!({"error": {
            "type": "idempotency_error",
            "message": "Keys for idempotent requests can only be used with the same parameters \
                        they were first used with. Try using a key other than 'checkout-o1' if \
                        you meant to execute a different request."
        }})
    );
    let elsewhere = env
        .post(
            "/v1/refunds",
            &[("payment_intent", "pi_x".into())],
            Some("checkout-o1"),
        )
        .await;
    assert_eq!(elsewhere.status, 400);
    assert_eq!(*elsewhere.error("type"), "idempotency_error");

    let long = "k".repeat(256);
    let r = env.post("/v1/checkout/sessions", &form, Some(&long)).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn refused_validation_is_not_saved_but_executed_errors_are() {
    let env = Env::start().await;
    let mut bad = session_form("o1");
    bad.push(("bogus", "1".into()));
    let r = env.post("/v1/checkout/sessions", &bad, Some("k1")).await;
    assert_eq!(r.status, 400);
    let good = env
        .post("/v1/checkout/sessions", &session_form("o1"), Some("k1"))
        .await;
    assert_eq!(good.status, 200, "{}", good.text);
    assert_eq!(good.header("idempotent-replayed"), None);

    // A refund of an unknown intent executed (and failed): the 404 is saved and replayed.
    let refund = [("payment_intent", "pi_missing".to_owned())];
    let first = env.post("/v1/refunds", &refund, Some("refund-1")).await;
    assert_eq!(first.status, 404);
    let again = env.post("/v1/refunds", &refund, Some("refund-1")).await;
    assert_eq!(
        (again.status, again.text.as_str()),
        (404, first.text.as_str())
    );
    assert_eq!(again.header("idempotent-replayed"), Some("true"));

    // A 500 is saved too, and replayed after the fault is gone.
    env.control("faults", json!({"create_session": "error500"}))
        .await;
    let o2 = session_form("o2");
    let failed = env.post("/v1/checkout/sessions", &o2, Some("k2")).await;
    assert_eq!(failed.status, 500);
    env.control("faults", json!({"create_session": "none"}))
        .await;
    let replayed = env.post("/v1/checkout/sessions", &o2, Some("k2")).await;
    assert_eq!(replayed.status, 500);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    let fresh = env.post("/v1/checkout/sessions", &o2, Some("k3")).await;
    assert_eq!(fresh.status, 200);
}

#[tokio::test]
async fn a_key_in_use_is_refused_with_409() {
    let env = Env::start().await;
    env.control("faults", json!({"create_session": "hang", "hang_ms": 1500}))
        .await;
    let form = session_form("o1");
    let slow = env.post_request("/v1/checkout/sessions", &form, Some("checkout-o1"));
    let first =
        tokio::spawn(async move { crate::common::reply(slow.send().await.expect("send")).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let busy = env
        .post("/v1/checkout/sessions", &form, Some("checkout-o1"))
        .await;
    assert_eq!(busy.status, 409, "{}", busy.text);
    assert_eq!(*busy.error("type"), "idempotency_error");
    assert_eq!(*busy.error("code"), "idempotency_key_in_use");
    env.control("faults", json!({"create_session": "none"}))
        .await;

    let first = first.await.expect("the first request");
    assert_eq!(first.status, 200, "{}", first.text);
    let after = env
        .post("/v1/checkout/sessions", &form, Some("checkout-o1"))
        .await;
    assert_eq!(after.text, first.text);
    assert_eq!(after.header("idempotent-replayed"), Some("true"));
}
