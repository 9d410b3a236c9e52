//! Course bodies of course-service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A course as every reader sees it. `seats_available + seats_held + seats_sold == seats_total`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "01a200a3-a261-7707-8a0a-b4f570fafe59", "title": "Async Rust", "description": "Futures, executors, pinning",
    "instructor_id": "alice", "price_cents": 4900, "currency": "USD", "seats_total": 30, "seats_available": 27,
    "seats_held": 1, "seats_sold": 2, "waitlist_length": 0, "created_at": "2026-11-22T00:24:13.665255Z", "updated_at": "2026-11-22T00:25:01.102311Z"
}))]
pub struct Course {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub instructor_id: String,
    pub price_cents: i64,
    pub currency: String,
    pub seats_total: u32,
    pub seats_available: u32,
    pub seats_held: u32,
    pub seats_sold: u32,
    /// Students waiting for a seat (offers not counted: they hold one).
    #[serde(default)]
    pub waitlist_length: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/courses`. `title` 1..=200 characters, `description` at most 5000, `price_cents`
/// 0..=1_000_000_000, `currency` an ISO 4217 code of money in use (default `USD`), `seats`
/// 1..=1_000_000.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"title": "Async Rust", "description": "Futures, executors, pinning", "price_cents": 4900, "currency": "USD", "seats": 30}))]
#[serde(deny_unknown_fields)]
pub struct CreateCourse {
    /// Leading and trailing whitespace is trimmed; what remains may not be empty.
    /// Printable text with at least one non-space character (no control characters).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub title: String,
    #[serde(default)]
    /// Text; line breaks and tabs allowed, no other control characters.
    #[schema(
        max_length = 5000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub description: Option<String>,
    #[serde(deserialize_with = "crate::json_int::integer")]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub price_cents: i64,
    #[serde(default)]
    #[schema(schema_with = crate::currency::schema)]
    pub currency: Option<String>,
    #[serde(deserialize_with = "crate::json_int::integer")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub seats: i64,
}

/// `PATCH /api/courses/{course_id}/price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePrice {
    #[serde(deserialize_with = "crate::json_int::integer")]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub price_cents: i64,
}

/// `PATCH /api/courses/{course_id}/seats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSeats {
    /// May not go below the seats already held or sold (`409 seats_below_committed`).
    #[serde(deserialize_with = "crate::json_int::integer")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub seats_total: i64,
}

/// `GET /api/courses/{course_id}/sales` (the course's instructor): seats sold and what they
/// brought in, each seat at the price it was held at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"course_id": "01a200a3-a261-7707-8a0a-b4f570fafe59", "seats_sold": 12, "revenue_cents": 58800, "currency": "USD"}))]
pub struct CourseSales {
    pub course_id: Uuid,
    pub seats_sold: u32,
    pub revenue_cents: i64,
    pub currency: String,
}
