//! The payment provider as order-service sees it: four calls behind a trait (create, read and
//! expire a checkout session; refund a payment), so the workflow is tested with fakes and the HTTP
//! details (Stripe's form encoding, idempotency keys, retries, timeouts) stay in one place. Every
//! call answers a domain value or a [`PaymentError`] that says what is known. Nothing here decides
//! what an answer means for an order: that is the saga's ([`crate::domain::saga`]).
//!
//! [`stripe`] speaks Stripe's public API; [`signature`] verifies its webhook deliveries and reads
//! their events.

pub mod signature;
pub mod stripe;

pub use crate::domain::payment::{PaymentError, Refund, Session, SessionPayment, SessionStatus};
pub use signature::{
    Event, EventError, SignatureError, TOLERANCE_SECS, parse_event, verify, verify_any,
};
pub use stripe::{StripeCallMetrics, StripeClient, StripeClientConfig};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A checkout session to create for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// The order id: `client_reference_id`, `metadata[order_id]`, and the source of the
    /// idempotency key (`checkout-<order id>`), so that a retry never opens a second session.
    pub order_id: String,
    pub course_id: String,
    pub student_id: String,
    /// What the line item is called on the checkout page.
    pub product_name: String,
    /// Minor units, > 0.
    pub amount_cents: i64,
    /// ISO 4217 as course-service keeps it (upper case); sent lower case.
    pub currency: String,
    /// When the session must stop taking payments. The client sends it as `expires_at` within
    /// the window the provider accepts (Stripe: 30 minutes to 24 hours from now).
    pub expires_at: DateTime<Utc>,
    /// The caller's request id, for the provider's logs (sent as a header) and ours.
    pub request_id: String,
}

/// A payment provider's checkout sessions and refunds. Every POST is idempotent under a key
/// derived from the order, so repeating a call never pays, expires or refunds twice.
#[async_trait]
pub trait PaymentClient: Send + Sync + std::fmt::Debug {
    /// `POST /v1/checkout/sessions`, key `checkout-<order id>`.
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Session, PaymentError>;
    /// `GET /v1/checkout/sessions/{id}`.
    async fn get_checkout(
        &self,
        session_id: &str,
        request_id: &str,
    ) -> Result<Session, PaymentError>;
    /// `POST /v1/checkout/sessions/{id}/expire`, key `expire-<session id>`. Stripe refuses to
    /// expire a session that is not open (`invalid_request_error`); the caller reads it then.
    async fn expire_checkout(
        &self,
        session_id: &str,
        request_id: &str,
    ) -> Result<Session, PaymentError>;
    /// `POST /v1/refunds` with `payment_intent`, key `refund-<order id>` (one refund per order).
    async fn refund(
        &self,
        payment_intent: &str,
        order_id: &str,
        request_id: &str,
    ) -> Result<Refund, PaymentError>;
}
