//! order-service's OpenAPI 3.1 document, generated from the handlers' annotations and the wire
//! types, and served at `/openapi.json` (with a docs page at `/docs/`).

use super::{health, orders, payments, waitlist};
use actix_web::{HttpResponse, web};
use service_kit::endpoints::{BearerAuth, CommonResponses, OpenApiJson};
use shared_types::{
    CreateOrder, ErrorCode, Health, Items, JoinWaitlist, Order, OrderPayment, OrderStatus, Page,
    PaymentStatus, Problem, WaitlistEntry, WaitlistStatus,
};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "order-service",
        description = "Students buy course seats: each order runs record the order -> hold a seat \
            -> (pay) -> confirm it (the seat is held and confirmed at course-service; with \
            `PAYMENT_PROVIDER=stripe`, paid through a Stripe Checkout Session), safely under \
            retries and faults. A student may wait for a seat of a sold-out course: a seat that \
            frees up is offered to the first student waiting and becomes their order. Errors are \
            `application/problem+json` with a stable `code`; every route may also answer 400 \
            `validation_failed`, 404 `not_found`, 405 `method_not_allowed`, 408 `request_timeout`, \
            413 `payload_too_large`, 415 `unsupported_media_type` and 429 `rate_limited`.",
    ),
    paths(orders::create, orders::list, orders::read, orders::cancel, waitlist::join, waitlist::list, waitlist::leave, payments::stripe_webhook, payments::checkout_complete, health::live, health::ready, health::api_health, document, metrics),
    components(schemas(Order, OrderStatus, OrderPayment, PaymentStatus, CreateOrder, Page<Order>, JoinWaitlist, WaitlistEntry, WaitlistStatus, Items<WaitlistEntry>, Problem, ErrorCode, Health)),
    modifiers(&BearerAuth, &CommonResponses),
    tags(
        (name = "orders", description = "A student's orders"),
        (name = "waitlist", description = "A student's places on the waitlists of sold-out courses"),
        (name = "payments", description = "The payment provider's notifications"),
        (name = "health", description = "Probes"),
        (name = "meta", description = "This document and the metrics"),
    )
)]
pub struct ApiDoc;

/// The document, serialized once.
pub fn json() -> OpenApiJson {
    OpenApiJson::new(&ApiDoc::openapi())
}

/// The OpenAPI 3.1 document of this service (public).
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi_document", tag = "meta", responses((status = 200, description = "This document", content_type = "application/json")))]
pub(crate) async fn document(doc: web::Data<OpenApiJson>) -> HttpResponse {
    service_kit::endpoints::openapi_json(doc).await
}

/// Prometheus metrics, OpenMetrics text format (public).
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "meta", responses((status = 200, description = "Request counts and latencies, orders by outcome, course-service calls, retries, compensations, reconciler backlog", content_type = "application/openmetrics-text")))]
pub(crate) async fn metrics(
    endpoint: web::Data<service_kit::metrics::MetricsEndpoint>,
) -> HttpResponse {
    service_kit::metrics::metrics(endpoint).await
}
