//! What the client sends: form pairs in bracket notation, headers, paths.

use crate::support::*;
use chrono::TimeDelta;
use order_service::clock::SystemClock;
use order_service::payment_client::stripe::{DEFAULT_API_BASE, TLS_AVAILABLE};
use order_service::payment_client::{
    PaymentClient, SessionPayment, SessionStatus, StripeClient, StripeClientConfig,
};
use service_kit::Secret;
use std::sync::Arc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn a_checkout_is_created_with_bracket_keys_metadata_and_a_clamped_expiry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session_json("open", "unpaid")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&config(&server.uri()));

    // Asked to expire in 5 minutes: Stripe takes no less than 30, so 31 are sent.
    let session = client
        .create_checkout(&checkout_request(TimeDelta::minutes(5)))
        .await
        .expect("created");

    let sent = received(&server).await;
    assert_eq!(sent.len(), 1);
    let request = &sent[0];
    assert_eq!(
        form(request),
        pairs(&[
            ("mode", "payment"),
            ("client_reference_id", ORDER_ID),
            (
                "success_url",
                "https://shop.example/orders/paid?session_id={CHECKOUT_SESSION_ID}"
            ),
            ("cancel_url", "https://shop.example/orders/cancelled"),
            ("line_items[0][price_data][currency]", "eur"),
            ("line_items[0][price_data][unit_amount]", "4900"),
            (
                "line_items[0][price_data][product_data][name]",
                "Rust for Services & Sagas"
            ),
            ("line_items[0][quantity]", "1"),
            ("metadata[order_id]", ORDER_ID),
            ("metadata[course_id]", "course-42"),
            ("metadata[student_id]", "student-7"),
            ("expires_at", &(NOW + 31 * 60).to_string()),
        ])
    );
    // The brackets and the placeholder's braces are percent-encoded on the wire.
    let body = std::str::from_utf8(&request.body).expect("text");
    assert!(body.contains("line_items%5B0%5D%5Bquantity%5D=1"), "{body}");
    assert!(body.contains("%7BCHECKOUT_SESSION_ID%7D"), "{body}");
    assert_eq!(
        header(request, "authorization"),
        Some(format!("Bearer {SECRET_KEY}").as_str())
    );
    assert_eq!(
        header(request, "idempotency-key"),
        Some(format!("checkout-{ORDER_ID}").as_str())
    );
    assert_eq!(header(request, "stripe-version"), Some(API_VERSION));
    assert_eq!(header(request, "x-request-id"), Some("req-order-1"));
    assert_eq!(
        header(request, "content-type"),
        Some("application/x-www-form-urlencoded")
    );

    assert_eq!(session.id, SESSION_ID);
    assert_eq!(session.status, SessionStatus::Open);
    assert_eq!(session.payment_status, SessionPayment::Unpaid);
    assert_eq!(
        session.url.as_deref(),
        Some(format!("https://checkout.stripe.com/c/pay/{SESSION_ID}").as_str())
    );
    assert_eq!(session.client_reference_id.as_deref(), Some(ORDER_ID));
    assert_eq!(session.order_id.as_deref(), Some(ORDER_ID));
    assert_eq!(session.amount_total, Some(4900));
    assert_eq!(session.currency.as_deref(), Some("eur"));
    assert_eq!(session.expires_at.timestamp(), NOW + 1860);
    assert_eq!(session.payment_intent, None);
}

#[tokio::test]
async fn expires_at_inside_the_window_is_kept_and_beyond_it_is_cut_to_a_day_less_a_minute() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session_json("open", "unpaid")))
        .mount(&server)
        .await;
    let client = client(&config(&server.uri()));

    for (expires_in, sent) in [
        (TimeDelta::hours(2), NOW + 7200),
        (TimeDelta::hours(48), NOW + 24 * 3600 - 60),
    ] {
        client
            .create_checkout(&checkout_request(expires_in))
            .await
            .expect("created");
        let last = received(&server).await.pop().expect("a request");
        let expires_at = form(&last)
            .into_iter()
            .find(|(k, _)| k == "expires_at")
            .map(|(_, v)| v);
        assert_eq!(expires_at, Some(sent.to_string()), "{expires_in}");
    }
}

