//! Reservations: the seat holds order-service places, confirms, cancels and releases. Every route
//! needs a `service` token and is idempotent, so callers may retry any of them.

use super::views;
use crate::{
    domain::{CourseId, HoldRequest, Reservation, ReservationId, course::parse_user_id},
    error::ApiError,
    store::{SeatStore, StoreError},
};
use actix_web::{HttpResponse, web};
use service_kit::Service;
use shared_types::{Problem, PutReservation};

type ReservationPath = web::Path<(CourseId, ReservationId)>;

/// The path every reservation route is under.
pub const SCOPE: &str = "/api/courses/{course_id}/reservations/{reservation_id}";

/// Hold a seat under the caller's reservation id (service). 201 when this call created the hold,
/// 200 when the same id and body replay the stored reservation, whatever its status now.
#[utoipa::path(put, path = "/api/courses/{course_id}/reservations/{reservation_id}", operation_id = "hold_seat", tag = "reservations",
    params(("course_id" = Uuid, Path), ("reservation_id" = Uuid, Path, description = "Chosen by the caller; reuse it on every retry")),
    request_body = PutReservation, security(("bearer" = [])),
    responses(
        (status = 201, description = "Held", body = shared_types::Reservation),
        (status = 200, description = "Replay of the stored reservation", body = shared_types::Reservation),
        (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a service token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`course_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`sold_out`, `price_changed` (with `price_cents`), `already_holding`, `hold_limit_reached`, `idempotency_conflict` or `reservation_cancelled`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn hold(
    _: Service,
    store: web::Data<dyn SeatStore>,
    path: ReservationPath,
    body: web::Json<PutReservation>,
) -> Result<HttpResponse, ApiError> {
    let (course, id) = path.into_inner();
    let request = HoldRequest {
        student: parse_user_id(&body.student_id, "student_id")?,
        expected_price_cents: body.expected_price_cents,
    };
    let held = store.hold(course, id, &request).await?;
    let mut response = if held.created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(views::reservation(course, id, &held.reservation)))
}

/// Read a reservation (service). A hold past its time reads as `expired`.
#[utoipa::path(get, path = "/api/courses/{course_id}/reservations/{reservation_id}", operation_id = "get_reservation", tag = "reservations",
    params(("course_id" = Uuid, Path), ("reservation_id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = shared_types::Reservation),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a service token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`reservation_not_found` or `course_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn read(
    _: Service,
    store: web::Data<dyn SeatStore>,
    path: ReservationPath,
) -> Result<HttpResponse, ApiError> {
    let (course, id) = path.into_inner();
    let reservation = store.reservation(course, id).await?;
    Ok(HttpResponse::Ok().json(views::reservation(course, id, &reservation)))
}

/// Confirm a hold (service); confirming again answers 200.
#[utoipa::path(post, path = "/api/courses/{course_id}/reservations/{reservation_id}/confirm", operation_id = "confirm_reservation", tag = "reservations",
    params(("course_id" = Uuid, Path), ("reservation_id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = shared_types::Reservation),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a service token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`reservation_not_found` or `course_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reservation_cancelled`", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`reservation_expired`: the hold's time is up", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn confirm(
    _: Service,
    store: web::Data<dyn SeatStore>,
    path: ReservationPath,
) -> Result<HttpResponse, ApiError> {
    let (course, id) = path.into_inner();
    respond(course, id, store.confirm(course, id).await)
}

/// Cancel a hold (service) and free its seat; again: 200. An unknown id is recorded as cancelled, so that a late hold under it cannot take a seat; an expired hold answers 200 unchanged.
#[utoipa::path(post, path = "/api/courses/{course_id}/reservations/{reservation_id}/cancel", operation_id = "cancel_reservation", tag = "reservations",
    params(("course_id" = Uuid, Path), ("reservation_id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = shared_types::Reservation),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a service token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`course_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reservation_confirmed`: release it instead", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn cancel(
    _: Service,
    store: web::Data<dyn SeatStore>,
    path: ReservationPath,
) -> Result<HttpResponse, ApiError> {
    let (course, id) = path.into_inner();
    respond(course, id, store.cancel(course, id).await)
}

/// Give a confirmed seat back (service), when its order is cancelled; again: 200.
#[utoipa::path(post, path = "/api/courses/{course_id}/reservations/{reservation_id}/release", operation_id = "release_reservation", tag = "reservations",
    params(("course_id" = Uuid, Path), ("reservation_id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = shared_types::Reservation),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a service token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`reservation_not_found` or `course_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reservation_not_confirmed`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn release(
    _: Service,
    store: web::Data<dyn SeatStore>,
    path: ReservationPath,
) -> Result<HttpResponse, ApiError> {
    let (course, id) = path.into_inner();
    respond(course, id, store.release(course, id).await)
}

/// Answers with the reservation a state change left.
fn respond(
    course: CourseId,
    id: ReservationId,
    changed: Result<Reservation, StoreError>,
) -> Result<HttpResponse, ApiError> {
    let reservation = changed?;
    Ok(HttpResponse::Ok().json(views::reservation(course, id, &reservation)))
}
