//! Orders: place (optionally under an `Idempotency-Key`), read, list, cancel. A student sees only
//! their own orders; anyone else's read as absent (404).

use super::reply;
use crate::{
    error::ApiError,
    orders::{Claim, StoredReply},
    workflow::Workflow,
};
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, web};
use serde::Deserialize;
use service_kit::{Student, request::RequestId};
use shared_types::{CreateOrder, IDEMPOTENCY_KEY_HEADER, Order, OrderStatus, Page, Problem};
use std::future::{Ready, ready};
use tracing::Instrument;
use utoipa::IntoParams;
use uuid::Uuid;

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;
const MAX_PRICE_CENTS: i64 = 1_000_000_000;

/// Buy a seat (student): hold it, record the order, confirm. With an `Idempotency-Key`, a repeat
/// of the same request replays the first answer.
#[utoipa::path(post, path = "/api/orders", tag = "orders", request_body = CreateOrder, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1..=255 printable ASCII characters; the first answer is replayed for 24 h",
        min_length = 1, max_length = 255, pattern = r"^[!-~]([ -~]*[!-~])?$")),
    responses(
        (status = 201, description = "Confirmed; `Location` names it", body = Order),
        (status = 202, description = "Pending: not settled within the deadline; it settles in the background", body = Order),
        (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a student", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`course_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`sold_out`, `price_changed` (with `price_cents`), `already_enrolled`, `hold_limit_reached` or `request_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`idempotency_key_reused`: same key, different body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`course_service_unavailable` (with `Retry-After`), or `service_unavailable`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create(
    who: Student,
    key: IdempotencyKey,
    request_id: RequestId,
    workflow: web::Data<Workflow>,
    body: web::Json<CreateOrder>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body
        .expected_price_cents
        .is_some_and(|p| !(0..=MAX_PRICE_CENTS).contains(&p))
    {
        return Err(ApiError::Validation(format!(
            "expected_price_cents must be 0..={MAX_PRICE_CENTS}"
        )));
    }
    let workflow = workflow.into_inner();
    let student = who.sub;
    let answer = match key.0 {
        None => reply::placed(workflow.place(&student, &body, request_id.as_str()).await),
        // Spawned so that a client hanging up cannot leave the key marked running forever.
        Some(key) => tokio::spawn(
            async move { idempotent(&workflow, &student, &key, &body, &request_id).await }
                .in_current_span(),
        )
        .await
        .map_err(|_| ApiError::CourseServiceUnavailable)?,
    };
    Ok(reply::respond(answer))
}

/// Places the order once per `(student, key)`: replays the stored answer for a repeat, refuses a
/// different body or a repeat that arrives while the first is still running.
async fn idempotent(
    workflow: &Workflow,
    student: &str,
    key: &str,
    body: &CreateOrder,
    request_id: &RequestId,
) -> StoredReply {
    let claim = workflow
        .store()
        .claim_key(student, key, body, chrono::Utc::now())
        .await;
    let Ok(claim) = claim else {
        return reply::error(&ApiError::Storage);
    };
    match claim {
        Claim::Fresh => {
            let answer = reply::placed(workflow.place(student, body, request_id.as_str()).await);
            let kept = if answer.status == 503 {
                workflow.store().forget_key(student, key).await
            } else {
                workflow
                    .store()
                    .complete_key(student, key, answer.clone(), chrono::Utc::now())
                    .await
            };
            if kept.is_err() && answer.status != 503 {
                return reply::error(&ApiError::Storage);
            }
            answer
        }
        Claim::Replay(stored) => stored,
        Claim::InProgress => reply::error(&ApiError::RequestInProgress),
        Claim::Mismatch => reply::error(&ApiError::IdempotencyKeyReused),
    }
}

/// Read one of the caller's orders (student); anyone else's reads as absent.
#[utoipa::path(get, path = "/api/orders/{order_id}", tag = "orders", params(("order_id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Order),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a student", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`order_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn read(
    who: Student,
    workflow: web::Data<Workflow>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let order = workflow
        .store()
        .get_owned(*path, &who.sub)
        .await
        .map_err(|_| ApiError::Storage)?
        .ok_or(ApiError::OrderNotFound)?;
    Ok(HttpResponse::Ok().json(order))
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
#[utoipa::path(get, path = "/api/orders", tag = "orders", params(ListQuery), security(("bearer" = [])),
    responses(
        (status = 200, body = Page<Order>),
        (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a student", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    who: Student,
    workflow: web::Data<Workflow>,
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
    let before =
        match query.cursor.as_deref() {
            None => None,
            Some(c) => Some(Uuid::parse_str(c).map_err(|_| {
                ApiError::Validation("cursor is not one this service issued".into())
            })?),
        };
    let (items, more) = workflow
        .store()
        .list(&who.sub, query.status, before, limit)
        .await
        .map_err(|_| ApiError::Storage)?;
    let next_cursor = more
        .then(|| items.last().map(|o| o.id.to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

/// Cancel one of the caller's orders (student) and give its seat back; again: 200.
#[utoipa::path(post, path = "/api/orders/{order_id}/cancel", tag = "orders", params(("order_id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Order),
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
    let order = workflow
        .cancel(&who.sub, *path, request_id.as_str())
        .await?;
    Ok(HttpResponse::Ok().json(order))
}

/// The optional `Idempotency-Key` header: 1..=255 visible ASCII characters.
#[derive(Debug)]
pub(crate) struct IdempotencyKey(Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get(IDEMPOTENCY_KEY_HEADER) else {
            return ready(Ok(IdempotencyKey(None)));
        };
        let key = value.to_str().ok().filter(|k| {
            (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        });
        ready(match key {
            Some(k) => Ok(IdempotencyKey(Some(k.to_owned()))),
            None => Err(ApiError::Validation(
                "Idempotency-Key must be 1..=255 printable ASCII characters".into(),
            )),
        })
    }
}
