//! What each answer of the services means to the person using the pages, in words. The rules
//! stay in the services: this only names the outcome they decided.

use crate::{api::ApiError, pages::money};
use shared_types::{ErrorCode, OrderStatus};

/// The sentence shown for a refusal or failure.
pub fn for_error(error: &ApiError, currency: &str) -> String {
    match error {
        ApiError::Unreachable(_) => {
            "The service did not answer. Nothing was changed; try again in a moment.".into()
        }
        ApiError::Problem {
            code,
            detail,
            price_cents,
            ..
        } => match code {
            ErrorCode::PriceChanged => match price_cents {
                Some(price) => format!(
                    "The price changed to {} since this page was shown. Check it and buy again.",
                    money(*price, currency)
                ),
                None => {
                    "The price changed since this page was shown. Check it and buy again.".into()
                }
            },
            code => for_code(*code).map_or_else(|| detail.clone(), str::to_owned),
        },
    }
}

/// The sentence for a code, when there is a fixed one.
pub fn for_code(code: ErrorCode) -> Option<&'static str> {
    Some(match code {
        ErrorCode::SoldOut => {
            "Sold out: every seat is taken. Join the waitlist to get the next seat that frees up."
        }
        ErrorCode::AlreadyEnrolled | ErrorCode::AlreadyHolding => {
            "You already have a seat in this course, or one on hold for you."
        }
        ErrorCode::HoldLimitReached => {
            "You are holding as many seats as you may at once. Complete or cancel one of your orders first."
        }
        ErrorCode::PaymentNotCompleted => {
            "The payment was not completed, so the seat was given back."
        }
        ErrorCode::SeatsAvailable => "Seats are available: buy one instead of waiting.",
        ErrorCode::CourseNotFound => "This course does not exist (any more).",
        ErrorCode::OrderNotFound => "This order does not exist.",
        ErrorCode::WaitlistEntryNotFound => "You are not on this waitlist.",
        ErrorCode::OrderNotCancellable => "This order failed, so there is nothing to cancel.",
        ErrorCode::SeatsBelowCommitted => {
            "That is fewer seats than are already sold or held. Choose at least that many."
        }
        ErrorCode::Unauthorized => "Your sign-in has expired. Sign in again.",
        ErrorCode::Forbidden => "You may not do this with the role you signed in with.",
        ErrorCode::RateLimited => "Too many requests at once. Wait a moment and try again.",
        ErrorCode::CourseServiceUnavailable
        | ErrorCode::ServiceUnavailable
        | ErrorCode::PaymentProviderUnavailable => {
            "The service is busy or unavailable right now. Nothing was bought; try again in a moment."
        }
        ErrorCode::RequestInProgress => "This purchase is still being processed.",
        ErrorCode::IdempotencyKeyReused => "This form was already sent. Reload the page.",
        _ => return None,
    })
}

/// How an order's status reads.
pub fn status(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending => "Processing",
        OrderStatus::AwaitingPayment => "Awaiting payment",
        OrderStatus::Confirmed => "Confirmed",
        OrderStatus::Failed => "Failed",
        OrderStatus::Cancelled => "Cancelled",
        OrderStatus::Refunded => "Refunded",
    }
}
