//! Courses: create, list, read, and the owner's price and capacity changes.

use super::views;
use crate::{
    domain::{NewCourse, ValidationError, course},
    error::ApiError,
    inventory::Inventory,
};
use actix_web::{HttpResponse, http::header, web};
use serde::Deserialize;
use service_kit::Instructor;
use shared_types::{CreateCourse, Page, UpdatePrice, UpdateSeats};
use uuid::Uuid;

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/courses").post(create).get(list))
        .service(web::resource("/api/courses/{course_id}").get(read))
        .service(web::resource("/api/courses/{course_id}/price").patch(set_price))
        .service(web::resource("/api/courses/{course_id}/seats").patch(set_seats));
}

async fn create(
    who: Instructor,
    inventory: web::Data<Inventory>,
    body: web::Json<CreateCourse>,
) -> Result<HttpResponse, ApiError> {
    let course = inventory
        .create_course(NewCourse::parse(body.into_inner(), &who.sub)?)
        .durable()
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/courses/{}", course.id)))
        .json(views::course(&course)))
}

/// Query of `GET /api/courses`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    instructor_id: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn list(
    inventory: web::Data<Inventory>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_size(query.limit)?;
    let after = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let (courses, more) = inventory.list_courses(query.instructor_id.as_deref(), after, limit);
    let next_cursor = more
        .then(|| courses.last().map(|c| c.id.to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(Page {
        items: courses.iter().map(views::course).collect(),
        next_cursor,
    }))
}

async fn read(
    inventory: web::Data<Inventory>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(views::course(&inventory.course(*path)?)))
}

async fn set_price(
    who: Instructor,
    inventory: web::Data<Inventory>,
    path: web::Path<Uuid>,
    body: web::Json<UpdatePrice>,
) -> Result<HttpResponse, ApiError> {
    let price = course::parse_price(body.price_cents)?;
    Ok(HttpResponse::Ok().json(views::course(
        &inventory
            .set_price(*path, &who.sub, price)?
            .durable()
            .await?,
    )))
}

async fn set_seats(
    who: Instructor,
    inventory: web::Data<Inventory>,
    path: web::Path<Uuid>,
    body: web::Json<UpdateSeats>,
) -> Result<HttpResponse, ApiError> {
    let total = course::parse_seats(body.seats_total, "seats_total")?;
    Ok(HttpResponse::Ok().json(views::course(
        &inventory
            .set_seats(*path, &who.sub, total)?
            .durable()
            .await?,
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

fn parse_cursor(cursor: &str) -> Result<Uuid, ValidationError> {
    Uuid::parse_str(cursor)
        .map_err(|_| ValidationError("cursor is not one this service issued".into()))
}
