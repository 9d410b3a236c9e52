//! Which failed Stripe calls are retried, how long to wait between attempts, and whether an
//! attempt may have reached Stripe.
//!
//! | last answer of an attempt                      | retried | when it is the last one     |
//! |------------------------------------------------|---------|-----------------------------|
//! | a non-2xx with `Stripe-Should-Retry: true`     | yes     | by its status, as below     |
//! | a non-2xx with `Stripe-Should-Retry: false`    | no      | by its status, as below     |
//! | 409 (`idempotency_key_in_use`, a lock)         | yes     | `Unknown`                   |
//! | 429 (rate or concurrency limit, lock timeout)  | yes     | `Unknown`                   |
//! | 5xx                                            | yes     | `Unknown`                   |
//! | another 4xx (400, 401, 402, 403, 404, ...)     | no      | `Refused`                   |
//! | connection refused, connect timeout            | yes     | `NotDelivered` if no attempt connected, else `Unknown` |
//! | timeout, connection dropped after connecting   | yes     | `Unknown`                   |
//!
//! This is what Stripe documents and its libraries do: its own header decides when present, a
//! conflict or a server error is worth another attempt, a refusal is not; 429s are retried with
//! backoff as Stripe's rate-limit guidance asks. Retrying a POST is safe only because every POST
//! carries an idempotency key chosen before the first attempt (a retry replays the first
//! answer, or waits on the request still running under the key); a GET is safe anyway.
//!
//! Backoff is exponential (base 2) with jitter, from `min_retry_delay` to `max_retry_delay`,
//! for at most `max_retries` retries, so a call takes at most
//! `(max_retries + 1) x timeout` plus the pauses.
//!
//! [`DeliveryProbe`] runs inside the retry loop, once per attempt, and records whether any
//! attempt might have been delivered: only when none was can nothing have happened at Stripe.

use reqwest::{Response, StatusCode, header::HeaderMap};
use reqwest_retry::{Jitter, Retryable, RetryableStrategy, policies::ExponentialBackoff};
use std::time::Duration;

/// Stripe's own verdict on whether a failed request is worth repeating.
pub const SHOULD_RETRY_HEADER: &str = "stripe-should-retry";

/// The retry classification of the table in the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct StripeRetryStrategy;

impl RetryableStrategy for StripeRetryStrategy {
    fn handle(&self, res: &Result<Response, reqwest_middleware::Error>) -> Option<Retryable> {
        match res {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => match should_retry(response.headers()) {
                Some(true) => Some(Retryable::Transient),
                Some(false) => Some(Retryable::Fatal),
                None if is_transient_status(response.status()) => Some(Retryable::Transient),
                None => Some(Retryable::Fatal),
            },
            Err(reqwest_middleware::Error::Reqwest(e))
                if e.is_connect() || e.is_timeout() || e.is_request() =>
            {
                Some(Retryable::Transient)
            }
            Err(_) => Some(Retryable::Fatal),
        }
    }
}

/// `Stripe-Should-Retry`, when present and `true` or `false`.
pub fn should_retry(headers: &HeaderMap) -> Option<bool> {
    match headers.get(SHOULD_RETRY_HEADER)?.to_str().ok()?.trim() {
        v if v.eq_ignore_ascii_case("true") => Some(true),
        v if v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// 409, 429 and every 5xx.
pub fn is_transient_status(status: StatusCode) -> bool {
    status == StatusCode::CONFLICT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// Exponential backoff from `min` to `max` (base 2), with jitter, for at most `max_retries`
/// retries.
pub fn backoff(max_retries: u32, min: Duration, max: Duration) -> ExponentialBackoff {
    ExponentialBackoff::builder()
        .retry_bounds(min, max.max(min))
        .base(2)
        .jitter(Jitter::Bounded)
        .build_with_max_retries(max_retries)
}

pub use crate::delivery::{Delivery, DeliveryProbe};

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn conflicts_limits_and_server_errors_are_transient() {
        for code in [409u16, 429, 500, 502, 503, 504] {
            assert!(
                is_transient_status(StatusCode::from_u16(code).expect("status")),
                "{code}"
            );
        }
        for code in [200u16, 400, 401, 402, 403, 404, 410, 422] {
            assert!(
                !is_transient_status(StatusCode::from_u16(code).expect("status")),
                "{code}"
            );
        }
    }

    #[test]
    fn stripes_header_is_read_when_it_says_true_or_false() {
        let mut headers = HeaderMap::new();
        assert_eq!(should_retry(&headers), None);
        headers.insert(SHOULD_RETRY_HEADER, HeaderValue::from_static("true"));
        assert_eq!(should_retry(&headers), Some(true));
        headers.insert(SHOULD_RETRY_HEADER, HeaderValue::from_static("False"));
        assert_eq!(should_retry(&headers), Some(false));
        headers.insert(SHOULD_RETRY_HEADER, HeaderValue::from_static("maybe"));
        assert_eq!(should_retry(&headers), None);
    }
}
