//! Waitlist bodies: a student's place in the queue of a sold-out course, as order-service shows it
//! to students ([`WaitlistEntry`]) and as course-service keeps it ([`WaitEntry`], services only).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Where a waitlist entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitlistStatus {
    /// In the queue; `position` 1 is next.
    Waiting,
    /// A freed seat is held for the student (the offer) until its hold ends.
    Offered,
    /// The offer was taken: the seat is the student's.
    Enrolled,
    /// The student left the queue (or gave the offer up).
    Left,
    /// The offer ended without being taken; the seat passed to the next student.
    Lapsed,
}

impl WaitlistStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitlistStatus::Waiting => "waiting",
            WaitlistStatus::Offered => "offered",
            WaitlistStatus::Enrolled => "enrolled",
            WaitlistStatus::Left => "left",
            WaitlistStatus::Lapsed => "lapsed",
        }
    }

    /// Waiting or offered: the entry still has a say in the course's seats.
    pub fn is_open(self) -> bool {
        matches!(self, WaitlistStatus::Waiting | WaitlistStatus::Offered)
    }
}

/// `POST /api/waitlist` (order-service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinWaitlist {
    pub course_id: Uuid,
}

/// A student's waitlist entry, as order-service shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "01a200a3-b000-7707-8a0a-b4f570fafe59", "course_id": "01a200a3-a261-7707-8a0a-b4f570fafe59",
    "student_id": "bob", "status": "waiting", "position": 3, "order_id": null,
    "created_at": "2026-11-22T00:24:13.665255Z", "updated_at": "2026-11-22T00:24:13.665255Z"
}))]
pub struct WaitlistEntry {
    pub id: Uuid,
    pub course_id: Uuid,
    pub student_id: String,
    pub status: WaitlistStatus,
    /// 1 = next; `null` unless `waiting`.
    #[schema(minimum = 1)]
    pub position: Option<u32>,
    /// The order made for the offer, once there is one.
    pub order_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A waitlist entry as course-service keeps it (service routes only): like [`WaitlistEntry`], with
/// the offer's hold in place of the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WaitEntry {
    pub id: Uuid,
    pub course_id: Uuid,
    pub student_id: String,
    pub status: WaitlistStatus,
    /// 1 = next; `null` unless `waiting`.
    #[schema(minimum = 1)]
    pub position: Option<u32>,
    /// The hold offered to the student (`offered`, and kept once `enrolled` or `lapsed`).
    pub reservation_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/courses/{course_id}/waitlist` and `POST /api/waitlist/entries/{entry_id}/leave`
/// (course-service, services only): the student the call is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitFor {
    /// 1..=255 characters, no control characters.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$"
    )]
    pub student_id: String,
}

/// A list of waitlist entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}
