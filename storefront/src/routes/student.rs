//! The student's side: the catalogue, a course page, buying (or waiting), orders and payment.

use super::{Done, FormToken, REFUSED, done_notice, error_page, frame, html, redirect, signed_in};
use crate::{
    State,
    api::ApiError,
    messages,
    pages::{self, Notice, course::Standing},
    session::User,
};
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Deserialize;
use shared_types::{Course, OrderStatus, Role};
use std::collections::HashMap;
use uuid::Uuid;

pub(super) async fn catalogue(
    state: web::Data<State>,
    req: HttpRequest,
    query: web::Query<Done>,
) -> HttpResponse {
    let user = User::from_request(&req, &state.keys);
    match state.api.courses(None, query.cursor.as_deref()).await {
        Ok(page) => html(
            StatusCode::OK,
            pages::catalogue::page(
                &frame(&state, user.as_ref()),
                &page.items,
                page.next_cursor.as_deref(),
                done_notice(&query).as_ref(),
            ),
        ),
        Err(e) => error_page(&state, user.as_ref(), &e),
    }
}

/// The course page, with the notice `notice` makes of the course (read once, for the page and
/// for a message that names its price).
pub(super) async fn course_page(
    state: &State,
    user: Option<&User>,
    id: Uuid,
    notice: impl FnOnce(&Course) -> Option<Notice>,
    status: StatusCode,
) -> HttpResponse {
    let course = match state.api.course(id).await {
        Ok(course) => course,
        Err(e) => return error_page(state, user, &e),
    };
    let notice = notice(&course);
    let mut standing = Standing::default();
    if let Some(user) = user.filter(|u| u.student)
        && let Ok(entries) = state.api.waitlist(&user.token).await
    {
        standing.waiting = entries
            .into_iter()
            .find(|e| e.course_id == id && e.status.is_open());
    }
    html(
        status,
        pages::course::page(&frame(state, user), &course, &standing, notice.as_ref()),
    )
}

pub(super) async fn course(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    query: web::Query<Done>,
) -> HttpResponse {
    let user = User::from_request(&req, &state.keys);
    course_page(
        &state,
        user.as_ref(),
        *path,
        |_| done_notice(&query),
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct BuyForm {
    #[serde(default)]
    form_token: String,
    expected_price_cents: i64,
    key: String,
}

/// The answer to a refused form on the course page: the page again, saying why.
pub(super) async fn refused_on_course(
    state: &State,
    user: &User,
    id: Uuid,
    error: &ApiError,
) -> HttpResponse {
    let notice =
        |course: &Course| Some(Notice::Error(messages::for_error(error, &course.currency)));
    course_page(state, Some(user), id, notice, REFUSED).await
}

pub(super) async fn buy(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<BuyForm>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Student, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let id = *path;
    match state
        .api
        .buy(&user.token, id, form.expected_price_cents, &form.key)
        .await
    {
        Ok(order) => match order.status {
            OrderStatus::AwaitingPayment => redirect(&format!("/orders/{}/pay", order.id)),
            OrderStatus::Confirmed => redirect("/orders?done=bought"),
            OrderStatus::Failed => {
                let notice = order
                    .failure_code
                    .and_then(messages::for_code)
                    .unwrap_or("The order failed.");
                course_page(
                    &state,
                    Some(&user),
                    id,
                    |_| Some(Notice::Error(notice.into())),
                    REFUSED,
                )
                .await
            }
            _ => redirect("/orders?done=pending"),
        },
        Err(e) => refused_on_course(&state, &user, id, &e).await,
    }
}

pub(super) async fn join_waitlist(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<FormToken>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Student, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let id = *path;
    match state.api.join_waitlist(&user.token, id).await {
        Ok(_) => redirect(&format!("/courses/{id}?done=joined")),
        Err(e) => refused_on_course(&state, &user, id, &e).await,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct LeaveForm {
    #[serde(default)]
    form_token: String,
    course_id: Option<Uuid>,
}

pub(super) async fn leave_waitlist(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<LeaveForm>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Student, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    match state.api.leave_waitlist(&user.token, *path).await {
        Ok(_) => match form.course_id {
            Some(course) => redirect(&format!("/courses/{course}?done=left")),
            None => redirect("/orders?done=left"),
        },
        Err(e) => error_page(&state, Some(&user), &e),
    }
}

/// Titles of `ids`, read concurrently (courses that cannot be read are left out).
pub(super) async fn courses_by_id(
    state: &State,
    ids: impl Iterator<Item = Uuid>,
) -> HashMap<Uuid, Course> {
    let mut ids: Vec<Uuid> = ids.collect();
    ids.sort();
    ids.dedup();
    let read = futures::future::join_all(ids.iter().map(|id| state.api.course(*id))).await;
    read.into_iter()
        .filter_map(Result::ok)
        .map(|c| (c.id, c))
        .collect()
}

pub(super) async fn orders_page(
    state: &State,
    user: &User,
    notice: Option<Notice>,
) -> HttpResponse {
    let (orders, waitlist) = futures::join!(
        state.api.orders(&user.token),
        state.api.waitlist(&user.token)
    );
    let orders = match orders {
        Ok(orders) => orders,
        Err(e) => return error_page(state, Some(user), &e),
    };
    let waitlist = waitlist.unwrap_or_default();
    let courses = courses_by_id(
        state,
        orders
            .iter()
            .map(|o| o.course_id)
            .chain(waitlist.iter().map(|e| e.course_id)),
    )
    .await;
    html(
        StatusCode::OK,
        pages::orders::page(
            &frame(state, Some(user)),
            &orders,
            &waitlist,
            &courses,
            notice.as_ref(),
        ),
    )
}

pub(super) async fn orders(
    state: web::Data<State>,
    req: HttpRequest,
    query: web::Query<Done>,
) -> HttpResponse {
    match signed_in(&state, &req, Role::Student, None) {
        Ok(user) => orders_page(&state, &user, done_notice(&query)).await,
        Err(answer) => *answer,
    }
}

pub(super) async fn pay(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Student, None) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    match state.api.order(&user.token, *path).await {
        Ok(order) => {
            let course = state.api.course(order.course_id).await.ok();
            html(
                StatusCode::OK,
                pages::orders::pay(&frame(&state, Some(&user)), &order, course.as_ref()),
            )
        }
        Err(e) => error_page(&state, Some(&user), &e),
    }
}

pub(super) async fn cancel(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<FormToken>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Student, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    match state.api.cancel(&user.token, *path).await {
        Ok(_) => redirect("/orders?done=cancelled"),
        Err(e) => {
            let notice = Notice::Error(messages::for_error(&e, "USD"));
            orders_page(&state, &user, Some(notice)).await
        }
    }
}