#[tokio::test]
async fn a_refund_names_the_payment_and_the_order() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(refund_json()))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&config(&server.uri()));

    let refund = client
        .refund("pi_3QxYz2AbCdEfGh1i0JkLmNoP", ORDER_ID, "req-refund-1")
        .await
        .expect("refunded");

    let request = received(&server).await.remove(0);
    assert_eq!(
        form(&request),
        pairs(&[
            ("payment_intent", "pi_3QxYz2AbCdEfGh1i0JkLmNoP"),
            ("metadata[order_id]", ORDER_ID),
        ])
    );
    assert_eq!(
        header(&request, "idempotency-key"),
        Some(format!("refund-{ORDER_ID}").as_str())
    );
    assert_eq!(header(&request, "x-request-id"), Some("req-refund-1"));
    assert_eq!(refund.id, "re_3QxYz2AbCdEfGh1i0a1b2c3d");
    assert_eq!(
        refund.payment_intent.as_deref(),
        Some("pi_3QxYz2AbCdEfGh1i0JkLmNoP")
    );
    assert_eq!(refund.amount, 4900);
    assert_eq!(refund.status, "succeeded");
}

#[tokio::test]
async fn expire_puts_the_session_id_into_one_encoded_path_segment() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session_json("expired", "unpaid")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&config(&server.uri()));

    let session = client
        .expire_checkout("cs_test_1/../refunds x?y", "req-expire-1")
        .await
        .expect("expired");

    let request = received(&server).await.remove(0);
    assert_eq!(
        request.url.path(),
        "/v1/checkout/sessions/cs_test_1%2F%2E%2E%2Frefunds%20x%3Fy/expire"
    );
    assert_eq!(request.url.query(), None);
    assert_eq!(
        header(&request, "idempotency-key"),
        Some("expire-cs_test_1/../refunds x?y")
    );
    assert!(request.body.is_empty());
    assert_eq!(session.status, SessionStatus::Expired);
}

#[tokio::test]
async fn a_read_is_a_get_without_body_or_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/checkout/sessions/{SESSION_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(session_json("complete", "paid")))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = config(&server.uri());
    config.api_version = None;
    let client = client(&config);

    let session = client
        .get_checkout(SESSION_ID, "req-read-1")
        .await
        .expect("read");

    let request = received(&server).await.remove(0);
    assert_eq!(header(&request, "idempotency-key"), None);
    assert_eq!(header(&request, "stripe-version"), None);
    assert_eq!(
        header(&request, "authorization"),
        Some(format!("Bearer {SECRET_KEY}").as_str())
    );
    assert!(request.body.is_empty());
    assert!(session.is_paid());
    assert_eq!(
        session.payment_intent.as_deref(),
        Some("pi_3QxYz2AbCdEfGh1i0JkLmNoP")
    );
}

#[tokio::test]
async fn an_api_base_with_a_path_prefixes_every_call() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/stripe/v1/checkout/sessions/{SESSION_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(session_json("open", "unpaid")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&config(&format!("{}/stripe/", server.uri())));
    client.get_checkout(SESSION_ID, "r").await.expect("read");
}

#[test]
fn the_secret_key_is_not_in_debug_output() {
    let config = config("http://127.0.0.1:9");
    let client = client(&config);
    assert!(!format!("{client:?}").contains(SECRET_KEY));
    assert!(!format!("{config:?}").contains(SECRET_KEY));
}

fn build(config: &StripeClientConfig) -> anyhow::Result<StripeClient> {
    StripeClient::new(config, Arc::new(SystemClock))
}

#[test]
fn settings_that_cannot_work_are_refused() {
    assert!(build(&config("ftp://api.stripe.com")).is_err());
    assert!(build(&config("not a url")).is_err());
    let mut bad = config("http://127.0.0.1:9");
    bad.secret_key = Secret::new("  ");
    assert!(build(&bad).is_err());
    let mut bad = config("http://127.0.0.1:9");
    bad.success_url = String::new();
    assert!(build(&bad).is_err());
    let mut bad = config("http://127.0.0.1:9");
    bad.secret_key = Secret::new("sk_test_line\nbreak");
    assert!(build(&bad).is_err());
}

#[test]
fn stripes_own_https_api_is_taken_only_when_this_build_speaks_tls() {
    let defaults = StripeClientConfig::new(Secret::new(SECRET_KEY), "https://shop.example/paid");
    assert_eq!(defaults.api_base, DEFAULT_API_BASE);
    let built = build(&defaults);
    assert_eq!(built.is_ok(), TLS_AVAILABLE);
    if let Err(e) = built {
        assert!(e.to_string().contains("TLS"), "{e}");
        assert!(!e.to_string().contains(SECRET_KEY), "{e}");
    }
}
