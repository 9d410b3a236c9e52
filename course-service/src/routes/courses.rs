//! Courses: create, list, read, and the owner's price and capacity changes.

use super::views;
use crate::{
    domain::{CourseId, NewCourse, ValidationError, course},
    error::ApiError,
    store::SeatStore,
};
use actix_web::{HttpResponse, http::header, web};
use serde::Deserialize;
use service_kit::Instructor;
use shared_types::{Course, CourseSales, CreateCourse, Page, Problem, UpdatePrice, UpdateSeats};
use utoipa::IntoParams;

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// Create a course (instructor). The caller becomes its instructor.
#[utoipa::path(post, path = "/api/courses", operation_id = "create_course", tag = "courses", request_body = CreateCourse,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `Location` names it", body = Course),
        (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an instructor", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create(
    who: Instructor,
    store: web::Data<dyn SeatStore>,
    body: web::Json<CreateCourse>,
) -> Result<HttpResponse, ApiError> {
    let course = store
        .create_course(NewCourse::parse(body.into_inner(), &who.sub)?)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/courses/{}", course.id)))
        .json(views::course(&course)))
}

/// Query of `GET /api/courses`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only this instructor's courses (1..=255 printable characters).
    #[param(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]+$"
    )]
    instructor_id: Option<String>,
    /// Page size, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page (an id).
    #[param(value_type = Option<Uuid>, format = Uuid)]
    cursor: Option<String>,
}

/// List courses in creation order, a page at a time (public).
#[utoipa::path(get, path = "/api/courses", operation_id = "list_courses", tag = "courses", params(ListQuery),
    responses(
        (status = 200, description = "A page of courses", body = Page<Course>),
        (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    store: web::Data<dyn SeatStore>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_size(query.limit)?;
    let after = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let instructor = query
        .instructor_id
        .as_deref()
        .map(|id| course::parse_user_id(id, "instructor_id"))
        .transpose()?;
    let (courses, more) = store
        .list_courses(instructor.as_deref(), after, limit)
        .await?;
    let next_cursor = more
        .then(|| courses.last().map(|c| c.id.to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(Page {
        items: courses.iter().map(views::course).collect(),
        next_cursor,
    }))
}

/// Read one course (public).
#[utoipa::path(get, path = "/api/courses/{course_id}", operation_id = "get_course", tag = "courses", params(("course_id" = Uuid, Path)),
    responses(
        (status = 200, body = Course),
        (status = 400, description = "`validation_failed`: not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`course_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn read(
    store: web::Data<dyn SeatStore>,
    path: web::Path<CourseId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(views::course(&store.course(*path).await?)))
}

/// The course's sales (its instructor): seats sold and the money they brought in, each seat at
/// the price it was held at.
#[utoipa::path(get, path = "/api/courses/{course_id}/sales", operation_id = "course_sales", tag = "courses", params(("course_id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CourseSales),
        (status = 400, description = "`validation_failed`: not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not this course's instructor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`course_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn sales(
    who: Instructor,
    store: web::Data<dyn SeatStore>,
    path: web::Path<CourseId>,
) -> Result<HttpResponse, ApiError> {
    let id = *path;
    let sales = store.sales(id).await?.for_owner(&who.sub)?;
    Ok(HttpResponse::Ok().json(CourseSales {
        course_id: id.into(),
        seats_sold: sales.seats_sold,
        revenue_cents: sales.revenue_cents,
        currency: sales.currency.as_str().to_owned(),
    }))
}

/// Change the price (the course's instructor). Holds already made keep their price.
#[utoipa::path(patch, path = "/api/courses/{course_id}/price", operation_id = "set_course_price", tag = "courses", params(("course_id" = Uuid, Path)),
    request_body = UpdatePrice, security(("bearer" = [])),
    responses(
        (status = 200, body = Course),
        (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not this course's instructor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`course_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn set_price(
    who: Instructor,
    store: web::Data<dyn SeatStore>,
    path: web::Path<CourseId>,
    body: web::Json<UpdatePrice>,
) -> Result<HttpResponse, ApiError> {
    let price = course::parse_price(body.price_cents)?;
    Ok(HttpResponse::Ok().json(views::course(
        &store.set_price(*path, &who.sub, price).await?,
    )))
}

/// Change the capacity (the course's instructor); never below the seats held and sold.
#[utoipa::path(patch, path = "/api/courses/{course_id}/seats", operation_id = "set_course_seats", tag = "courses", params(("course_id" = Uuid, Path)),
    request_body = UpdateSeats, security(("bearer" = [])),
    responses(
        (status = 200, body = Course),
        (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`course_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`seats_below_committed`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn set_seats(
    who: Instructor,
    store: web::Data<dyn SeatStore>,
    path: web::Path<CourseId>,
    body: web::Json<UpdateSeats>,
) -> Result<HttpResponse, ApiError> {
    let total = course::parse_seats(body.seats_total, "seats_total")?;
    Ok(HttpResponse::Ok().json(views::course(
        &store.set_seats(*path, &who.sub, total).await?,
    )))
}

fn page_size(limit: Option<i64>) -> Result<usize, ValidationError> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE as i64).contains(&n) => Ok(n as usize),
        Some(_) => Err(ValidationError(format!(
            "limit must be 1..={MAX_PAGE_SIZE}"
        ))),
    }
}

fn parse_cursor(cursor: &str) -> Result<CourseId, ValidationError> {
    cursor
        .parse::<CourseId>()
        .map_err(|_| ValidationError("cursor is not one this service issued".into()))
}
