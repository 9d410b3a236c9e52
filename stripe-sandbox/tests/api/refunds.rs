//! Refunds: the whole amount by default, partial amounts up to what is left, Stripe's
//! `charge_already_refunded` and `amount_too_large`, reading and listing, and their events.

use serde_json::{Value, json};

use crate::common::{Env, now};

async fn paid_intent(env: &Env, order: &str) -> String {
    let id = env.create_session(order).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    env.pay(&id).await["payment_intent"]
        .as_str()
        .expect("intent")
        .to_owned()
}

#[tokio::test]
async fn a_full_refund_then_no_more() {
    let env = Env::start().await;
    let intent = paid_intent(&env, "o1").await;
    let r = env
        .post(
            "/v1/refunds",
            &[
                ("payment_intent", intent.clone()),
                ("metadata[order_id]", "o1".into()),
            ],
            Some("refund-o1"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let refund = &r.body;
    let id = refund["id"].as_str().expect("id");
    assert!(id.starts_with("re_"));
    let charge = refund["charge"].as_str().expect("charge");
    assert!(charge.starts_with("ch_"));
    assert!((refund["created"].as_i64().expect("created") - now()).abs() <= 5);
    assert_eq!(
        *refund,
        json!({
            "id": id,
            "object": "refund",
            "amount": 4900,
            "charge": charge,
            "created": refund["created"],
            "currency": "usd",
            "metadata": {"order_id": "o1"},
            "payment_intent": intent,
            "reason": null,
            "status": "succeeded",
        })
    );
    assert_eq!(env.get(&format!("/v1/refunds/{id}")).await.body, *refund);

    let twice = env
        .post("/v1/refunds", &[("payment_intent", intent.clone())], None)
        .await;
    assert_eq!(twice.status, 400);
    assert_eq!(*twice.error("type"), "invalid_request_error");
    assert_eq!(*twice.error("code"), "charge_already_refunded");
    assert_eq!(
        *twice.error("message"),
        format!("Charge {charge} has already been refunded.").as_str()
    );

    let events = env.events().await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "checkout.session.completed",
            "refund.created",
            "charge.refunded"
        ]
    );
    let refunded = &events[2]["event"];
    assert_eq!(refunded["data"]["object"]["amount_refunded"], 4900);
    assert_eq!(refunded["data"]["object"]["refunded"], true);
    assert_eq!(
        refunded["data"]["previous_attributes"],
        json!({"amount_refunded": 0, "refunded": false})
    );
    assert_eq!(
        events[1]["event"]["request"]["idempotency_key"],
        "refund-o1"
    );
}

#[tokio::test]
async fn partial_refunds_up_to_what_is_left() {
    let env = Env::start().await;
    let intent = paid_intent(&env, "o1").await;
    let part = env
        .post(
            "/v1/refunds",
            &[
                ("payment_intent", intent.clone()),
                ("amount", "1000".into()),
            ],
            None,
        )
        .await;
    assert_eq!(
        (part.status, part.body["amount"].clone()),
        (200, json!(1000))
    );
    let too_much = env
        .post(
            "/v1/refunds",
            &[
                ("payment_intent", intent.clone()),
                ("amount", "5000".into()),
            ],
            None,
        )
        .await;
    assert_eq!(too_much.status, 400);
    assert_eq!(*too_much.error("code"), "amount_too_large");
    assert_eq!(
        *too_much.error("message"),
        "Refund amount ($50.00) is greater than unrefunded amount on charge ($39.00)"
    );
    let rest = env
        .post("/v1/refunds", &[("payment_intent", intent.clone())], None)
        .await;
    assert_eq!(rest.body["amount"], 3900);

    let other = paid_intent(&env, "o2").await;
    env.post("/v1/refunds", &[("payment_intent", other)], None)
        .await;
    let listed = env
        .get(&format!("/v1/refunds?payment_intent={intent}"))
        .await;
    assert_eq!(listed.body["object"], "list");
    assert_eq!(listed.body["url"], "/v1/refunds");
    let amounts: Vec<&Value> = listed.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| &r["amount"])
        .collect();
    assert_eq!(amounts, vec![&json!(3900), &json!(1000)]);
    assert_eq!(
        env.get("/v1/refunds").await.body["data"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

#[tokio::test]
async fn refund_requests_are_checked() {
    let env = Env::start().await;
    let missing = env
        .post("/v1/refunds", &[("payment_intent", "pi_nope".into())], None)
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        json!({"error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": "No such payment_intent: 'pi_nope'",
            "param": "payment_intent"
        }})
    );
    let nothing = env.post("/v1/refunds", &[], None).await;
    assert_eq!(nothing.status, 400);
    let intent = paid_intent(&env, "o1").await;
    for bad in [
        ("amount", "0"),
        ("amount", "abc"),
        ("reason", "because"),
        ("refund_application_fee", "true"),
    ] {
        let r = env
            .post(
                "/v1/refunds",
                &[("payment_intent", intent.clone()), (bad.0, bad.1.into())],
                None,
            )
            .await;
        assert_eq!(r.status, 400, "{bad:?}: {}", r.text);
        assert_eq!(*r.error("param"), bad.0);
    }
    // An open (unpaid) session has no PaymentIntent to refund.
    let open = env.create_session("o2").await;
    assert_eq!(open["payment_intent"], Value::Null);
    let r = env.get("/v1/refunds/re_nope").await;
    assert_eq!(
        (r.status, r.error("code").clone()),
        (404, json!("resource_missing"))
    );
}
