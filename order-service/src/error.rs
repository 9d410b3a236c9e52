//! `ApiError`: every way an order-service request can fail, and its one mapping to an HTTP status
//! and a stable problem+json `code`. Domain outcomes (an order's [`Failure`]) get their status
//! here and nowhere else.

use crate::domain::{Failure, order::InvalidOrder};
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
    #[error("no such course")]
    CourseNotFound,
    #[error("the course has seats available: buy one instead of waiting")]
    SeatsAvailable,
    #[error("no such waitlist entry")]
    WaitlistEntryNotFound,
    #[error("course-service is unavailable; try again shortly")]
    CourseServiceUnavailable,
    #[error("this Idempotency-Key was used with a different request body")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still in progress")]
    RequestInProgress,
    #[error("the change could not be stored; try again later")]
    Storage,
    /// A webhook delivery whose `Stripe-Signature` is missing, wrong or too old.
    #[error("{0}")]
    InvalidSignature(String),
    /// A route of a feature this configuration leaves off.
    #[error("not found")]
    NotEnabled,
    /// A webhook body that is not an event.
    #[error("{0}")]
    InvalidEvent(String),
    /// The order failed; `price_cents` is the current price a `price_changed` refusal quoted.
    #[error("the order failed: {}", failure.as_str())]
    OrderFailed {
        failure: Failure,
        price_cents: Option<i64>,
    },
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        use StatusCode as S;
        match self {
            ApiError::Validation(_) => (S::BAD_REQUEST, ErrorCode::ValidationFailed),
            ApiError::OrderNotFound => (S::NOT_FOUND, ErrorCode::OrderNotFound),
            ApiError::NotCancellable => (S::CONFLICT, ErrorCode::OrderNotCancellable),
            ApiError::AlreadyEnrolled => (S::CONFLICT, ErrorCode::AlreadyEnrolled),
            ApiError::CourseNotFound => (S::NOT_FOUND, ErrorCode::CourseNotFound),
            ApiError::SeatsAvailable => (S::CONFLICT, ErrorCode::SeatsAvailable),
            ApiError::WaitlistEntryNotFound => (S::NOT_FOUND, ErrorCode::WaitlistEntryNotFound),
            ApiError::CourseServiceUnavailable => {
                (S::SERVICE_UNAVAILABLE, ErrorCode::CourseServiceUnavailable)
            }
            ApiError::IdempotencyKeyReused => {
                (S::UNPROCESSABLE_ENTITY, ErrorCode::IdempotencyKeyReused)
            }
            ApiError::RequestInProgress => (S::CONFLICT, ErrorCode::RequestInProgress),
            ApiError::Storage => (S::SERVICE_UNAVAILABLE, ErrorCode::ServiceUnavailable),
            ApiError::InvalidSignature(_) => (S::BAD_REQUEST, ErrorCode::InvalidSignature),
            ApiError::NotEnabled => (S::NOT_FOUND, ErrorCode::NotFound),
            ApiError::InvalidEvent(_) => (S::BAD_REQUEST, ErrorCode::ValidationFailed),
            ApiError::OrderFailed { failure, .. } => (failure_status(*failure), failure.code()),
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
            ApiError::OrderFailed { failure, .. } => match failure {
                Failure::SoldOut => "no seats left in this course".into(),
                Failure::CourseNotFound => "no such course".into(),
                Failure::PriceChanged => {
                    "the course price changed; review it and order again".into()
                }
                Failure::AlreadyEnrolled => {
                    "this student already holds or bought a seat of this course".into()
                }
                Failure::CourseServiceUnavailable => {
                    "course-service is unavailable; try again shortly".into()
                }
                Failure::PaymentProviderUnavailable => {
                    "no checkout could be opened with the payment provider; nothing is held, \
                     try again shortly"
                        .into()
                }
                other => format!("the order failed: {}", other.as_str()),
            },
            other => other.to_string(),
        }
    }
}

impl From<InvalidOrder> for ApiError {
    fn from(e: InvalidOrder) -> Self {
        ApiError::Validation(e.0)
    }
}

/// The status a failed order answers with.
fn failure_status(failure: Failure) -> StatusCode {
    match failure {
        Failure::CourseNotFound => StatusCode::NOT_FOUND,
        Failure::CourseServiceUnavailable | Failure::PaymentProviderUnavailable => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Failure::SoldOut
        | Failure::PaymentNotCompleted
        | Failure::PriceChanged
        | Failure::HoldLimitReached
        | Failure::AlreadyEnrolled
        | Failure::ReservationExpired
        | Failure::ReservationCancelled => StatusCode::CONFLICT,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_orders_answer_with_the_status_of_their_failure() {
        let status = |failure| {
            ApiError::OrderFailed {
                failure,
                price_cents: None,
            }
            .status_and_code()
        };
        assert_eq!(
            status(Failure::SoldOut),
            (StatusCode::CONFLICT, ErrorCode::SoldOut)
        );
        assert_eq!(
            status(Failure::CourseNotFound),
            (StatusCode::NOT_FOUND, ErrorCode::CourseNotFound)
        );
        assert_eq!(
            status(Failure::CourseServiceUnavailable),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::CourseServiceUnavailable
            )
        );
        assert_eq!(
            status(Failure::ReservationExpired),
            (StatusCode::CONFLICT, ErrorCode::ReservationExpired)
        );
        let quoted = ApiError::OrderFailed {
            failure: Failure::PriceChanged,
            price_cents: Some(900),
        }
        .problem();
        assert_eq!((quoted.status, quoted.price_cents), (409, Some(900)));
        assert_eq!(
            ApiError::OrderFailed {
                failure: Failure::CourseServiceUnavailable,
                price_cents: None
            }
            .retry_after_secs(),
            Some(RETRY_AFTER_SECS)
        );
        let provider = ApiError::OrderFailed {
            failure: Failure::PaymentProviderUnavailable,
            price_cents: None,
        };
        assert_eq!(
            provider.status_and_code(),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::PaymentProviderUnavailable
            )
        );
        assert_eq!(provider.retry_after_secs(), Some(RETRY_AFTER_SECS));
        assert_eq!(
            ApiError::InvalidSignature("no match".into()).status_and_code(),
            (StatusCode::BAD_REQUEST, ErrorCode::InvalidSignature)
        );
    }
}
