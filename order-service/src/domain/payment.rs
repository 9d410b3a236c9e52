//! What order-service learns from a payment provider, as values the saga decides on: a checkout
//! session as the provider reports it, a refund, and how a call ended without one. Owned here,
//! below the client, so that the decisions are written against these values and the HTTP client
//! (Stripe's API, [`crate::payment_client`]) only has to produce them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A checkout session's lifecycle, as Stripe names it (`status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

/// Whether the money was collected, as Stripe names it (`payment_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPayment {
    Paid,
    Unpaid,
    NoPaymentRequired,
}

/// A checkout session as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `cs_...`
    pub id: String,
    /// Where the student pays; only while the session is open.
    pub url: Option<String>,
    pub status: SessionStatus,
    pub payment_status: SessionPayment,
    /// `pi_...`, the payment to refund; set once a payment was attempted.
    pub payment_intent: Option<String>,
    /// `client_reference_id`: the order id it was created for.
    pub client_reference_id: Option<String>,
    /// `metadata[order_id]`.
    pub order_id: Option<String>,
    pub amount_total: Option<i64>,
    /// Lower-case ISO 4217, as Stripe answers it.
    pub currency: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl Session {
    /// Whether the money for this session was collected.
    pub fn is_paid(&self) -> bool {
        self.status == SessionStatus::Complete && self.payment_status == SessionPayment::Paid
    }
}

/// A refund as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// `re_...`
    pub id: String,
    pub payment_intent: Option<String>,
    pub amount: i64,
    /// `pending`, `succeeded`, `failed`, `canceled` or `requires_action`.
    pub status: String,
}

/// How a call to the payment provider ended without an answer object.
///
/// - [`PaymentError::Refused`]: the provider answered with its error object (a 4xx other than 429
///   and 409 `idempotency_key_in_use`): nothing was done; retrying would not help.
/// - [`PaymentError::NotDelivered`]: no attempt reached the provider (every connection was
///   refused). Nothing can have been done.
/// - [`PaymentError::Unknown`]: some attempt may have been applied (a timeout after sending, a
///   5xx, a dropped connection, retries used up on 429/409). The caller finds out before deciding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// `kind` is Stripe's `error.type` (`invalid_request_error`, `card_error`, ...), `code` its
    /// `error.code` when present (`resource_missing`, `charge_already_refunded`, ...).
    #[error("the payment provider refused ({status} {kind}): {message}")]
    Refused {
        status: u16,
        kind: String,
        code: Option<String>,
        message: String,
    },
    #[error("the payment provider could not be reached")]
    NotDelivered,
    #[error("the outcome at the payment provider is unknown: {0}")]
    Unknown(String),
}

impl PaymentError {
    /// Whether this is a refusal with Stripe error `code`.
    pub fn is_code(&self, wanted: &str) -> bool {
        matches!(self, PaymentError::Refused { code: Some(c), .. } if c == wanted)
    }
}
