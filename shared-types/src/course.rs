//! Course bodies of course-service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A course as every reader sees it. `seats_available + seats_held + seats_sold == seats_total`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/courses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCourse {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub price_cents: i64,
    #[serde(default)]
    pub currency: Option<String>,
    pub seats: i64,
}

/// `PATCH /api/courses/{course_id}/price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatePrice {
    pub price_cents: i64,
}

/// `PATCH /api/courses/{course_id}/seats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSeats {
    pub seats_total: i64,
}
