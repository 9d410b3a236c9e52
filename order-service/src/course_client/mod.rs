//! The course-service as order-service sees it: five idempotent calls behind a trait, so the
//! workflow is tested with fakes and the HTTP details (retries, timeouts, tokens) stay in one
//! place.
//!
//! Every call answers a [`Reservation`] or a [`CourseError`] that says what is known:
//! - [`CourseError::Refused`]: course-service answered with a business refusal (4xx) and its
//!   stable `code`. Nothing changed; retrying would not help.
//! - [`CourseError::NotDelivered`]: no attempt reached course-service (every connection was
//!   refused). Nothing can have changed.
//! - [`CourseError::Unknown`]: some attempt may have been applied (a timeout after sending, a 5xx,
//!   a dropped connection). The caller must find out before deciding.

mod http;
mod retry;

pub use http::{CallMetrics, HttpCourseClient, HttpCourseClientConfig};
pub use retry::CourseRetryStrategy;

use async_trait::async_trait;
use shared_types::{ErrorCode, Reservation};
use uuid::Uuid;

/// What a call to course-service is about: the course, the reservation id chosen by the order, and
/// the request id to forward.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub course_id: Uuid,
    pub reservation_id: Uuid,
    pub request_id: String,
}

/// How a call to course-service ended without a reservation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CourseError {
    #[error("course-service refused: {code} ({status})")]
    Refused {
        status: u16,
        code: ErrorCode,
        price_cents: Option<i64>,
    },
    #[error("course-service could not be reached")]
    NotDelivered,
    #[error("the outcome at course-service is unknown: {0}")]
    Unknown(String),
}

impl CourseError {
    /// Whether this is a refusal with `code`.
    pub fn is_refusal(&self, code: ErrorCode) -> bool {
        matches!(self, CourseError::Refused { code: c, .. } if *c == code)
    }
}

/// The reservation calls of course-service. Every one is idempotent under the same ids.
#[async_trait]
pub trait CourseClient: Send + Sync + std::fmt::Debug {
    /// `PUT` a hold for `student_id`; replays the stored reservation when it exists.
    async fn reserve(
        &self,
        ctx: &CallContext,
        student_id: &str,
        expected_price_cents: Option<i64>,
    ) -> Result<Reservation, CourseError>;
    async fn confirm(&self, ctx: &CallContext) -> Result<Reservation, CourseError>;
    async fn cancel(&self, ctx: &CallContext) -> Result<Reservation, CourseError>;
    async fn release(&self, ctx: &CallContext) -> Result<Reservation, CourseError>;
    async fn get_reservation(&self, ctx: &CallContext) -> Result<Reservation, CourseError>;
    /// Whether course-service answers its liveness probe now (one attempt, short timeout).
    async fn is_reachable(&self) -> bool;
}
