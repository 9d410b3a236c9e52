//! Order bodies of order-service.

use crate::ErrorCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    /// The seat is held while the student pays at `payment.checkout_url`.
    AwaitingPayment,
    Confirmed,
    Failed,
    Cancelled,
    /// The money went back to the student (a paid order cancelled, or a payment that came too
    /// late for any seat).
    Refunded,
}

impl OrderStatus {
    /// The name on the wire and in storage (`FromStr` reads it back).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A student's purchase of one seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "01a200a3-b30a-7714-96a6-079fb7795590", "student_id": "student-1", "course_id": "01a200a3-a261-7707-8a0a-b4f570fafe59",
    "reservation_id": "01a200a3-b30a-7714-96a6-07a022709b1a", "unit_price_cents": 4900, "currency": "USD",
    "status": "confirmed", "failure_code": null, "payment": null, "created_at": "2026-11-22T00:24:17.930070Z", "updated_at": "2026-11-22T00:24:17.931084Z"
}))]
pub struct Order {
    pub id: Uuid,
    pub student_id: String,
    pub course_id: Uuid,
    pub reservation_id: Uuid,
    pub unit_price_cents: Option<i64>,
    pub currency: Option<String>,
    pub status: OrderStatus,
    pub failure_code: Option<ErrorCode>,
    /// How the seat is paid for; null when no payment is collected (free courses, or
    /// `PAYMENT_PROVIDER=none`).
    #[serde(default)]
    pub payment: Option<OrderPayment>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a payment stands, as the provider reported it last.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PaymentStatus {
    /// The checkout is open: the student may pay until `expires_at`.
    Open,
    Paid,
    /// The checkout closed without a payment.
    Expired,
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// An order's payment through a provider's hosted checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "provider": "stripe", "checkout_session_id": "cs_test_a1b2c3",
    "checkout_url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3", "status": "open",
    "expires_at": "2026-11-22T00:29:17Z"
}))]
pub struct OrderPayment {
    /// `stripe`.
    pub provider: String,
    pub checkout_session_id: String,
    /// Where the student pays; null once the checkout is closed.
    pub checkout_url: Option<String>,
    pub status: PaymentStatus,
    /// When the offer ends: no later than the end of the seat's hold.
    pub expires_at: DateTime<Utc>,
}

/// `POST /api/orders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"course_id": "01a200a3-a261-7707-8a0a-b4f570fafe59", "expected_price_cents": 4900}))]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    pub course_id: Uuid,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json_int::optional"
    )]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub expected_price_cents: Option<i64>,
}

#[cfg(test)]
mod status_tests {
    use super::OrderStatus as S;

    #[test]
    fn each_status_reads_back_from_the_name_it_is_stored_and_sent_under() {
        for status in [S::Pending, S::Confirmed, S::Failed, S::Cancelled] {
            let wire = serde_json::to_value(status).expect("json");
            assert_eq!(wire, status.as_str());
            assert_eq!(status.as_str().parse::<S>(), Ok(status));
        }
        assert!("unknown".parse::<S>().is_err());
    }
}
