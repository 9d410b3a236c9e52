//! Reservation (seat hold) bodies of course-service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    Held,
    Confirmed,
    Cancelled,
    Expired,
    Released,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Held => "held",
            ReservationStatus::Confirmed => "confirmed",
            ReservationStatus::Cancelled => "cancelled",
            ReservationStatus::Expired => "expired",
            ReservationStatus::Released => "released",
        }
    }
}

/// A hold on one seat of one course for one student, under an id the caller chose.
///
/// `student_id` is `null` only for an id that was cancelled before it was ever reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub id: Uuid,
    pub course_id: Uuid,
    pub student_id: Option<String>,
    pub unit_price_cents: i64,
    pub currency: String,
    pub status: ReservationStatus,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `PUT /api/courses/{course_id}/reservations/{reservation_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutReservation {
    pub student_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_price_cents: Option<i64>,
}
