//! Reservation (seat hold) bodies of course-service.

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
pub enum ReservationStatus {
    Held,
    Confirmed,
    Cancelled,
    Expired,
    Released,
}

impl ReservationStatus {
    /// The name on the wire and in storage (`FromStr` reads it back).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A hold on one seat of one course for one student, under an id the caller chose.
///
/// `student_id` is `null` only for an id that was cancelled before it was ever reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "01a200a3-b30a-7714-96a6-07a022709b1a", "course_id": "01a200a3-a261-7707-8a0a-b4f570fafe59",
    "student_id": "student-1", "unit_price_cents": 4900, "currency": "USD", "status": "held",
    "expires_at": "2026-11-22T00:29:17.930Z", "created_at": "2026-11-22T00:24:17.930Z", "updated_at": "2026-11-22T00:24:17.930Z"
}))]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"student_id": "student-1", "expected_price_cents": 4900}))]
#[serde(deny_unknown_fields)]
pub struct PutReservation {
    /// 1..=255 characters, no control characters.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$"
    )]
    pub student_id: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json_int::optional"
    )]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub expected_price_cents: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::ReservationStatus as S;

    #[test]
    fn each_status_reads_back_from_the_name_it_is_stored_and_sent_under() {
        for status in [S::Held, S::Confirmed, S::Cancelled, S::Expired, S::Released] {
            let wire = serde_json::to_value(status).expect("json");
            assert_eq!(wire, status.as_str());
            assert_eq!(status.as_str().parse::<S>(), Ok(status));
        }
        assert!("HELD".parse::<S>().is_err());
    }
}
