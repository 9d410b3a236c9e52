//! Reading webhook events.

use order_service::payment_client::signature::{EventError, parse_event};
use order_service::payment_client::{SessionPayment, SessionStatus};

const COMPLETED: &[u8] = include_bytes!("fixtures/checkout_session_completed.json");

#[test]
fn a_completed_checkout_carries_its_paid_session() {
    let event = parse_event(COMPLETED).expect("an event");

    assert_eq!(event.id, "evt_1QxYz3AbCdEfGh1iKlMnOpQr");
    assert_eq!(event.kind, "checkout.session.completed");
    assert_eq!(event.created, 1_700_000_000);
    let session = event.session.expect("a checkout session");
    assert_eq!(
        session.id,
        "cs_test_a1Kq9ZbVh3sXrT2mN8pLw4cYd6eFg0HjUo7iRzX5vBnM"
    );
    assert_eq!(session.status, SessionStatus::Complete);
    assert_eq!(session.payment_status, SessionPayment::Paid);
    assert!(session.is_paid());
    assert_eq!(
        session.payment_intent.as_deref(),
        Some("pi_3QxYz2AbCdEfGh1i0JkLmNoP")
    );
    assert_eq!(
        session.client_reference_id.as_deref(),
        Some("0192f0c4-7a1e-7b3c-9d2e-5f6a7b8c9d0e")
    );
    assert_eq!(
        session.order_id.as_deref(),
        Some("0192f0c4-7a1e-7b3c-9d2e-5f6a7b8c9d0e")
    );
    assert_eq!(session.amount_total, Some(4900));
    assert_eq!(session.currency.as_deref(), Some("eur"));
    assert_eq!(session.expires_at.timestamp(), 1_700_001_860);
    assert_eq!(session.url, None);
}

#[test]
fn an_event_of_another_type_is_read_without_a_session() {
    let payload = br#"{
      "id": "evt_1QxZa0AbCdEfGh1iUvWxYz01",
      "object": "event",
      "api_version": "2025-03-31.basil",
      "created": 1700000100,
      "data": {"object": {"id": "cus_R1a2B3c4D5e6F7", "object": "customer", "email": "student@example.com"}},
      "livemode": false,
      "pending_webhooks": 1,
      "request": {"id": "req_a1B2c3D4e5F6g7", "idempotency_key": "b7e1c0de-0000-4000-8000-000000000001"},
      "type": "customer.created"
    }"#;

    let event = parse_event(payload).expect("an event");

    assert_eq!(event.kind, "customer.created");
    assert_eq!(event.id, "evt_1QxZa0AbCdEfGh1iUvWxYz01");
    assert_eq!(event.created, 1_700_000_100);
    assert_eq!(event.session, None);
}

#[test]
fn an_expired_checkout_is_read_as_expired() {
    let text = std::str::from_utf8(COMPLETED).expect("utf-8");
    let expired = text
        .replace("checkout.session.completed", "checkout.session.expired")
        .replace("\"status\": \"complete\"", "\"status\": \"expired\"")
        .replace(
            "\"payment_status\": \"paid\"",
            "\"payment_status\": \"unpaid\"",
        );

    let event = parse_event(expired.as_bytes()).expect("an event");

    assert_eq!(event.kind, "checkout.session.expired");
    let session = event.session.expect("a session");
    assert_eq!(session.status, SessionStatus::Expired);
    assert!(!session.is_paid());
}

#[test]
fn what_is_not_an_event_is_refused() {
    assert!(matches!(
        parse_event(b"not json"),
        Err(EventError::NotAnEvent(_))
    ));
    assert!(matches!(
        parse_event(br#"{"id": "evt_1", "type": "x", "created": 1}"#),
        Err(EventError::NotAnEvent(_))
    ));
    assert!(matches!(
        parse_event(br#"{"id": "x", "object": "v2.core.event", "type": "x", "created": 1, "data": {"object": {}}}"#),
        Err(EventError::NotAnEvent(_))
    ));
}

#[test]
fn a_checkout_session_that_does_not_read_is_an_error() {
    let payload = br#"{"id": "evt_1", "object": "event", "type": "checkout.session.completed",
        "created": 1, "data": {"object": {"id": "cs_1", "object": "checkout.session"}}}"#;
    assert!(matches!(parse_event(payload), Err(EventError::Session(_))));
}
