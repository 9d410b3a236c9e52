//! Which failed calls are retried, how long to wait between attempts, and whether an attempt may
//! have reached course-service.
//!
//! Retried (transient): connection errors, timeouts, and 429, 502, 503, 504. Everything else is
//! final, above all the 4xx business refusals (`sold_out`, `price_changed`, ...): retrying those
//! only repeats the refusal, and the prototype's habit of retrying them is what handed out seats
//! twice. 500 is not retried either: it signals a bug, not load. Retrying is safe at all only
//! because every call carries the reservation id chosen before the first attempt.
//!
//! Backoff is exponential with jitter, bounded in attempts (`COURSE_RETRY_MAX` retries) and in
//! delay, so the total time of a call is bounded by `(retries + 1) x COURSE_TIMEOUT_MS` plus a
//! few short pauses.
//!
//! [`DeliveryProbe`] runs inside the retry loop, once per attempt, and records whether any attempt
//! might have been delivered. Only when none was (every attempt failed to connect) can the caller
//! conclude that nothing happened at course-service.

use reqwest::{Response, StatusCode};
use reqwest_retry::{Jitter, Retryable, RetryableStrategy, policies::ExponentialBackoff};
use std::time::Duration;

/// The retry classification described in the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct CourseRetryStrategy;

impl RetryableStrategy for CourseRetryStrategy {
    fn handle(&self, res: &Result<Response, reqwest_middleware::Error>) -> Option<Retryable> {
        match res {
            Ok(response) if is_transient_status(response.status()) => Some(Retryable::Transient),
            Ok(_) => None,
            Err(reqwest_middleware::Error::Reqwest(e))
                if e.is_connect() || e.is_timeout() || e.is_request() =>
            {
                Some(Retryable::Transient)
            }
            Err(_) => Some(Retryable::Fatal),
        }
    }
}

/// 429, 502, 503 and 504.
pub fn is_transient_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// Exponential backoff from 20 ms up to 500 ms, with jitter, for at most `max_retries` retries.
pub fn backoff(max_retries: u32) -> ExponentialBackoff {
    ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(20), Duration::from_millis(500))
        .jitter(Jitter::Bounded)
        .build_with_max_retries(max_retries)
}

pub use crate::delivery::{Delivery, DeliveryProbe};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_overload_and_gateway_statuses_are_transient() {
        for code in [429u16, 502, 503, 504] {
            assert!(
                is_transient_status(StatusCode::from_u16(code).expect("status")),
                "{code}"
            );
        }
        for code in [200u16, 201, 400, 401, 403, 404, 409, 410, 422, 500] {
            assert!(
                !is_transient_status(StatusCode::from_u16(code).expect("status")),
                "{code}"
            );
        }
    }
}
