//! Stripe's webhook deliveries: checking the `Stripe-Signature` header, then reading the event.
//!
//! The header is `t=<unix seconds>,v1=<hex>[,v1=<hex>...]` (other schemes such as `v0` may be
//! present and are ignored). Each `v1` is HMAC-SHA256, keyed with the endpoint's whole signing
//! secret (`whsec_...`, as given), over `<t>.<raw body>`. One matching `v1` is enough: Stripe
//! sends several while a rolled secret is still valid. The body must be the bytes as received,
//! before any JSON parsing. A correctly signed delivery whose `t` lies more than the tolerance
//! away from now (either way) is refused as stale, so a captured delivery cannot be replayed
//! later.
//!
//! [`verify_any`] accepts any of several secrets, for an endpoint whose secret is being rotated
//! on our side.

use crate::domain::payment::Session;
use crate::payment_client::stripe::wire::WireSession;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header Stripe signs deliveries in.
pub const SIGNATURE_HEADER: &str = "stripe-signature";

/// How far (seconds) a delivery's timestamp may lie from now: Stripe's libraries' default.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a delivery was not accepted as Stripe's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header is not `t=<unix>,v1=<hex>...`")]
    Malformed,
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error("no v1 signature matches the payload")]
    Mismatch,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
}

/// Checks a delivery signed with `secret`; answers its timestamp `t`.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secret: &str,
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    verify_any(header, payload, &[secret], now_unix, tolerance_secs)
}

/// Checks a delivery signed with any one of `secrets`; answers its timestamp `t`.
pub fn verify_any(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[&str],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(SignatureError::Missing)?;
    let (t, t_text, signatures) = parse_header(header)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let matched = secrets.iter().any(|secret| {
        let expected = sign(secret, t_text, payload);
        // Every signature is compared, in constant time, whatever matched before.
        signatures
            .iter()
            .fold(subtle::Choice::from(0), |any, sig| {
                any | expected.as_slice().ct_eq(sig)
            })
            .into()
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if now_unix.abs_diff(t) > tolerance_secs.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    Ok(t)
}

/// `t` (as a number and as sent) and the decoded `v1` signatures. A `v1` that is not hex is kept
/// as no signature at all (it can match nothing).
fn parse_header(header: &str) -> Result<(i64, &str, Vec<Vec<u8>>), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let (key, value) = item
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" if timestamp.is_some() => return Err(SignatureError::Malformed),
            "t" => {
                let t = value
                    .parse::<i64>()
                    .map_err(|_| SignatureError::Malformed)?;
                timestamp = Some((t, value));
            }
            "v1" => {
                if let Ok(sig) = hex::decode(value) {
                    signatures.push(sig);
                }
            }
            _ => {}
        }
    }
    let (t, t_text) = timestamp.ok_or(SignatureError::Malformed)?;
    Ok((t, t_text, signatures))
}

/// HMAC-SHA256 of `<t>.<payload>` under the whole secret.
fn sign(secret: &str, t: &str, payload: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.finalize().into_bytes().to_vec()
}

/// A webhook event, the parts order-service reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `evt_...`: deliveries of one event repeat it, so handling is keyed on it.
    pub id: String,
    /// `type`: `checkout.session.completed`, `checkout.session.expired`, ...
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    /// `data.object` when it is a Checkout Session.
    pub session: Option<Session>,
}

/// Why a verified payload could not be read as an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("not a Stripe event: {0}")]
    NotAnEvent(String),
    #[error("the event's checkout session is unreadable: {0}")]
    Session(String),
}

#[derive(Deserialize)]
struct WireEvent {
    id: String,
    #[serde(default)]
    object: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: WireEventData,
}

#[derive(Deserialize)]
struct WireEventData {
    object: serde_json::Value,
}

/// Reads a (verified) payload as an event; its session is read when `data.object` is one.
pub fn parse_event(payload: &[u8]) -> Result<Event, EventError> {
    let wire: WireEvent =
        serde_json::from_slice(payload).map_err(|e| EventError::NotAnEvent(e.to_string()))?;
    if let Some(object) = wire.object.as_deref().filter(|o| *o != "event") {
        return Err(EventError::NotAnEvent(format!("its object is `{object}`")));
    }
    let is_session =
        wire.data.object.get("object").and_then(|o| o.as_str()) == Some("checkout.session");
    let session = if is_session {
        let session = serde_json::from_value::<WireSession>(wire.data.object)
            .map_err(|e| EventError::Session(e.to_string()))?
            .into_session()
            .map_err(EventError::Session)?;
        Some(session)
    } else {
        None
    };
    Ok(Event {
        id: wire.id,
        kind: wire.kind,
        created: wire.created,
        session,
    })
}
