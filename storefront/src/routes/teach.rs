//! The instructor's side: their courses, a new course, one course's live view with its revenue,
//! and changing its price and capacity.

use super::{Done, REFUSED, done_notice, error_page, frame, html, redirect, signed_in, status_of};
use crate::{
    State,
    api::ApiError,
    messages,
    pages::{self, Notice, parse_money, teach::NewCourse},
    session::User,
};
use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use serde::Deserialize;
use shared_types::Role;
use uuid::Uuid;

pub(super) async fn teach_page(
    state: &State,
    user: &User,
    typed: &NewCourse,
    notice: Option<Notice>,
    status: StatusCode,
) -> HttpResponse {
    match state.api.courses(Some(&user.id), None).await {
        Ok(page) => html(
            status,
            pages::teach::page(
                &frame(state, Some(user)),
                &page.items,
                typed,
                notice.as_ref(),
            ),
        ),
        Err(e) => error_page(state, Some(user), &e),
    }
}

pub(super) async fn teach(
    state: web::Data<State>,
    req: HttpRequest,
    query: web::Query<Done>,
) -> HttpResponse {
    match signed_in(&state, &req, Role::Instructor, None) {
        Ok(user) => {
            teach_page(
                &state,
                &user,
                &NewCourse::default(),
                done_notice(&query),
                StatusCode::OK,
            )
            .await
        }
        Err(answer) => *answer,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    form_token: String,
    #[serde(flatten)]
    course: NewCourse,
}

pub(super) async fn create_course(
    state: web::Data<State>,
    req: HttpRequest,
    form: web::Form<CreateForm>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Instructor, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let typed = &form.course;
    let currency = if typed.currency.is_empty() {
        "USD"
    } else {
        typed.currency.as_str()
    };
    let refused = |text: &str| Notice::Error(text.to_owned());
    let Some(price) = parse_money(&typed.price, currency) else {
        let notice = refused("The price must be an amount such as 49 or 49.90.");
        return teach_page(&state, &user, typed, Some(notice), REFUSED).await;
    };
    let Ok(seats) = typed.seats.trim().parse::<u32>() else {
        let notice = refused("The number of seats must be a whole number.");
        return teach_page(&state, &user, typed, Some(notice), REFUSED).await;
    };
    let description = Some(typed.description.trim()).filter(|d| !d.is_empty());
    match state
        .api
        .create_course(
            &user.token,
            typed.title.trim(),
            description,
            price,
            currency,
            seats,
        )
        .await
    {
        Ok(course) => redirect(&format!("/teach/courses/{}?done=created", course.id)),
        Err(e) => {
            let notice = Notice::Error(messages::for_error(&e, currency));
            teach_page(&state, &user, typed, Some(notice), REFUSED).await
        }
    }
}

pub(super) async fn manage_page(
    state: &State,
    user: &User,
    id: Uuid,
    notice: Option<Notice>,
    status: StatusCode,
) -> HttpResponse {
    let (course, sales) = futures::join!(state.api.course(id), state.api.sales(&user.token, id));
    match course {
        Ok(course) if course.instructor_id == user.id => html(
            status,
            pages::teach::manage(
                &frame(state, Some(user)),
                &course,
                sales.ok().as_ref(),
                notice.as_ref(),
            ),
        ),
        Ok(_) => error_page(
            state,
            Some(user),
            &ApiError::Problem {
                status: 403,
                code: shared_types::ErrorCode::Forbidden,
                detail: String::new(),
                price_cents: None,
            },
        ),
        Err(e) => error_page(state, Some(user), &e),
    }
}

pub(super) async fn manage(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    query: web::Query<Done>,
) -> HttpResponse {
    match signed_in(&state, &req, Role::Instructor, None) {
        Ok(user) => manage_page(&state, &user, *path, done_notice(&query), StatusCode::OK).await,
        Err(answer) => *answer,
    }
}

/// The course's revenue as the live view shows it (JSON, for the page's script).
pub(super) async fn sales(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Instructor, None) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    match state.api.sales(&user.token, *path).await {
        Ok(sales) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({
                "seats_sold": sales.seats_sold,
                "revenue": pages::money(sales.revenue_cents, &sales.currency),
            })),
        Err(e) => HttpResponse::build(status_of(&e))
            .json(serde_json::json!({"error": messages::for_error(&e, "USD")})),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PriceForm {
    #[serde(default)]
    form_token: String,
    price: String,
}

pub(super) async fn set_price(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<PriceForm>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Instructor, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let id = *path;
    let currency = match state.api.course(id).await {
        Ok(course) => course.currency,
        Err(e) => return error_page(&state, Some(&user), &e),
    };
    let Some(price) = parse_money(&form.price, &currency) else {
        let notice = Notice::Error("The price must be an amount such as 49 or 49.90.".into());
        return manage_page(&state, &user, id, Some(notice), REFUSED).await;
    };
    match state.api.set_price(&user.token, id, price).await {
        Ok(_) => redirect(&format!("/teach/courses/{id}?done=price")),
        Err(e) => {
            let notice = Notice::Error(messages::for_error(&e, &currency));
            manage_page(&state, &user, id, Some(notice), REFUSED).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct SeatsForm {
    #[serde(default)]
    form_token: String,
    seats: String,
}

pub(super) async fn set_seats(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<SeatsForm>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Instructor, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let id = *path;
    let Ok(seats) = form.seats.trim().parse::<u32>() else {
        let notice = Notice::Error("The number of seats must be a whole number.".into());
        return manage_page(&state, &user, id, Some(notice), REFUSED).await;
    };
    match state.api.set_seats(&user.token, id, seats).await {
        Ok(_) => redirect(&format!("/teach/courses/{id}?done=seats")),
        Err(e) => {
            let notice = Notice::Error(messages::for_error(&e, "USD"));
            manage_page(&state, &user, id, Some(notice), REFUSED).await
        }
    }
}
