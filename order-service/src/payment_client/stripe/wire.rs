//! Stripe's JSON objects as they arrive (a Checkout Session, a Refund, the error object), read
//! leniently (unknown fields are ignored, expandable references are read as an id or an object)
//! and turned into the domain values. The webhook reader ([`crate::payment_client::signature`])
//! reads the session inside an event with the same [`WireSession`].

use crate::domain::payment::{Refund, Session, SessionPayment, SessionStatus};
use chrono::DateTime;
use serde::Deserialize;
use std::collections::HashMap;

/// A reference Stripe sends either as an id or, when expanded, as the object itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    fn into_id(self) -> String {
        match self {
            Expandable::Id(id) | Expandable::Object { id } => id,
        }
    }
}

/// A Checkout Session object (`"object": "checkout.session"`), the fields order-service reads.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireSession {
    id: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    status: Option<SessionStatus>,
    payment_status: SessionPayment,
    #[serde(default)]
    payment_intent: Option<Expandable>,
    #[serde(default)]
    client_reference_id: Option<String>,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
    #[serde(default)]
    amount_total: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
    /// Unix seconds.
    expires_at: i64,
}

impl WireSession {
    /// The domain value; fails when Stripe left out the status or sent an impossible time.
    pub(crate) fn into_session(self) -> Result<Session, String> {
        let status = self
            .status
            .ok_or_else(|| format!("checkout session {} has no status", self.id))?;
        let expires_at = DateTime::from_timestamp(self.expires_at, 0).ok_or_else(|| {
            format!(
                "checkout session {} expires at {}, not a time",
                self.id, self.expires_at
            )
        })?;
        let order_id = self.metadata.and_then(|mut m| m.remove("order_id"));
        Ok(Session {
            id: self.id,
            url: self.url,
            status,
            payment_status: self.payment_status,
            payment_intent: self.payment_intent.map(Expandable::into_id),
            client_reference_id: self.client_reference_id,
            order_id,
            amount_total: self.amount_total,
            currency: self.currency,
            expires_at,
        })
    }
}

/// A Refund object (`"object": "refund"`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireRefund {
    id: String,
    #[serde(default)]
    payment_intent: Option<Expandable>,
    amount: i64,
    /// Nullable in Stripe's schema; a refund without one has not settled yet.
    #[serde(default)]
    status: Option<String>,
}

impl WireRefund {
    pub(crate) fn into_refund(self) -> Refund {
        Refund {
            id: self.id,
            payment_intent: self.payment_intent.map(Expandable::into_id),
            amount: self.amount,
            status: self.status.unwrap_or_else(|| "pending".to_owned()),
        }
    }
}

/// The body of every error answer: `{"error": {...}}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorEnvelope {
    pub(crate) error: WireError,
}

/// Stripe's error object.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WireError {
    /// `api_error`, `card_error`, `idempotency_error`, `invalid_request_error`, ...
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) code: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    /// The parameter the error is about, when there is one.
    #[serde(default)]
    pub(crate) param: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expanded_payment_intent_reads_as_its_id() {
        let wire: WireSession = serde_json::from_value(serde_json::json!({
            "id": "cs_1", "object": "checkout.session", "status": "complete",
            "payment_status": "paid", "payment_intent": {"id": "pi_1", "object": "payment_intent"},
            "metadata": null, "expires_at": 1_700_000_000, "some_new_field": [1, 2]
        }))
        .expect("reads");
        let session = wire.into_session().expect("valid");
        assert_eq!(session.payment_intent.as_deref(), Some("pi_1"));
        assert_eq!(session.order_id, None);
        assert!(session.is_paid());
    }

    #[test]
    fn a_session_without_status_is_not_read() {
        let wire: WireSession = serde_json::from_value(serde_json::json!({
            "id": "cs_1", "status": null, "payment_status": "unpaid", "expires_at": 1_700_000_000
        }))
        .expect("reads");
        assert!(wire.into_session().is_err());
    }
}
