//! Stripe's answer read into what the call learned: the answer object on a 2xx; a refusal
//! ([`PaymentError::Refused`]) on a 4xx other than 409 and 429, with Stripe's error object; an
//! unknown outcome otherwise (409, 429 and 5xx once retries are used up, an unreadable body).

use super::wire::{ErrorEnvelope, WireError};
use crate::payment_client::PaymentError;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

/// The header in which Stripe names its log entry of a request (`req_...`).
pub const STRIPE_REQUEST_ID_HEADER: &str = "request-id";

/// The answer object, or what Stripe's answer says about the call.
pub(super) async fn decode<W: DeserializeOwned>(
    response: reqwest::Response,
) -> Result<W, PaymentError> {
    let status = response.status();
    let stripe_request = response
        .headers()
        .get(STRIPE_REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let body = response.bytes().await.map_err(|e| {
        PaymentError::Unknown(format!(
            "Stripe answered {status} (request {stripe_request}) but the body was not read: {e}"
        ))
    })?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| {
            PaymentError::Unknown(format!(
                "Stripe answered {status} (request {stripe_request}) with an unreadable object: {e}"
            ))
        });
    }
    let error = serde_json::from_slice::<ErrorEnvelope>(&body)
        .map(|e| e.error)
        .unwrap_or_default();
    if status.is_client_error()
        && status != StatusCode::CONFLICT
        && status != StatusCode::TOO_MANY_REQUESTS
    {
        tracing::debug!(
            status = status.as_u16(),
            kind = error.kind.as_deref(),
            code = error.code.as_deref(),
            param = error.param.as_deref(),
            stripe_request,
            "Stripe refused"
        );
        return Err(PaymentError::Refused {
            status: status.as_u16(),
            kind: error.kind.unwrap_or_else(|| "unknown".to_owned()),
            code: error.code,
            message: error
                .message
                .unwrap_or_else(|| format!("Stripe answered {status}")),
        });
    }
    Err(PaymentError::Unknown(describe(
        status,
        &stripe_request,
        &error,
    )))
}

/// `Stripe answered 503 (request req_1): api_error/... : message`.
fn describe(status: StatusCode, stripe_request: &str, error: &WireError) -> String {
    let mut text = format!("Stripe answered {status} (request {stripe_request})");
    let kind = [error.kind.as_deref(), error.code.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
    if !kind.is_empty() {
        text.push_str(&format!(": {kind}"));
    }
    if let Some(message) = &error.message {
        text.push_str(&format!(": {message}"));
    }
    text
}
