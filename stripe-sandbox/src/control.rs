//! Test controls under `/_sandbox/` (no key needed; not part of Stripe's API): inject faults into
//! session creation, hold, drop, duplicate or delay webhook deliveries and release held ones out
//! of order, inspect and resend events, pay a session without a browser, move the sandbox clock
//! forward, and reset everything.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::form::Params;
use crate::shared::Shared;
use crate::store::{CreateFault, PayOutcome, WebhookMode};

/// Bounds on what a control may ask for.
const MAX_HANG_MS: u64 = 600_000;
const MAX_DELAY_MS: u64 = 600_000;
const MAX_DUPLICATE: u32 = 10;
const MAX_ADVANCE_SECONDS: i64 = 30 * 24 * 60 * 60;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/_sandbox/faults", web::get().to(get_faults))
        .route("/_sandbox/faults", web::post().to(set_faults))
        .route("/_sandbox/webhooks", web::get().to(get_webhooks))
        .route("/_sandbox/webhooks", web::post().to(set_webhooks))
        .route("/_sandbox/webhooks/release", web::post().to(release))
        .route("/_sandbox/events", web::get().to(list_events))
        .route("/_sandbox/events/{id}", web::get().to(get_event))
        .route("/_sandbox/events/{id}/resend", web::post().to(resend))
        .route("/_sandbox/checkout/{id}/pay", web::post().to(pay))
        .route("/_sandbox/clock", web::post().to(advance_clock))
        .route("/_sandbox/reset", web::post().to(reset));
}

fn reply(result: Result<Value, ApiError>) -> HttpResponse {
    match result {
        Ok(value) => HttpResponse::Ok().json(value),
        Err(e) => HttpResponse::build(e.status).json(e.body()),
    }
}

/// A JSON body; an empty one reads as `{}`.
fn read<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("Invalid JSON body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Faults {
    create_session: String,
    hang_ms: Option<u64>,
}

fn faults_view(fault: CreateFault) -> Value {
    match fault {
        CreateFault::None => json!({"create_session": "none"}),
        CreateFault::Error500 => json!({"create_session": "error500"}),
        CreateFault::Hang(d) => json!({"create_session": "hang", "hang_ms": d.as_millis()}),
    }
}

async fn get_faults(shared: web::Data<Shared>) -> HttpResponse {
    reply(Ok(faults_view(shared.state.lock().create_fault)))
}

