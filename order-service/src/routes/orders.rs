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
use shared_types::{CreateOrder, IDEMPOTENCY_KEY_HEADER, OrderStatus, Page};
use std::future::{Ready, ready};
use uuid::Uuid;

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;
const MAX_PRICE_CENTS: i64 = 1_000_000_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/orders").post(create).get(list))
        .service(web::resource("/api/orders/{order_id}").get(read))
        .service(web::resource("/api/orders/{order_id}/cancel").post(cancel));
}

async fn create(
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
    let answer =
        match key.0 {
            None => reply::placed(workflow.place(&student, &body, request_id.as_str()).await),
            // Spawned so that a client hanging up cannot leave the key marked running forever.
            Some(key) => tokio::spawn(async move {
                idempotent(&workflow, &student, &key, &body, &request_id).await
            })
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
    match workflow
        .store()
        .claim_key(student, key, body, chrono::Utc::now())
    {
        Claim::Fresh => {
            let answer = reply::placed(workflow.place(student, body, request_id.as_str()).await);
            if answer.status == 503 {
                workflow.store().forget_key(student, key);
            } else {
                let recorded =
                    workflow
                        .store()
                        .complete_key(student, key, answer.clone(), chrono::Utc::now());
                if recorded.wait().await.is_err() {
                    return reply::error(&ApiError::Storage);
                }
            }
            answer
        }
        Claim::Replay(stored) => stored,
        Claim::InProgress => reply::error(&ApiError::RequestInProgress),
        Claim::Mismatch => reply::error(&ApiError::IdempotencyKeyReused),
    }
}

async fn read(
    who: Student,
    workflow: web::Data<Workflow>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let order = workflow
        .store()
        .get_owned(*path, &who.sub)
        .ok_or(ApiError::OrderNotFound)?;
    Ok(HttpResponse::Ok().json(order))
}

/// Query of `GET /api/orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<OrderStatus>,
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn list(
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
    let (items, more) = workflow.store().list(&who.sub, query.status, before, limit);
    let next_cursor = more
        .then(|| items.last().map(|o| o.id.to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

async fn cancel(
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
struct IdempotencyKey(Option<String>);

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
