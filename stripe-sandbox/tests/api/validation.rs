//! Stripe's parameter rules on session creation: unknown parameters, currency case, the
//! `expires_at` window, required parameters. Nothing is created by a refused request.

use serde_json::json;

use crate::common::{Env, now, session_form};

fn with(order: &str, changes: &[(&'static str, Option<&str>)]) -> Vec<(&'static str, String)> {
    let mut form = session_form(order);
    for (name, value) in changes {
        form.retain(|(k, _)| k != name);
        if let Some(value) = value {
            form.push((name, (*value).to_owned()));
        }
    }
    form
}

async fn refused(env: &Env, form: &[(&str, String)]) -> crate::common::Reply {
    let r = env.post("/v1/checkout/sessions", form, None).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(*r.error("type"), "invalid_request_error", "{}", r.text);
    r
}

#[tokio::test]
async fn unknown_parameters_are_named() {
    let env = Env::start().await;
    let r = refused(
        &env,
        &with("o", &[("payment_method_types[0]", Some("card"))]),
    )
    .await;
    assert_eq!(
        r.body,
        json!({"error": {
            "type": "invalid_request_error",
            "code": "parameter_unknown",
            "message": "Received unknown parameter: payment_method_types[0]",
            "param": "payment_method_types[0]"
        }})
    );
    let r = refused(
        &env,
        &with(
            "o",
            &[("line_items[0][price_data][tax_behavior]", Some("x"))],
        ),
    )
    .await;
    assert_eq!(*r.error("param"), "line_items[0][price_data][tax_behavior]");
    assert_eq!(
        *r.error("message"),
        "Received unknown parameter: line_items[0][price_data][tax_behavior]"
    );
    assert!(
        env.get("/v1/checkout/sessions").await.body["data"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
}

#[tokio::test]
async fn currencies_are_lower_case_iso_codes() {
    let env = Env::start().await;
    for bad in ["USD", "xyz", "us"] {
        let r = refused(
            &env,
            &with("o", &[("line_items[0][price_data][currency]", Some(bad))]),
        )
        .await;
        assert_eq!(*r.error("param"), "line_items[0][price_data][currency]");
        let message = r.error("message").as_str().expect("message");
        assert!(
            message.starts_with(&format!("Invalid currency: {bad}.")),
            "{message}"
        );
    }
    let euro = env
        .post(
            "/v1/checkout/sessions",
            &with("o", &[("line_items[0][price_data][currency]", Some("eur"))]),
            None,
        )
        .await;
    assert_eq!(euro.status, 200, "{}", euro.text);
    assert_eq!(euro.body["currency"], "eur");
}

#[tokio::test]
async fn expires_at_must_be_30_minutes_to_24_hours_away() {
    let env = Env::start().await;
    let soon = (now() + 29 * 60).to_string();
    let r = refused(&env, &with("o", &[("expires_at", Some(&soon))])).await;
    assert_eq!(*r.error("param"), "expires_at");
    assert_eq!(
        *r.error("message"),
        "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation."
    );
    let late = (now() + 24 * 3600 + 60).to_string();
    let r = refused(&env, &with("o", &[("expires_at", Some(&late))])).await;
    assert_eq!(
        *r.error("message"),
        "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation."
    );
    let r = refused(&env, &with("o", &[("expires_at", Some("tomorrow"))])).await;
    assert_eq!(*r.error("code"), "parameter_invalid_integer");

    let default = env
        .post(
            "/v1/checkout/sessions",
            &with("o", &[("expires_at", None)]),
            None,
        )
        .await;
    assert_eq!(default.status, 200);
    let created = default.body["created"].as_i64().expect("created");
    assert_eq!(
        default.body["expires_at"].as_i64(),
        Some(created + 24 * 3600)
    );
}

#[tokio::test]
async fn required_parameters_and_values() {
    let env = Env::start().await;
    let r = refused(&env, &with("o", &[("mode", None)])).await;
    assert_eq!(
        r.body,
        json!({"error": {
            "type": "invalid_request_error",
            "code": "parameter_missing",
            "message": "Missing required param: mode.",
            "param": "mode"
        }})
    );
    let r = refused(&env, &with("o", &[("mode", Some("subscription"))])).await;
    assert_eq!(*r.error("param"), "mode");
    let r = refused(&env, &with("o", &[("success_url", None)])).await;
    assert_eq!(*r.error("param"), "success_url");
    let r = refused(&env, &with("o", &[("success_url", Some("not a url"))])).await;
    assert_eq!(*r.error("message"), "Not a valid URL");
    let r = refused(&env, &with("o", &[("line_items[0][quantity]", None)])).await;
    assert_eq!(*r.error("param"), "line_items[0][quantity]");
    let r = refused(
        &env,
        &with(
            "o",
            &[("line_items[0][price_data][unit_amount]", Some("-1"))],
        ),
    )
    .await;
    assert_eq!(*r.error("param"), "line_items[0][price_data][unit_amount]");
    let r = refused(
        &env,
        &with(
            "o",
            &[("line_items[0][price_data][product_data][name]", None)],
        ),
    )
    .await;
    assert_eq!(
        *r.error("param"),
        "line_items[0][price_data][product_data][name]"
    );
    let only_mode = [("mode", "payment".to_owned())];
    let r = refused(&env, &only_mode).await;
    assert_eq!(*r.error("param"), "line_items");
    let r = refused(&env, &with("o", &[("customer_email", Some("nobody"))])).await;
    assert_eq!(*r.error("param"), "customer_email");
    assert!(
        env.get("/v1/checkout/sessions").await.body["data"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
}
