//! Which failures are retried, with the same idempotency key, and what is known after.

use crate::support::*;
use chrono::TimeDelta;
use order_service::payment_client::stripe::StripeCallLabels;
use order_service::payment_client::{PaymentClient, PaymentError, StripeClient};
use std::time::{Duration, Instant};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A server that answers `first` once (or `times` times) and then `then`.
async fn answering_first(
    first: ResponseTemplate,
    times: u64,
    then: ResponseTemplate,
) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(then)
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

fn ok_session() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(session_json("open", "unpaid"))
}

fn calls(client: &StripeClient, call: &'static str, result: &'static str) -> u64 {
    client
        .metrics()
        .calls
        .get_or_create(&StripeCallLabels { call, result })
        .get()
}

async fn create(
    client: &StripeClient,
) -> Result<order_service::payment_client::Session, PaymentError> {
    client
        .create_checkout(&checkout_request(TimeDelta::hours(1)))
        .await
}

#[tokio::test]
async fn a_500_is_retried_with_the_same_idempotency_key_and_body() {
    let server = answering_first(
        ResponseTemplate::new(500).set_body_json(error_json(
            "api_error",
            None,
            "Something went wrong",
        )),
        1,
        ok_session(),
    )
    .await;
    let client = client(&config(&server.uri()));

    create(&client).await.expect("created on the retry");

    let sent = received(&server).await;
    assert_eq!(sent.len(), 2);
    let key = format!("checkout-{ORDER_ID}");
    for request in &sent {
        assert_eq!(header(request, "idempotency-key"), Some(key.as_str()));
    }
    assert_eq!(
        sent[0].body, sent[1].body,
        "a retry repeats the same parameters"
    );
    assert_eq!(client.metrics().attempts.get(), 2);
    assert_eq!(calls(&client, "create_checkout", "ok"), 1);
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let server = answering_first(
        ResponseTemplate::new(400).set_body_json(error_json(
            "invalid_request_error",
            Some("parameter_invalid_integer"),
            "Invalid integer: -1",
        )),
        10,
        ok_session(),
    )
    .await;
    let client = client(&config(&server.uri()));

    let error = create(&client).await.expect_err("refused");

    assert!(error.is_code("parameter_invalid_integer"), "{error:?}");
    assert_eq!(received(&server).await.len(), 1);
    assert_eq!(calls(&client, "create_checkout", "refused"), 1);
}

#[tokio::test]
async fn stripe_should_retry_false_on_a_503_stops_the_retries() {
    let server = answering_first(
        ResponseTemplate::new(503)
            .insert_header("stripe-should-retry", "false")
            .set_body_json(error_json("api_error", None, "Service unavailable")),
        10,
        ok_session(),
    )
    .await;
    let client = client(&config(&server.uri()));

    let error = create(&client).await.expect_err("not retried");

    assert!(
        matches!(&error, PaymentError::Unknown(m) if m.contains("503")),
        "{error:?}"
    );
    assert_eq!(received(&server).await.len(), 1);
    assert_eq!(calls(&client, "create_checkout", "unknown"), 1);
}

#[tokio::test]
async fn stripe_should_retry_true_retries_even_a_4xx() {
    let server = answering_first(
        ResponseTemplate::new(400)
            .insert_header("stripe-should-retry", "true")
            .set_body_json(error_json("invalid_request_error", None, "try again")),
        1,
        ok_session(),
    )
    .await;
    let client = client(&config(&server.uri()));

    create(&client).await.expect("created on the retry");

    assert_eq!(received(&server).await.len(), 2);
}

#[tokio::test]
async fn a_409_idempotency_key_in_use_is_retried() {
    let server = answering_first(
        ResponseTemplate::new(409).set_body_json(error_json(
            "idempotency_error",
            Some("idempotency_key_in_use"),
            "There is currently another in-progress request using this Idempotent Key.",
        )),
        1,
        ok_session(),
    )
    .await;
    let client = client(&config(&server.uri()));

    create(&client).await.expect("created on the retry");

    let sent = received(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(
        header(&sent[1], "idempotency-key"),
        Some(format!("checkout-{ORDER_ID}").as_str())
    );
}

#[tokio::test]
async fn a_429_is_retried() {
    let server = answering_first(
        ResponseTemplate::new(429).set_body_json(error_json(
            "invalid_request_error",
            Some("rate_limit"),
            "Too many requests hit the API too quickly.",
        )),
        1,
        ok_session(),
    )
    .await;
    let client = client(&config(&server.uri()));

    create(&client).await.expect("created on the retry");

    assert_eq!(received(&server).await.len(), 2);
}

#[tokio::test]
async fn retries_used_up_on_429_leave_the_outcome_unknown() {
    let server = answering_first(
        ResponseTemplate::new(429).set_body_json(error_json(
            "invalid_request_error",
            Some("lock_timeout"),
            "This object cannot be accessed right now.",
        )),
        10,
        ok_session(),
    )
    .await;
    let client = client(&config(&server.uri()));

    let error = create(&client).await.expect_err("used up");

    assert!(
        matches!(&error, PaymentError::Unknown(m) if m.contains("429") && m.contains("lock_timeout")),
        "{error:?}"
    );
    assert_eq!(
        received(&server).await.len(),
        3,
        "the first attempt and 2 retries"
    );
    assert_eq!(client.metrics().attempts.get(), 3);
}

#[tokio::test]
async fn a_server_that_hangs_leaves_the_outcome_unknown_after_the_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok_session().set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let mut config = config(&server.uri());
    config.timeout = Duration::from_millis(200);
    config.max_retries = 1;
    let client = client(&config);

    let started = Instant::now();
    let error = client
        .expire_checkout(SESSION_ID, "r")
        .await
        .expect_err("timed out");

    assert!(matches!(error, PaymentError::Unknown(_)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(client.metrics().attempts.get(), 2, "a timeout is retried");
    assert_eq!(calls(&client, "expire_checkout", "unknown"), 1);
}

#[tokio::test]
async fn a_closed_port_is_not_delivered() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let client = client(&config(&format!("http://127.0.0.1:{port}")));

    let error = client
        .refund("pi_1", ORDER_ID, "r")
        .await
        .expect_err("unreachable");

    assert_eq!(error, PaymentError::NotDelivered);
    assert_eq!(
        client.metrics().attempts.get(),
        3,
        "connection errors are retried"
    );
    assert_eq!(calls(&client, "refund", "not_delivered"), 1);
}
