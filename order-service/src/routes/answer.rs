//! What the workflow's outcomes answer over HTTP: a placed order is 201 (confirmed, or awaiting
//! its payment), 202
//! (pending) or 200 (already cancelled), a failed one its failure's problem; the workflow's errors
//! become [`ApiError`]s, which alone choose statuses for failures.

use crate::{
    domain::{NewOrder, OrderId},
    error::ApiError,
    idempotency::{self, Answer, AnsweredOrder, KeyStore, Keyed, ReadOrder, StoredReply},
    repo::OrderRepo,
    workflow::{CancelError, PlaceError, Placed, Settlement, Workflow},
};
use futures::FutureExt;
use std::{future::Future, sync::Arc};

impl From<CancelError> for ApiError {
    fn from(e: CancelError) -> Self {
        match e {
            CancelError::NotFound => ApiError::OrderNotFound,
            CancelError::NotCancellable => ApiError::NotCancellable,
            CancelError::Unavailable => ApiError::CourseServiceUnavailable,
            CancelError::Storage => ApiError::Storage,
        }
    }
}

/// The answer to a placed order, and the order it names.
pub fn placed(outcome: Result<Placed, PlaceError>) -> Answer {
    let Placed { order, settlement } = match outcome {
        Ok(placed) => placed,
        Err(PlaceError::AlreadyLive(_)) => return Answer::refusal(&ApiError::AlreadyEnrolled),
        Err(PlaceError::Storage) => return Answer::refusal(&ApiError::Storage),
    };
    let status = match settlement {
        Settlement::Confirmed | Settlement::AwaitingPayment => 201,
        Settlement::Unsettled => 202,
        Settlement::Cancelled => 200,
        Settlement::Failed {
            failure,
            price_cents,
        } => {
            return Answer::refusal(&ApiError::OrderFailed {
                failure,
                price_cents,
            });
        }
    };
    let order = order.to_wire();
    Answer {
        reply: StoredReply::Order {
            status,
            order: AnsweredOrder::of(&order),
        },
        order: Some(order),
    }
}

/// Places `request` and answers.
pub async fn place(workflow: Arc<Workflow>, request: NewOrder, request_id: String) -> Answer {
    placed(workflow.place(&request, &request_id).await)
}

/// Answers `request` once per key (see [`crate::idempotency::run_once`]), placing with `place`.
pub async fn once(
    keys: Arc<dyn KeyStore>,
    orders: Arc<dyn OrderRepo>,
    request: Keyed,
    place: impl Future<Output = Answer> + Send + 'static,
) -> Answer {
    idempotency::run_once(keys, request, place, reader(orders)).await
}

/// Reads the order a replayed answer names, as stored now.
fn reader(orders: Arc<dyn OrderRepo>) -> ReadOrder {
    Box::new(move |id: OrderId| {
        async move {
            match orders.get(id).await {
                Ok(order) => Ok(order.map(|o| o.to_wire())),
                Err(_) => Err(()),
            }
        }
        .boxed()
    })
}
