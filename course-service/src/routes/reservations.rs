//! Reservations: the seat holds order-service places, confirms, cancels and releases. Every route
//! needs a `service` token and is idempotent, so callers may retry any of them.

use super::views;
use crate::{
    domain::{CourseId, HoldRequest, Reservation, ReservationId, course::parse_user_id},
    error::ApiError,
    inventory::{Inventory, InventoryError, Pending},
};
use actix_web::{HttpResponse, web};
use service_kit::Service;
use shared_types::PutReservation;

type ReservationPath = web::Path<(CourseId, ReservationId)>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // One scope, matched once, with static inner paths: this is the hot path of the service.
    cfg.service(
        web::scope("/api/courses/{course_id}/reservations/{reservation_id}")
            .service(web::resource("").put(hold).get(read))
            .service(web::resource("/confirm").post(confirm))
            .service(web::resource("/cancel").post(cancel))
            .service(web::resource("/release").post(release)),
    );
}

/// 201 when this call created the hold, 200 when it replays a stored one.
async fn hold(
    _: Service,
    inventory: web::Data<Inventory>,
    path: ReservationPath,
    body: web::Json<PutReservation>,
) -> Result<HttpResponse, ApiError> {
    let (course, id) = path.into_inner();
    let request = HoldRequest {
        student: parse_user_id(&body.student_id, "student_id")?,
        expected_price_cents: body.expected_price_cents,
    };
    let held = inventory.hold(course, id, &request)?.durable().await?;
    let mut response = if held.created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(views::reservation(course, id, &held.reservation)))
}

async fn read(
    _: Service,
    inventory: web::Data<Inventory>,
    path: ReservationPath,
) -> Result<HttpResponse, ApiError> {
    let (course, id) = path.into_inner();
    let reservation = inventory.reservation(course, id)?;
    Ok(HttpResponse::Ok().json(views::reservation(course, id, &reservation)))
}

async fn confirm(
    _: Service,
    inventory: web::Data<Inventory>,
    path: ReservationPath,
) -> Result<HttpResponse, ApiError> {
    respond(path, |c, r| inventory.confirm(c, r)).await
}

async fn cancel(
    _: Service,
    inventory: web::Data<Inventory>,
    path: ReservationPath,
) -> Result<HttpResponse, ApiError> {
    respond(path, |c, r| inventory.cancel(c, r)).await
}

async fn release(
    _: Service,
    inventory: web::Data<Inventory>,
    path: ReservationPath,
) -> Result<HttpResponse, ApiError> {
    respond(path, |c, r| inventory.release(c, r)).await
}

/// Runs a state change and answers with the reservation once the change is durable.
async fn respond(
    path: ReservationPath,
    op: impl FnOnce(CourseId, ReservationId) -> Result<Pending<Reservation>, InventoryError>,
) -> Result<HttpResponse, ApiError> {
    let (course, id) = path.into_inner();
    let reservation = op(course, id)?.durable().await?;
    Ok(HttpResponse::Ok().json(views::reservation(course, id, &reservation)))
}
