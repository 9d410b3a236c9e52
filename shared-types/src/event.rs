//! The event feed of course-service: every change it made, in order, for services that follow it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A course's seat counts right after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventCounts {
    pub seats_total: u32,
    pub seats_available: u32,
    pub seats_held: u32,
    pub seats_sold: u32,
    pub waitlist_length: u32,
}

/// One change, as the feed tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Pass it as `after` to read on from this event.
    pub cursor: String,
    /// `course.created`, `course.updated`, `reservation.held`, `reservation.confirmed`,
    /// `reservation.cancelled`, `reservation.expired`, `reservation.released` or
    /// `reservation.offered`.
    #[serde(rename = "type")]
    #[schema(example = "reservation.held")]
    pub kind: String,
    pub course_id: Uuid,
    /// On reservation events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<Uuid>,
    /// On reservation events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub student_id: Option<String>,
    pub at: DateTime<Utc>,
    pub course: EventCounts,
}
