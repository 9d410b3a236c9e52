//! course-service's OpenAPI 3.1 document, generated from the handlers' annotations and the wire
//! types, and served at `/openapi.json` (with a docs page at `/docs/`).

use super::{courses, events, health, live, reservations, waitlist};
use actix_web::{HttpResponse, web};
use service_kit::endpoints::{BearerAuth, CommonResponses, OpenApiJson};
use shared_types::{
    Course, CourseSales, CreateCourse, ErrorCode, Event, EventCounts, Health, Items, Page, Problem,
    PutReservation, Reservation, UpdatePrice, UpdateSeats, WaitEntry, WaitFor, WaitlistStatus,
};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "course-service",
        description = "Courses, their seats, and holds on those seats that expire. Errors are \
            `application/problem+json` with a stable `code`; every route may also answer 400 \
            `validation_failed`, 404 `not_found`, 405 `method_not_allowed`, 408 `request_timeout`, \
            413 `payload_too_large`, 415 `unsupported_media_type` and 429 `rate_limited`.",
    ),
    paths(
        reservations::hold, reservations::read, reservations::confirm, reservations::cancel, reservations::release,
        courses::create, courses::list, courses::read, live::stream, courses::sales, courses::set_price, courses::set_seats,
        waitlist::join, waitlist::of_student, waitlist::read, waitlist::leave,
        events::list, health::live, health::ready, health::api_health, document, metrics,
    ),
    components(schemas(Course, CourseSales, CreateCourse, UpdatePrice, UpdateSeats, Reservation, PutReservation, Page<Course>, live::LiveEvent, Event, EventCounts, Page<Event>, WaitEntry, WaitFor, WaitlistStatus, Items<WaitEntry>, Problem, ErrorCode, Health)),
    modifiers(&BearerAuth, &CommonResponses),
    tags(
        (name = "courses", description = "Courses and their capacity"),
        (name = "reservations", description = "Seat holds, for order-service (service tokens)"),
        (name = "waitlist", description = "Waitlists of sold-out courses and the offers freed seats become, for order-service (service tokens)"),
        (name = "events", description = "The feed of every change, for services that follow it (service tokens)"),
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
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "meta", responses((status = 200, description = "Request counts and latencies, seat totals, reservation transitions, expiry sweeps", content_type = "application/openmetrics-text")))]
pub(crate) async fn metrics(
    endpoint: web::Data<service_kit::metrics::MetricsEndpoint>,
) -> HttpResponse {
    service_kit::metrics::metrics(endpoint).await
}
