//! Orders: place (optionally under an `Idempotency-Key`), read, list, cancel. A student sees only
//! their own orders; anyone else's read as absent (404). Each handler parses, makes one call
//! (the workflow, the repository, or the run-once protocol) and answers.

use super::answer;
use crate::{
    domain::{NewOrder, OrderId, StudentId},
    error::ApiError,
    idempotency::{IdempotencyKey, InvalidKey, KeyStore, Keyed},
    repo::OrderRepo,
    workflow::Workflow,
};
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, web};
use serde::Deserialize;
use service_kit::{Student, request::RequestId};
use shared_types::{CreateOrder, IDEMPOTENCY_KEY_HEADER, Order, OrderStatus, Page, Problem};
use std::future::{Ready, ready};
use utoipa::IntoParams;
use uuid::Uuid;

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// Buy a seat (student): record the order -> hold a seat -> (pay) -> confirm it.
///
/// With `PAYMENT_PROVIDER=stripe` and a course priced above 0, the answer is 201
/// `awaiting_payment`: the seat is held and `payment.checkout_url` is where the student pays
/// before `payment.expires_at`; the payment confirms it. With an `Idempotency-Key`, a repeat of
/// the same request replays the first answer.
#[utoipa::path(post, path = "/api/orders", operation_id = "create_order", tag = "orders", request_body = CreateOrder, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1..=255 printable ASCII characters; the first answer is replayed for 24 h",
        min_length = 1, max_length = 255, pattern = r"^[!-~]([ -~]*[!-~])?$")),
    responses(
        (status = 201, description = "Confirmed, or `awaiting_payment` with the checkout to pay at; `Location` names it", body = Order),
        (status = 202, description = "Pending: not settled within the deadline; it settles in the background", body = Order),
        (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a student", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`course_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`sold_out`, `price_changed` (with `price_cents`), `already_enrolled`, `hold_limit_reached` or `request_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`idempotency_key_reused`: same key, different body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`course_service_unavailable` or `payment_provider_unavailable` (nothing stays held), with `Retry-After`; or `service_unavailable`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create(
    who: Student,
    key: KeyHeader,
    request_id: RequestId,
    workflow: web::Data<Workflow>,
    (orders, keys): (web::Data<dyn OrderRepo>, web::Data<dyn KeyStore>),
    body: web::Json<CreateOrder>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = NewOrder::parse(&who.sub, &body)?;
    let student = request.student.clone();
    let place = answer::place(workflow.into_inner(), request, request_id.as_str().into());
    let answer = match key.0 {
        None => place.await,
        Some(key) => {
            let keyed = Keyed { student, key, body };
            answer::once(keys.into_inner(), orders.into_inner(), keyed, place).await
        }
    };
    Ok(answer.respond())
}

/// Read one of the caller's orders (student); anyone else's reads as absent.
#[utoipa::path(get, path = "/api/orders/{order_id}", operation_id = "get_order", tag = "orders", params(("order_id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Order),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a student", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`order_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn read(
    who: Student,
    orders: web::Data<dyn OrderRepo>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let order = orders
        .get_owned(OrderId::from_uuid(*path), &StudentId::new(who.sub))
        .await
        .map_err(|_| ApiError::Storage)?
        .ok_or(ApiError::OrderNotFound)?;
    Ok(HttpResponse::Ok().json(order.to_wire()))
}

/// Query of `GET /api/orders`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only orders in this status.
    status: Option<OrderStatus>,
    /// Page size, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page (an id).
    #[param(value_type = Option<Uuid>, format = Uuid)]
    cursor: Option<String>,
}

/// List the caller's orders, newest first (student).
#[utoipa::path(get, path = "/api/orders", operation_id = "list_orders", tag = "orders", params(ListQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Page<Order>),
        (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a student", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    who: Student,
    orders: web::Data<dyn OrderRepo>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = match query.limit {
        None => DEFAULT_PAGE_SIZE,
        Some(n) if (1..=MAX_PAGE_SIZE as i64).contains(&n) => n as usize,
        Some(_) => {
            return Err(ApiError::Validation(format!(
                "limit must be 1..={MAX_PAGE_SIZE}"
            )));
        }
    };
    let before = match query.cursor.as_deref() {
        None => None,
        Some(c) => Some(OrderId::from_uuid(Uuid::parse_str(c).map_err(|_| {
            ApiError::Validation("cursor is not one this service issued".into())
        })?)),
    };
    let status = query.status.map(Into::into);
    let (found, more) = orders
        .list(&StudentId::new(who.sub), status, before, limit)
        .await
        .map_err(|_| ApiError::Storage)?;
    let items: Vec<Order> = found.iter().map(|o| o.to_wire()).collect();
    let next_cursor = more
        .then(|| items.last().map(|o| o.id.to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

/// Cancel one of the caller's orders (student) and give its seat back; again: 200.
///
/// An order awaiting its payment has its checkout closed first (`cancelled`); a paid one is
/// refunded after its seat is back (`refunded`).
#[utoipa::path(post, path = "/api/orders/{order_id}/cancel", operation_id = "cancel_order", tag = "orders", params(("order_id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, description = "`cancelled`, or `refunded` when it was paid", body = Order),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a student", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`order_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`order_not_cancellable`: the order failed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`course_service_unavailable`: the cancellation is remembered and finishes in the background", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn cancel(
    who: Student,
    request_id: RequestId,
    workflow: web::Data<Workflow>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (student, id) = (StudentId::new(who.sub), OrderId::from_uuid(*path));
    let order = workflow.cancel(&student, id, request_id.as_str()).await?;
    Ok(HttpResponse::Ok().json(order.to_wire()))
}

/// The optional `Idempotency-Key` header, parsed.
#[derive(Debug)]
pub(crate) struct KeyHeader(Option<IdempotencyKey>);

impl FromRequest for KeyHeader {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get(IDEMPOTENCY_KEY_HEADER) else {
            return ready(Ok(KeyHeader(None)));
        };
        let key = value.to_str().ok().map(IdempotencyKey::parse);
        ready(match key {
            Some(Ok(key)) => Ok(KeyHeader(Some(key))),
            _ => Err(ApiError::Validation(InvalidKey.to_string())),
        })
    }
}
