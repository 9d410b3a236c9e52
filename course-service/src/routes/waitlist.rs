//! Waitlists, for services (order-service joins and leaves them for its students): join a
//! course's waitlist, read an entry or a student's entries, leave. Each handler parses, makes one
//! store call and answers.

use super::views;
use crate::{
    domain::{CourseId, EntryId, course::parse_user_id},
    error::ApiError,
    store::SeatStore,
};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use service_kit::Service;
use shared_types::{Items, Problem, WaitEntry, WaitFor};
use utoipa::IntoParams;

/// Put a student on a sold-out course's waitlist (service). 201 with the new entry; 200 with the
/// student's open (waiting or offered) entry when there is one.
#[utoipa::path(post, path = "/api/courses/{course_id}/waitlist", operation_id = "join_waitlist", tag = "waitlist",
    params(("course_id" = Uuid, Path)), request_body = WaitFor, security(("bearer" = [])),
    responses(
        (status = 201, description = "Waiting", body = WaitEntry),
        (status = 200, description = "The student's open entry", body = WaitEntry),
        (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a service token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`course_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`seats_available` (buy instead) or `already_enrolled` (the student holds or bought a seat)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn join(
    _: Service,
    store: web::Data<dyn SeatStore>,
    path: web::Path<CourseId>,
    body: web::Json<WaitFor>,
) -> Result<HttpResponse, ApiError> {
    let student = parse_user_id(&body.student_id, "student_id")?;
    let (entry, created) = store.join_waitlist(path.into_inner(), &student).await?;
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(views::wait_entry(&entry)))
}

/// Query of `GET /api/waitlist`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct OfStudent {
    /// Whose entries.
    #[param(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$"
    )]
    student_id: String,
}

/// Every waitlist entry of a student, any status, oldest first (service).
#[utoipa::path(get, path = "/api/waitlist", operation_id = "list_waitlist_entries", tag = "waitlist", params(OfStudent), security(("bearer" = [])),
    responses(
        (status = 200, body = Items<WaitEntry>),
        (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a service token", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn of_student(
    _: Service,
    store: web::Data<dyn SeatStore>,
    query: web::Query<OfStudent>,
) -> Result<HttpResponse, ApiError> {
    let student = parse_user_id(&query.student_id, "student_id")?;
    let entries = store.waitlist_of(&student).await?;
    Ok(HttpResponse::Ok().json(Items {
        items: entries.iter().map(views::wait_entry).collect(),
    }))
}

/// Read one waitlist entry (service).
#[utoipa::path(get, path = "/api/waitlist/entries/{entry_id}", operation_id = "get_waitlist_entry", tag = "waitlist",
    params(("entry_id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = WaitEntry),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a service token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`waitlist_entry_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn read(
    _: Service,
    store: web::Data<dyn SeatStore>,
    path: web::Path<EntryId>,
) -> Result<HttpResponse, ApiError> {
    let entry = store.waitlist_entry(path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(views::wait_entry(&entry)))
}

/// Take a student's entry off its waitlist (service): `left`. An offered seat is given up (its
/// hold cancelled) and passes to the next student; an entry that already ended answers 200 as it
/// stands.
#[utoipa::path(post, path = "/api/waitlist/entries/{entry_id}/leave", operation_id = "leave_waitlist", tag = "waitlist",
    params(("entry_id" = Uuid, Path)), request_body = WaitFor, security(("bearer" = [])),
    responses(
        (status = 200, body = WaitEntry),
        (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a service token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`waitlist_entry_not_found`: no such entry, or another student's", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn leave(
    _: Service,
    store: web::Data<dyn SeatStore>,
    path: web::Path<EntryId>,
    body: web::Json<WaitFor>,
) -> Result<HttpResponse, ApiError> {
    let student = parse_user_id(&body.student_id, "student_id")?;
    let entry = store.leave_waitlist(path.into_inner(), &student).await?;
    Ok(HttpResponse::Ok().json(views::wait_entry(&entry)))
}
