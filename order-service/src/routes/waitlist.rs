//! The student's waitlist: join a sold-out course's waitlist, list one's entries, leave one. A
//! student sees only their own entries; anyone else's reads as absent (404). Each handler parses,
//! makes one call to [`Waitlist`] and answers.

use crate::{
    domain::{CourseId, StudentId},
    error::ApiError,
    waitlist::{Waitlist, WaitlistError},
};
use actix_web::{HttpResponse, web};
use service_kit::{Student, request::RequestId};
use shared_types::{Items, JoinWaitlist, Problem, WaitlistEntry};
use uuid::Uuid;

impl From<WaitlistError> for ApiError {
    fn from(e: WaitlistError) -> Self {
        match e {
            WaitlistError::CourseNotFound => ApiError::CourseNotFound,
            WaitlistError::SeatsAvailable => ApiError::SeatsAvailable,
            WaitlistError::AlreadyEnrolled => ApiError::AlreadyEnrolled,
            WaitlistError::EntryNotFound => ApiError::WaitlistEntryNotFound,
            WaitlistError::Unavailable => ApiError::CourseServiceUnavailable,
            WaitlistError::Storage => ApiError::Storage,
        }
    }
}

/// Join a sold-out course's waitlist (student): when a seat frees up it goes to the first
/// student waiting, as an order made for them (`order_id`), confirmed at once or awaiting its
/// payment. Joining again while waiting (or offered) answers 200 with the same entry.
#[utoipa::path(post, path = "/api/waitlist", operation_id = "join_waitlist", tag = "waitlist", request_body = JoinWaitlist, security(("bearer" = [])),
    responses(
        (status = 201, description = "`waiting`: the student is on the waitlist", body = WaitlistEntry),
        (status = 200, description = "The student's open entry for this course, unchanged", body = WaitlistEntry),
        (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a student", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`course_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`seats_available` (buy a seat instead) or `already_enrolled` (the student holds or bought a seat of this course)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`course_service_unavailable`, with `Retry-After`; or `service_unavailable`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn join(
    who: Student,
    request_id: RequestId,
    waitlist: web::Data<Waitlist>,
    body: web::Json<JoinWaitlist>,
) -> Result<HttpResponse, ApiError> {
    let (student, course) = (StudentId::new(who.sub), CourseId::from_uuid(body.course_id));
    let (entry, created) = waitlist.join(&student, course, request_id.as_str()).await?;
    let mut answer = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(answer.json(entry))
}

/// List the caller's waitlist entries, oldest first (student): waiting ones with their
/// `position`, offered ones with the `order_id` made for the offer, and those that ended.
#[utoipa::path(get, path = "/api/waitlist", operation_id = "list_waitlist_entries", tag = "waitlist", security(("bearer" = [])),
    responses(
        (status = 200, body = Items<WaitlistEntry>),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a student", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`course_service_unavailable`, with `Retry-After`; or `service_unavailable`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    who: Student,
    request_id: RequestId,
    waitlist: web::Data<Waitlist>,
) -> Result<HttpResponse, ApiError> {
    let student = StudentId::new(who.sub);
    let items = waitlist.entries(&student, request_id.as_str()).await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// Leave a waitlist (student): `left`; again: 200. Leaving while offered gives the offer up: its
/// seat passes to the next student and the order made for it is cancelled (its checkout closed).
/// An entry that ended already (`enrolled`, `lapsed`) answers 200 unchanged.
#[utoipa::path(delete, path = "/api/waitlist/{entry_id}", operation_id = "leave_waitlist", tag = "waitlist", params(("entry_id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, description = "`left`, or the entry unchanged when it had ended", body = WaitlistEntry),
        (status = 400, description = "`validation_failed`: not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a student", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`waitlist_entry_not_found` (also another student's entry)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`course_service_unavailable`, with `Retry-After`; or `service_unavailable`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn leave(
    who: Student,
    request_id: RequestId,
    waitlist: web::Data<Waitlist>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let student = StudentId::new(who.sub);
    let entry = waitlist.leave(&student, *path, request_id.as_str()).await?;
    Ok(HttpResponse::Ok().json(entry))
}
