//! Responses of `POST /api/orders` as data, so the first response under an `Idempotency-Key` can be
//! stored and replayed byte for byte.

use crate::{
    error::ApiError,
    orders::StoredReply,
    workflow::{PlaceError, Placed, Settlement},
};
use actix_web::{HttpResponse, http::header};
use shared_types::{ErrorCode, Order, OrderStatus, PROBLEM_CONTENT_TYPE};

/// The answer to a placed order: 201 confirmed, 202 pending, the failure's problem otherwise.
pub fn placed(outcome: Result<Placed, PlaceError>) -> StoredReply {
    let Placed { order, settlement } = match outcome {
        Ok(placed) => placed,
        Err(PlaceError::AlreadyLive(_)) => return error(&ApiError::AlreadyEnrolled),
        Err(PlaceError::Storage) => return error(&ApiError::Storage),
    };
    match order.status {
        OrderStatus::Confirmed => order_reply(201, &order),
        OrderStatus::Pending => order_reply(202, &order),
        OrderStatus::Cancelled => order_reply(200, &order),
        OrderStatus::Failed => match settlement {
            Settlement::Failed {
                code,
                status,
                price_cents,
            } => error(&ApiError::OrderFailed {
                code,
                status,
                price_cents,
            }),
            _ => {
                let code = order
                    .failure_code
                    .unwrap_or(ErrorCode::CourseServiceUnavailable);
                error(&ApiError::OrderFailed {
                    code,
                    status: 409,
                    price_cents: None,
                })
            }
        },
    }
}

fn order_reply(status: u16, order: &Order) -> StoredReply {
    StoredReply {
        status,
        body: serde_json::to_string(order).unwrap_or_default(),
        problem: false,
        location: Some(format!("/api/orders/{}", order.id)),
        retry_after_secs: None,
    }
}

pub fn error(e: &ApiError) -> StoredReply {
    let problem = e.problem();
    StoredReply {
        status: problem.status,
        body: serde_json::to_string(&problem).unwrap_or_default(),
        problem: true,
        location: None,
        retry_after_secs: e.retry_after_secs(),
    }
}

pub fn respond(reply: StoredReply) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(reply.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response.insert_header((
        header::CONTENT_TYPE,
        if reply.problem {
            PROBLEM_CONTENT_TYPE
        } else {
            "application/json"
        },
    ));
    if let Some(location) = reply.location {
        response.insert_header((header::LOCATION, location));
    }
    if let Some(secs) = reply.retry_after_secs {
        response.insert_header((header::RETRY_AFTER, secs));
    }
    response.body(reply.body)
}
