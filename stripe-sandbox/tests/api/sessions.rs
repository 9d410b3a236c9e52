//! Checkout Sessions over HTTP: create, retrieve, list, expire, and the secret-key check.

use serde_json::{Value, json};

use crate::common::{Env, now, session_form};

#[tokio::test]
async fn a_created_session_has_stripe_fields_and_reads_back_the_same() {
    let env = Env::start().await;
    let expires_at = now() + 3600;
    let mut form = session_form("order-1");
    form.retain(|(k, _)| *k != "expires_at");
    form.push(("expires_at", expires_at.to_string()));
    form.push(("customer_email", "ada@example.com".into()));
    form.push(("line_items[1][price_data][currency]", "usd".into()));
    form.push(("line_items[1][price_data][unit_amount]", "250".into()));
    form.push((
        "line_items[1][price_data][product_data][name]",
        "Notes".into(),
    ));
    form.push(("line_items[1][quantity]", "2".into()));
    form.push(("payment_intent_data[metadata][order_id]", "order-1".into()));
    let r = env.post("/v1/checkout/sessions", &form, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.header("request-id")
            .is_some_and(|id| id.starts_with("req_"))
    );
    let s = &r.body;
    let id = s["id"].as_str().expect("id");
    assert!(id.starts_with("cs_test_"), "{id}");
    let created = s["created"].as_i64().expect("created");
    assert!((created - now()).abs() <= 5);
    let expected = json!({
        "id": id,
        "object": "checkout.session",
        "amount_subtotal": 5400,
        "amount_total": 5400,
        "cancel_url": "http://shop.test/cancelled",
        "client_reference_id": "order-1",
        "created": created,
        "currency": "usd",
        "customer_email": "ada@example.com",
        "expires_at": expires_at,
        "livemode": false,
        "metadata": {"order_id": "order-1"},
        "mode": "payment",
        "payment_intent": null,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "status": "open",
        "success_url": "http://shop.test/done?session_id={CHECKOUT_SESSION_ID}",
        "ui_mode": "hosted",
        "url": format!("{}/checkout/{id}", env.base),
    });
    assert_eq!(*s, expected);

    let read = env.get(&format!("/v1/checkout/sessions/{id}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, expected);
}

#[tokio::test]
async fn unknown_sessions_are_resource_missing() {
    let env = Env::start().await;
    let r = env.get("/v1/checkout/sessions/cs_test_nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({"error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": "No such checkout.session: 'cs_test_nope'",
            "param": "session"
        }})
    );
    assert!(r.header("request-id").is_some());
}

#[tokio::test]
async fn lists_page_newest_first_and_filter_by_payment_intent() {
    let env = Env::start().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            env.create_session(&format!("o{i}")).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let first = env.get("/v1/checkout/sessions?limit=2").await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["object"], "list");
    assert_eq!(first.body["url"], "/v1/checkout/sessions");
    assert_eq!(first.body["has_more"], true);
    let page: Vec<&str> = first.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    assert_eq!(page, vec![ids[2].as_str(), ids[1].as_str()]);
    let next = env
        .get(&format!(
            "/v1/checkout/sessions?limit=2&starting_after={}",
            ids[1]
        ))
        .await;
    assert_eq!(next.body["has_more"], false);
    assert_eq!(next.body["data"][0]["id"], ids[0].as_str());
    assert_eq!(next.body["data"].as_array().map(Vec::len), Some(1));

    let paid = env.pay(&ids[1]).await;
    let intent = paid["payment_intent"].as_str().expect("paid has an intent");
    assert!(intent.starts_with("pi_"));
    let by_intent = env
        .get(&format!("/v1/checkout/sessions?payment_intent={intent}"))
        .await;
    assert_eq!(by_intent.body["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(by_intent.body["data"][0]["id"], ids[1].as_str());

    for bad in ["limit=0", "limit=101", "limit=ten", "bogus=1"] {
        let r = env.get(&format!("/v1/checkout/sessions?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(*r.error("type"), "invalid_request_error");
    }
}

#[tokio::test]
async fn expiring_an_open_session_once() {
    let env = Env::start().await;
    let id = env.create_session("o1").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/v1/checkout/sessions/{id}/expire");
    let r = env.post(&path, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "expired");
    assert_eq!(r.body["payment_status"], "unpaid");
    assert_eq!(r.body["url"], Value::Null);
    assert_eq!(
        env.get(&format!("/v1/checkout/sessions/{id}")).await.body,
        r.body
    );

    let again = env.post(&path, &[], None).await;
    assert_eq!(again.status, 400);
    assert_eq!(*again.error("type"), "invalid_request_error");
    assert_eq!(
        *again.error("message"),
        "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout \
         Session has a status of `expired`."
    );

    let events = env.events().await;
    let expired: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "checkout.session.expired")
        .collect();
    assert_eq!(expired.len(), 1);
    let event = &expired[0]["event"];
    assert_eq!(event["data"]["object"]["id"], id.as_str());
    assert_eq!(event["data"]["object"]["status"], "expired");
    assert_eq!(
        event["request"]["id"],
        r.header("request-id").expect("request id")
    );

    let paid = env.create_session("o2").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    env.pay(&paid).await;
    let r = env
        .post(&format!("/v1/checkout/sessions/{paid}/expire"), &[], None)
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.error("message")
            .as_str()
            .expect("message")
            .contains("`complete`")
    );
    let r = env
        .post("/v1/checkout/sessions/cs_test_x/expire", &[], None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(*r.error("code"), "resource_missing");
}

#[tokio::test]
async fn the_secret_key_is_checked() {
    let env = Env::start().await;
    let url = format!("{}/v1/checkout/sessions", env.base);
    let none = crate::common::reply(env.http.get(&url).send().await.expect("send")).await;
    assert_eq!(none.status, 401);
    assert_eq!(*none.error("type"), "invalid_request_error");
    assert!(
        none.error("message")
            .as_str()
            .expect("m")
            .starts_with("You did not provide an API key")
    );
    assert!(none.header("request-id").is_some());

    let wrong = crate::common::reply(
        env.http
            .post(&url)
            .header("Authorization", "Bearer sk_test_someoneelses1234")
            .body(crate::common::encode(&session_form("o")))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        *wrong.error("message"),
        "Invalid API Key provided: sk_test_************1234"
    );
    assert!(
        env.get("/v1/checkout/sessions").await.body["data"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // Basic auth with the key as user name, as `curl -u sk_test_...:` sends it.
    let basic = env
        .http
        .get(&url)
        .basic_auth(env.sandbox.api_key(), Some(""))
        .send()
        .await
        .expect("send");
    assert_eq!(basic.status().as_u16(), 200);

    let unknown = env.get("/v1/charges").await;
    assert_eq!(unknown.status, 404);
    assert!(
        unknown
            .error("message")
            .as_str()
            .expect("m")
            .starts_with("Unrecognized request URL (GET: /v1/charges)")
    );
}
