//! Order bodies of order-service.

use crate::ErrorCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Failed,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Failed => "failed",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

/// A student's purchase of one seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "01a200a3-b30a-7714-96a6-079fb7795590", "student_id": "student-1", "course_id": "01a200a3-a261-7707-8a0a-b4f570fafe59",
    "reservation_id": "01a200a3-b30a-7714-96a6-07a022709b1a", "unit_price_cents": 4900, "currency": "USD",
    "status": "confirmed", "failure_code": null, "created_at": "2026-11-22T00:24:17.930070Z", "updated_at": "2026-11-22T00:24:17.931084Z"
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
