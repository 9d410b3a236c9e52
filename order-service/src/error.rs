//! `ApiError`: every way an order-service request can fail, and its one mapping to an HTTP status
//! and a stable problem+json `code`.

use crate::workflow::CancelError;
use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use service_kit::problem::problem_body;
use shared_types::{ErrorCode, Problem};

/// Seconds a client should wait before retrying when course-service is unavailable.
pub const RETRY_AFTER_SECS: u64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Validation(String),
    #[error("no such order")]
    OrderNotFound,
    #[error("a failed order cannot be cancelled")]
    NotCancellable,
    #[error("this student already has an order for this course")]
    AlreadyEnrolled,
    #[error("course-service is unavailable; try again shortly")]
    CourseServiceUnavailable,
    #[error("this Idempotency-Key was used with a different request body")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still in progress")]
    RequestInProgress,
    #[error("the change could not be stored; try again later")]
    Storage,
    /// The order failed for a reason course-service gave.
    #[error("the order failed: {code}")]
    OrderFailed {
        code: ErrorCode,
        status: u16,
        price_cents: Option<i64>,
    },
}

impl From<CancelError> for ApiError {
    fn from(e: CancelError) -> Self {
        match e {
            CancelError::NotFound => ApiError::OrderNotFound,
            CancelError::NotCancellable => ApiError::NotCancellable,
            CancelError::Unavailable => ApiError::CourseServiceUnavailable,
        }
    }
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        use StatusCode as S;
        match self {
            ApiError::Validation(_) => (S::BAD_REQUEST, ErrorCode::ValidationFailed),
            ApiError::OrderNotFound => (S::NOT_FOUND, ErrorCode::OrderNotFound),
            ApiError::NotCancellable => (S::CONFLICT, ErrorCode::OrderNotCancellable),
            ApiError::AlreadyEnrolled => (S::CONFLICT, ErrorCode::AlreadyEnrolled),
            ApiError::CourseServiceUnavailable => {
                (S::SERVICE_UNAVAILABLE, ErrorCode::CourseServiceUnavailable)
            }
            ApiError::IdempotencyKeyReused => {
                (S::UNPROCESSABLE_ENTITY, ErrorCode::IdempotencyKeyReused)
            }
            ApiError::RequestInProgress => (S::CONFLICT, ErrorCode::RequestInProgress),
            ApiError::Storage => (S::SERVICE_UNAVAILABLE, ErrorCode::ServiceUnavailable),
            ApiError::OrderFailed { code, status, .. } => {
                (StatusCode::from_u16(*status).unwrap_or(S::CONFLICT), *code)
            }
        }
    }

    /// The problem+json body of this error.
    pub fn problem(&self) -> Problem {
        let (status, code) = self.status_and_code();
        let title = status.canonical_reason().unwrap_or("Error");
        let mut problem = Problem::new(status.as_u16(), title, code, self.detail());
        if let ApiError::OrderFailed { price_cents, .. } = self {
            problem.price_cents = *price_cents;
        }
        problem
    }

    /// The `Retry-After` to send, on 503 answers.
    pub fn retry_after_secs(&self) -> Option<u64> {
        (self.status_and_code().0 == StatusCode::SERVICE_UNAVAILABLE).then_some(RETRY_AFTER_SECS)
    }

    fn detail(&self) -> String {
        match self {
            ApiError::OrderFailed { code, .. } => match code {
                ErrorCode::SoldOut => "no seats left in this course".into(),
                ErrorCode::CourseNotFound => "no such course".into(),
                ErrorCode::PriceChanged => {
                    "the course price changed; review it and order again".into()
                }
                ErrorCode::AlreadyEnrolled => {
                    "this student already holds or bought a seat of this course".into()
                }
                ErrorCode::CourseServiceUnavailable => {
                    "course-service is unavailable; try again shortly".into()
                }
                other => format!("the order failed: {other}"),
            },
            other => other.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = problem_body(self.problem());
        if let Some(secs) = self.retry_after_secs() {
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(secs),
            );
        }
        response
    }
}
