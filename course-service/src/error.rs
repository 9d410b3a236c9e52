//! `ApiError`: every way a course-service request can fail, and its one mapping to an HTTP status
//! and a stable problem+json `code`.

use crate::{
    domain::{BookError, TransitionError, ValidationError},
    store::{Refusal, StoreError},
};
use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use service_kit::problem::problem_body;
use shared_types::{ErrorCode, Problem};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("the change could not be stored; try again later")]
    Storage(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(refusal) => ApiError::Refused(refusal),
            StoreError::Unavailable { reason, source } => {
                let why = match source {
                    Some(source) => format!("{reason}: {source}"),
                    None => reason,
                };
                ApiError::Storage(why)
            }
        }
    }
}

impl From<BookError> for ApiError {
    fn from(e: BookError) -> Self {
        ApiError::Refused(Refusal::Book(e))
    }
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        use BookError as B;
        use StatusCode as S;
        match self {
            ApiError::Validation(_) => (S::BAD_REQUEST, ErrorCode::ValidationFailed),
            ApiError::Storage(_) => (S::SERVICE_UNAVAILABLE, ErrorCode::ServiceUnavailable),
            ApiError::Refused(Refusal::HoldLimitReached { .. }) => {
                (S::CONFLICT, ErrorCode::HoldLimitReached)
            }
            ApiError::Refused(Refusal::CourseNotFound) => (S::NOT_FOUND, ErrorCode::CourseNotFound),
            ApiError::Refused(Refusal::CursorExpired) => (S::GONE, ErrorCode::CursorExpired),
            ApiError::Refused(Refusal::CursorUnknown) => {
                (S::BAD_REQUEST, ErrorCode::ValidationFailed)
            }
            ApiError::Refused(Refusal::Book(book)) => match book {
                B::SoldOut => (S::CONFLICT, ErrorCode::SoldOut),
                B::PriceChanged { .. } => (S::CONFLICT, ErrorCode::PriceChanged),
                B::AlreadyHolding => (S::CONFLICT, ErrorCode::AlreadyHolding),
                B::IdempotencyConflict => (S::CONFLICT, ErrorCode::IdempotencyConflict),
                B::CancelledBeforeReserved => (S::CONFLICT, ErrorCode::ReservationCancelled),
                B::ReservationNotFound => (S::NOT_FOUND, ErrorCode::ReservationNotFound),
                B::NotOwner => (S::FORBIDDEN, ErrorCode::Forbidden),
                B::SeatsBelowCommitted { .. } => (S::CONFLICT, ErrorCode::SeatsBelowCommitted),
                B::SeatsAvailable => (S::CONFLICT, ErrorCode::SeatsAvailable),
                B::AlreadyEnrolled => (S::CONFLICT, ErrorCode::AlreadyEnrolled),
                B::EntryNotFound => (S::NOT_FOUND, ErrorCode::WaitlistEntryNotFound),
                B::Transition(TransitionError::Expired) => (S::GONE, ErrorCode::ReservationExpired),
                B::Transition(TransitionError::Cancelled | TransitionError::Released) => {
                    (S::CONFLICT, ErrorCode::ReservationCancelled)
                }
                B::Transition(TransitionError::Confirmed) => {
                    (S::CONFLICT, ErrorCode::ReservationConfirmed)
                }
                B::Transition(TransitionError::NotConfirmed) => {
                    (S::CONFLICT, ErrorCode::ReservationNotConfirmed)
                }
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.status_and_code();
        let title = status.canonical_reason().unwrap_or("Error");
        let mut problem = Problem::new(status.as_u16(), title, code, self.to_string());
        if let ApiError::Refused(Refusal::Book(BookError::PriceChanged { price_cents })) = self {
            problem.price_cents = Some(*price_cents);
        }
        problem_body(problem)
    }
}
