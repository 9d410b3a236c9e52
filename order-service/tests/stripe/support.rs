//! A client pointed at a wiremock server, Stripe-shaped answers, and a reader of sent forms.

use chrono::{DateTime, TimeDelta, Utc};
use order_service::clock::ManualClock;
use order_service::payment_client::{CheckoutRequest, StripeClient, StripeClientConfig};
use serde_json::{Value, json};
use service_kit::Secret;
use std::{sync::Arc, time::Duration};

pub const SECRET_KEY: &str = "sk_test_51OrderServiceKeyNotReal0000";
pub const API_VERSION: &str = "2025-03-31.basil";
pub const ORDER_ID: &str = "0192f0c4-7a1e-7b3c-9d2e-5f6a7b8c9d0e";
pub const SESSION_ID: &str = "cs_test_a1Kq9ZbVh3sXrT2mN8pLw4cYd6eFg0HjUo7iRzX5vBnM";
/// The clients' "now": 2023-11-14T22:13:20Z.
pub const NOW: i64 = 1_700_000_000;

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).expect("time")
}

/// Stripe-like settings with short pauses between retries.
pub fn config(api_base: &str) -> StripeClientConfig {
    let mut config = StripeClientConfig::new(
        Secret::new(SECRET_KEY),
        "https://shop.example/orders/paid?session_id={CHECKOUT_SESSION_ID}",
    );
    config.api_base = api_base.to_owned();
    config.cancel_url = Some("https://shop.example/orders/cancelled".to_owned());
    config.api_version = Some(API_VERSION.to_owned());
    config.timeout = Duration::from_secs(2);
    config.max_retries = 2;
    config.min_retry_delay = Duration::from_millis(10);
    config.max_retry_delay = Duration::from_millis(40);
    config
}

pub fn client(config: &StripeClientConfig) -> StripeClient {
    StripeClient::new(config, Arc::new(ManualClock::new(now()))).expect("client")
}

pub fn checkout_request(expires_in: TimeDelta) -> CheckoutRequest {
    CheckoutRequest {
        order_id: ORDER_ID.to_owned(),
        course_id: "course-42".to_owned(),
        student_id: "student-7".to_owned(),
        product_name: "Rust for Services & Sagas".to_owned(),
        amount_cents: 4900,
        currency: "EUR".to_owned(),
        expires_at: now() + expires_in,
        request_id: "req-order-1".to_owned(),
    }
}

/// A Checkout Session as Stripe answers it (with fields the client does not read).
pub fn session_json(status: &str, payment_status: &str) -> Value {
    json!({
        "id": SESSION_ID,
        "object": "checkout.session",
        "amount_subtotal": 4900,
        "amount_total": 4900,
        "client_reference_id": ORDER_ID,
        "created": NOW,
        "currency": "eur",
        "customer": null,
        "expires_at": NOW + 1860,
        "livemode": false,
        "metadata": {"course_id": "course-42", "order_id": ORDER_ID, "student_id": "student-7"},
        "mode": "payment",
        "payment_intent": if status == "complete" { json!("pi_3QxYz2AbCdEfGh1i0JkLmNoP") } else { Value::Null },
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "status": status,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "url": if status == "open" { json!(format!("https://checkout.stripe.com/c/pay/{SESSION_ID}")) } else { Value::Null },
    })
}

pub fn refund_json() -> Value {
    json!({
        "id": "re_3QxYz2AbCdEfGh1i0a1b2c3d",
        "object": "refund",
        "amount": 4900,
        "balance_transaction": null,
        "charge": "ch_3QxYz2AbCdEfGh1i0q9r8s7t",
        "created": NOW,
        "currency": "eur",
        "metadata": {"order_id": ORDER_ID},
        "payment_intent": "pi_3QxYz2AbCdEfGh1i0JkLmNoP",
        "reason": null,
        "status": "succeeded"
    })
}

/// Stripe's error body.
pub fn error_json(kind: &str, code: Option<&str>, message: &str) -> Value {
    let mut error = json!({"type": kind, "message": message});
    if let Some(code) = code {
        error["code"] = json!(code);
        error["doc_url"] = json!(format!("https://stripe.com/docs/error-codes/{code}"));
    }
    json!({ "error": error })
}

/// The form pairs of a request body, in order.
pub fn form(request: &wiremock::Request) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&request.body).expect("a form body")
}

pub fn header<'a>(request: &'a wiremock::Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).map(|v| v.to_str().expect("text"))
}

pub async fn received(server: &wiremock::MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.expect("recording")
}