async fn set_faults(body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    reply(read::<Faults>(&body).and_then(|f| {
        let fault = match f.create_session.as_str() {
            "none" => CreateFault::None,
            "error500" => CreateFault::Error500,
            "hang" => {
                let ms = f.hang_ms.unwrap_or(30_000).min(MAX_HANG_MS);
                CreateFault::Hang(Duration::from_millis(ms))
            }
            other => {
                return Err(ApiError::invalid_param(
                    "create_session",
                    format!("create_session must be none, error500 or hang (got {other})"),
                ));
            }
        };
        shared.state.lock().create_fault = fault;
        tracing::info!(?fault, "session creation fault set");
        Ok(faults_view(fault))
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Webhooks {
    mode: WebhookMode,
    #[serde(default)]
    duplicate: u32,
    #[serde(default)]
    delay_ms: u64,
    urls: Option<Vec<String>>,
}

fn webhooks_view(shared: &Shared) -> Value {
    let state = shared.state.lock();
    let w = &state.webhooks;
    json!({
        "mode": w.mode,
        "duplicate": w.duplicate,
        "delay_ms": w.delay.as_millis(),
        "urls": w.urls,
        "held": w.held.len(),
    })
}

async fn get_webhooks(shared: web::Data<Shared>) -> HttpResponse {
    reply(Ok(webhooks_view(&shared)))
}

/// Replaces the delivery settings: `mode`, `duplicate` (0 unless given), `delay_ms` (0 unless
/// given), and the endpoints when `urls` is given.
async fn set_webhooks(body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    reply(read::<Webhooks>(&body).map(|w| {
        {
            let mut state = shared.state.lock();
            let settings = &mut state.webhooks;
            settings.mode = w.mode;
            settings.duplicate = w.duplicate.min(MAX_DUPLICATE);
            settings.delay = Duration::from_millis(w.delay_ms.min(MAX_DELAY_MS));
            if let Some(urls) = w.urls {
                settings.urls = urls;
            }
        }
        webhooks_view(&shared)
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Release {
    #[serde(default)]
    order: Option<String>,
}

async fn release(body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let shared = shared.into_inner();
    reply(read::<Release>(&body).and_then(|r| {
        let reverse = match r.order.as_deref() {
            None | Some("fifo") => false,
            Some("reverse") => true,
            Some(other) => {
                return Err(ApiError::invalid_param(
                    "order",
                    format!("order must be fifo or reverse (got {other})"),
                ));
            }
        };
        let released = shared.change(|state| state.release(reverse));
        Ok(json!({ "released": released }))
    }))
}

/// `GET /_sandbox/events?type=&limit=`: events oldest first (the last `limit`, default 1000).
async fn list_events(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    reply((|| {
        let mut p = Params::parse(req.query_string().as_bytes())?;
        let kind = p.take(&["type"]).filter(|t| !t.is_empty());
        let limit = p.take_int(&["limit"])?.unwrap_or(1000).clamp(1, 100_000) as usize;
        p.finish()?;
        let state = shared.state.lock();
        let matching: Vec<&_> = state
            .events
            .values()
            .filter(|e| kind.as_ref().is_none_or(|k| &e.kind == k))
            .collect();
        let skip = matching.len().saturating_sub(limit);
        let data: Vec<Value> = matching[skip..].iter().map(|e| e.view()).collect();
        Ok(json!({ "object": "list", "data": data, "has_more": skip > 0 }))
    })())
}

async fn get_event(path: web::Path<String>, shared: web::Data<Shared>) -> HttpResponse {
    let state = shared.state.lock();
    reply(
        state
            .events
            .get(path.as_str())
            .map(|e| e.view())
            .ok_or_else(|| ApiError::no_such("event", &path, "id")),
    )
}

/// Sends one event again to every endpoint, whatever the mode.
async fn resend(path: web::Path<String>, shared: web::Data<Shared>) -> HttpResponse {
    let shared: Arc<Shared> = shared.into_inner();
    let queued = shared.change(|state| state.queue(&path, 1, Duration::ZERO));
    if !queued {
        return reply(Err(ApiError::no_such("event", &path, "id")));
    }
    let state = shared.state.lock();
    reply(Ok(state
        .events
        .get(path.as_str())
        .map(|e| e.view())
        .unwrap_or_default()))
}

/// Pays like the hosted page's button and answers the session.
async fn pay(path: web::Path<String>, shared: web::Data<Shared>) -> HttpResponse {
    let shared = shared.into_inner();
    let now = shared.now();
    let outcome = shared.change(|state| state.pay(&path, now));
    let result = match outcome {
        PayOutcome::Paid(s) | PayOutcome::AlreadyPaid(s) => serde_json::to_value(s),
        PayOutcome::Expired(s) => {
            let e = ApiError::invalid(format!("Checkout Session {} has expired.", s.id))
                .with_code("checkout_session_expired");
            return HttpResponse::build(StatusCode::BAD_REQUEST).json(e.body());
        }
        PayOutcome::Missing => {
            return reply(Err(ApiError::no_such("checkout.session", &path, "session")));
        }
    };
    reply(result.map_err(|_| ApiError::server_error()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Clock {
    advance_seconds: i64,
}

/// Moves the sandbox clock forward, so sessions lapse without waiting.
async fn advance_clock(body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    reply(read::<Clock>(&body).and_then(|c| {
        if !(0..=MAX_ADVANCE_SECONDS).contains(&c.advance_seconds) {
            return Err(ApiError::invalid_param(
                "advance_seconds",
                format!("advance_seconds must be between 0 and {MAX_ADVANCE_SECONDS}"),
            ));
        }
        let offset = shared.advance_clock(c.advance_seconds);
        Ok(json!({ "now": shared.now(), "offset_seconds": offset }))
    }))
}

/// Forgets every session, refund, event, key and fault, stops pending deliveries, and puts the
/// clock and the webhook mode back; the endpoints stay.
async fn reset(shared: web::Data<Shared>) -> HttpResponse {
    shared.hub.reset();
    shared.state.lock().reset();
    shared.reset_clock();
    tracing::info!("sandbox reset");
    reply(Ok(json!({ "reset": true })))
}
