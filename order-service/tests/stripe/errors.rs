//! Stripe's error object read into `PaymentError`.

use crate::support::*;
use order_service::payment_client::{PaymentClient, PaymentError};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn answering(status: u16, body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body.clone()))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_missing_session_is_refused_with_stripes_type_code_and_message() {
    let message = "No such checkout.session: 'cs_test_gone'";
    let server = answering(
        404,
        error_json("invalid_request_error", Some("resource_missing"), message),
    )
    .await;
    let client = client(&config(&server.uri()));

    let error = client
        .get_checkout("cs_test_gone", "r")
        .await
        .expect_err("missing");

    assert_eq!(
        error,
        PaymentError::Refused {
            status: 404,
            kind: "invalid_request_error".to_owned(),
            code: Some("resource_missing".to_owned()),
            message: message.to_owned(),
        }
    );
    assert!(error.is_code("resource_missing"));
}

#[tokio::test]
async fn a_400_resource_missing_is_refused() {
    let message = "No such payment_intent: 'pi_missing'";
    let server = answering(
        400,
        error_json("invalid_request_error", Some("resource_missing"), message),
    )
    .await;
    let client = client(&config(&server.uri()));

    let error = client
        .refund("pi_missing", ORDER_ID, "r")
        .await
        .expect_err("refused");

    assert_eq!(
        error,
        PaymentError::Refused {
            status: 400,
            kind: "invalid_request_error".to_owned(),
            code: Some("resource_missing".to_owned()),
            message: message.to_owned(),
        }
    );
}

#[tokio::test]
async fn a_second_refund_is_refused_as_already_refunded() {
    let message = "Charge ch_3QxYz2AbCdEfGh1i0q9r8s7t has already been refunded.";
    let server = answering(
        400,
        error_json(
            "invalid_request_error",
            Some("charge_already_refunded"),
            message,
        ),
    )
    .await;
    let client = client(&config(&server.uri()));

    let error = client
        .refund("pi_3QxYz2AbCdEfGh1i0JkLmNoP", ORDER_ID, "r")
        .await
        .expect_err("refused");

    assert!(error.is_code("charge_already_refunded"), "{error:?}");
    assert!(
        matches!(&error, PaymentError::Refused { status: 400, kind, message: m, .. }
            if kind == "invalid_request_error" && m == message),
        "{error:?}"
    );
    assert_eq!(received(&server).await.len(), 1, "a refusal is not retried");
}

#[tokio::test]
async fn an_invalid_key_is_refused_with_401() {
    let message = "Invalid API Key provided: sk_test_****0000";
    let server = answering(401, error_json("invalid_request_error", None, message)).await;
    let client = client(&config(&server.uri()));

    let error = client
        .create_checkout(&checkout_request(chrono::TimeDelta::hours(1)))
        .await
        .expect_err("refused");

    assert_eq!(
        error,
        PaymentError::Refused {
            status: 401,
            kind: "invalid_request_error".to_owned(),
            code: None,
            message: message.to_owned(),
        }
    );
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn a_declined_card_is_a_refusal_of_type_card_error() {
    let server = answering(
        402,
        error_json(
            "card_error",
            Some("card_declined"),
            "Your card was declined.",
        ),
    )
    .await;
    let client = client(&config(&server.uri()));

    let error = client
        .get_checkout(SESSION_ID, "r")
        .await
        .expect_err("refused");

    assert!(
        matches!(&error, PaymentError::Refused { status: 402, kind, .. } if kind == "card_error"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_4xx_without_an_error_object_is_still_a_refusal() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_string("<html>forbidden</html>"))
        .mount(&server)
        .await;
    let client = client(&config(&server.uri()));

    let error = client
        .get_checkout(SESSION_ID, "r")
        .await
        .expect_err("refused");

    assert!(
        matches!(&error, PaymentError::Refused { status: 403, kind, code: None, .. } if kind == "unknown"),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unreadable_success_is_an_unknown_outcome() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "cs_1"})))
        .mount(&server)
        .await;
    let client = client(&config(&server.uri()));

    let error = client
        .create_checkout(&checkout_request(chrono::TimeDelta::hours(1)))
        .await
        .expect_err("unreadable");

    assert!(matches!(error, PaymentError::Unknown(_)), "{error:?}");
}

#[tokio::test]
async fn an_empty_session_id_is_refused_without_a_request() {
    let server = answering(200, session_json("open", "unpaid")).await;
    let client = client(&config(&server.uri()));

    let error = client.expire_checkout("", "r").await.expect_err("refused");

    assert!(
        matches!(error, PaymentError::Refused { status: 0, .. }),
        "{error:?}"
    );
    assert!(received(&server).await.is_empty());
}
