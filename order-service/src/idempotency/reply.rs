//! Answers of `POST /api/orders` as data: the compact form kept under an `Idempotency-Key`
//! ([`StoredReply`], about 270 bytes a key) and the response rebuilt from it, the same for the
//! first answer and every replay. Owns the stored shape (records of earlier releases stay
//! readable); what an outcome answers is decided by the routes and [`ApiError`].

use crate::error::{ApiError, RETRY_AFTER_SECS};
use actix_web::{HttpResponse, ResponseError, http::StatusCode, http::header};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::problem::problem_body;
use shared_types::{ErrorCode, Order, OrderStatus, PROBLEM_CONTENT_TYPE, Problem};
use uuid::Uuid;

/// An answer kept for replay under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StoredReply {
    /// An order answer (201, 202 or 200): the order as it stood when answered. What is not kept
    /// here never changes once the order exists.
    Order { status: u16, order: AnsweredOrder },
    /// A refusal, rebuilt as the same problem+json.
    Problem {
        status: u16,
        code: ErrorCode,
        detail: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        price_cents: Option<i64>,
    },
    /// The whole response, as keys stored by earlier releases have it.
    Full {
        status: u16,
        body: String,
        problem: bool,
        location: Option<String>,
        retry_after_secs: Option<u64>,
    },
}

/// The parts of an order that may change after it was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnsweredOrder {
    pub id: Uuid,
    pub status: OrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<ErrorCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price_cents: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl AnsweredOrder {
    pub fn of(order: &Order) -> Self {
        AnsweredOrder {
            id: order.id,
            status: order.status,
            failure_code: order.failure_code,
            unit_price_cents: order.unit_price_cents,
            currency: order.currency.clone(),
            updated_at: order.updated_at,
        }
    }

    /// `order` (the same order, as stored now) as it was answered.
    pub fn apply_to(&self, mut order: Order) -> Order {
        order.status = self.status;
        order.failure_code = self.failure_code;
        order.unit_price_cents = self.unit_price_cents;
        order.currency.clone_from(&self.currency);
        order.updated_at = self.updated_at;
        order
    }
}

impl StoredReply {
    /// The stored form of an error answer.
    pub fn refusal(e: &ApiError) -> StoredReply {
        let problem = e.problem();
        StoredReply::Problem {
            status: problem.status,
            code: problem.code,
            detail: problem.detail,
            price_cents: problem.price_cents,
        }
    }

    /// The HTTP status it answers with.
    pub fn status(&self) -> u16 {
        match self {
            StoredReply::Order { status, .. }
            | StoredReply::Problem { status, .. }
            | StoredReply::Full { status, .. } => *status,
        }
    }

    /// The order an order answer names.
    pub fn order_id(&self) -> Option<Uuid> {
        match self {
            StoredReply::Order { order, .. } => Some(order.id),
            _ => None,
        }
    }
}

/// An answer and, for an order answer, the order it names as stored now.
#[derive(Debug, Clone)]
pub struct Answer {
    pub reply: StoredReply,
    pub order: Option<Order>,
}

impl Answer {
    /// An error answer.
    pub fn refusal(e: &ApiError) -> Answer {
        Answer {
            reply: StoredReply::refusal(e),
            order: None,
        }
    }

    /// The response.
    pub fn respond(self) -> HttpResponse {
        let status =
            |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match (self.reply, self.order) {
            (
                StoredReply::Order {
                    status: code,
                    order: answered,
                },
                Some(order),
            ) => HttpResponse::build(status(code))
                .insert_header((header::LOCATION, format!("/api/orders/{}", order.id)))
                .json(answered.apply_to(order)),
            // The order an answer named is always kept; should it be missing, say so honestly.
            (StoredReply::Order { .. }, None) => ApiError::Storage.error_response(),
            (
                StoredReply::Problem {
                    status: code,
                    code: error,
                    detail,
                    price_cents,
                },
                _,
            ) => {
                let title = status(code).canonical_reason().unwrap_or("Error");
                let mut problem = Problem::new(code, title, error, detail);
                problem.price_cents = price_cents;
                let mut response = problem_body(problem);
                if code == StatusCode::SERVICE_UNAVAILABLE.as_u16() {
                    response.headers_mut().insert(
                        header::RETRY_AFTER,
                        header::HeaderValue::from(RETRY_AFTER_SECS),
                    );
                }
                response
            }
            (
                StoredReply::Full {
                    status: code,
                    body,
                    problem,
                    location,
                    retry_after_secs,
                },
                _,
            ) => {
                let mut response = HttpResponse::build(status(code));
                let content_type = if problem {
                    PROBLEM_CONTENT_TYPE
                } else {
                    "application/json"
                };
                response.insert_header((header::CONTENT_TYPE, content_type));
                if let Some(location) = location {
                    response.insert_header((header::LOCATION, location));
                }
                if let Some(secs) = retry_after_secs {
                    response.insert_header((header::RETRY_AFTER, secs));
                }
                response.body(body)
            }
        }
    }
}
