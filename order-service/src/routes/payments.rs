//! The payment provider's webhook: `POST /api/payments/stripe/webhook`. The handler checks the
//! `Stripe-Signature` over the raw body, reads the event, and hands it to the workflow, which
//! applies it durably before the 200 (a duplicate or an event type that changes nothing is 200
//! too, so the provider stops resending it). A bad signature changes nothing and answers 400
//! `invalid_signature`.

use crate::{
    error::ApiError,
    payment_client::signature::{self, Event},
    workflow::{EventApplied, Workflow},
};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use service_kit::{Secret, request::RequestId};
use shared_types::Problem;
use std::sync::Arc;

/// Where Stripe delivers its events (the endpoint to register in Stripe's dashboard).
pub const STRIPE_WEBHOOK_PATH: &str = "/api/payments/stripe/webhook";

/// What the webhook route needs besides the workflow.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// `STRIPE_WEBHOOK_SECRET`.
    pub secret: Secret,
    pub clock: Arc<dyn crate::clock::Clock>,
}

/// Receive an event from Stripe (signed with `STRIPE_WEBHOOK_SECRET`).
///
/// Enable `checkout.session.completed`, `checkout.session.async_payment_succeeded` and
/// `checkout.session.expired` for this endpoint; other types are acknowledged and ignored.
#[utoipa::path(post, path = "/api/payments/stripe/webhook", operation_id = "stripe_webhook", tag = "payments",
    params(("Stripe-Signature" = String, Header, description = "`t=<unix>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">`; several `v1` may appear",
        min_length = 1, pattern = r"^t=[0-9]+(,v[01]=[0-9a-f]+)+$")),
    request_body(content = Object, description = "A Stripe Event object", content_type = "application/json"),
    responses(
        (status = 200, description = "Applied durably, a duplicate, or a type this service ignores", body = Object),
        (status = 400, description = "`invalid_signature`: missing, wrong, or more than 300 s old; or `validation_failed`: not an event", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: payments are not enabled (`PAYMENT_PROVIDER=none`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`: not stored; the provider sends it again", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn stripe_webhook(
    request: HttpRequest,
    body: web::Bytes,
    request_id: RequestId,
    workflow: web::Data<Workflow>,
    webhook: Option<web::Data<Webhook>>,
) -> Result<HttpResponse, ApiError> {
    let header = request
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    if header.is_none_or(|h| h.trim().is_empty()) {
        workflow.payment_metrics().webhook_rejected.inc();
        return Err(ApiError::InvalidSignature(
            "the Stripe-Signature header is missing".into(),
        ));
    }
    let Some(webhook) = webhook else {
        return Err(ApiError::NotEnabled);
    };
    let now = webhook.clock.now().timestamp();
    if let Err(e) = signature::verify(
        header,
        &body,
        webhook.secret.expose(),
        now,
        signature::TOLERANCE_SECS,
    ) {
        workflow.payment_metrics().webhook_rejected.inc();
        tracing::warn!(error = %e, "webhook refused");
        return Err(ApiError::InvalidSignature(e.to_string()));
    }
    let event = signature::parse_event(&body).map_err(|e| ApiError::InvalidEvent(e.to_string()))?;
    let applied = apply(&workflow, &event, request_id.as_str())
        .await
        .map_err(|_| ApiError::Storage)?;
    tracing::info!(event = %event.id, kind = %event.kind, outcome = ?applied, "webhook event");
    let outcome = match applied {
        EventApplied::Applied => "applied",
        EventApplied::Duplicate => "duplicate",
        EventApplied::Ignored => "ignored",
    };
    Ok(HttpResponse::Ok().json(json!({"received": true, "outcome": outcome})))
}

async fn apply(
    workflow: &Workflow,
    event: &Event,
    request_id: &str,
) -> Result<EventApplied, crate::repo::RepoError> {
    let Some(session) = &event.session else {
        return Ok(EventApplied::Ignored);
    };
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded"
            if session.is_paid() =>
        {
            workflow
                .payment_arrived(&event.id, session, request_id)
                .await
        }
        "checkout.session.expired" => {
            workflow
                .checkout_expired(&event.id, session, request_id)
                .await
        }
        _ => Ok(EventApplied::Ignored),
    }
}

/// Where the checkout sends a student after paying (the default `CHECKOUT_SUCCESS_URL`): a page
/// saying the payment is being confirmed. The order itself says when it is (`GET
/// /api/orders/{id}`); a storefront of your own takes this page's place.
#[utoipa::path(get, path = "/checkout/complete", operation_id = "checkout_complete", tag = "payments",
    params(("session_id" = Option<String>, Query, description = "The checkout session, as the provider fills it in")),
    responses((status = 200, description = "A page for the student", content_type = "text/html")))]
pub(crate) async fn checkout_complete() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(COMPLETE_PAGE)
}

const COMPLETE_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Payment received</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body><h1>Payment received</h1>
<p>Thank you. Your seat is confirmed in a moment: your order shows <code>confirmed</code> once it is.</p>
<p>You can close this page.</p></body></html>
"#;
