//! What order-service learns from course-service: how a call ended. Owned here, below the client,
//! so that the saga's decisions are written against these values and the HTTP client only has to
//! produce them.

use shared_types::ErrorCode;

/// How a call to course-service ended without a reservation.
///
/// - [`CourseError::Refused`]: course-service answered with a business refusal (4xx) and its
///   stable `code`. Nothing changed; retrying would not help.
/// - [`CourseError::NotDelivered`]: no attempt reached course-service (every connection was
///   refused). Nothing can have changed.
/// - [`CourseError::Unknown`]: some attempt may have been applied (a timeout after sending, a 5xx,
///   a dropped connection). The caller must find out before deciding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CourseError {
    /// `status` is the HTTP status course-service answered with, for logs and the client's tests;
    /// decisions look at `code` only.
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
