//! The run-once protocol of `POST /api/orders` under an `Idempotency-Key`: the first request with
//! a key runs and its answer is kept; a repeat with the same body replays that answer (with the
//! order as stored now), a repeat while the first still runs is refused (`request_in_progress`),
//! and the key with another body is refused (`idempotency_key_reused`). An answer that changed
//! nothing a student could replay (a 503) forgets the key, so a retry runs again.
//!
//! It neither places orders nor reads them itself: the caller passes both as futures, so this
//! module knows the key store and the answers only.

use super::{Answer, Claim, IdempotencyKey, KeyStore};
use crate::{
    domain::{OrderId, StudentId},
    error::ApiError,
};
use futures::future::BoxFuture;
use shared_types::{CreateOrder, Order};
use std::{future::Future, sync::Arc};
use tracing::Instrument;

/// Reads an order a replayed answer names, as stored now (`Err`: the store did not answer).
pub type ReadOrder =
    Box<dyn FnOnce(OrderId) -> BoxFuture<'static, Result<Option<Order>, ()>> + Send>;

/// One request under a key.
#[derive(Debug)]
pub struct Keyed {
    pub student: StudentId,
    pub key: IdempotencyKey,
    /// The body as received: a repeat must send the same.
    pub body: CreateOrder,
}

/// Runs `place` once per `(student, key)` and answers as described in the module docs.
pub async fn run_once<P>(
    keys: Arc<dyn KeyStore>,
    request: Keyed,
    place: P,
    read: ReadOrder,
) -> Answer
where
    P: Future<Output = Answer> + Send + 'static,
{
    // Spawned so that a client hanging up cannot leave the key marked running forever.
    tokio::spawn(protocol(keys, request, place, read).in_current_span())
        .await
        .unwrap_or_else(|_| Answer::refusal(&ApiError::Storage))
}

async fn protocol<P>(keys: Arc<dyn KeyStore>, request: Keyed, place: P, read: ReadOrder) -> Answer
where
    P: Future<Output = Answer> + Send + 'static,
{
    let Keyed { student, key, body } = request;
    let Ok(claim) = keys.claim_key(&student, &key, &body).await else {
        return Answer::refusal(&ApiError::Storage);
    };
    match claim {
        Claim::Fresh => {
            let answer = place.await;
            let unavailable = answer.reply.status() == 503;
            let kept = if unavailable {
                keys.forget_key(&student, &key).await
            } else {
                keys.complete_key(&student, &key, answer.reply.clone())
                    .await
            };
            if kept.is_err() && !unavailable {
                return Answer::refusal(&ApiError::Storage);
            }
            answer
        }
        Claim::Replay(reply) => {
            let order = match reply.order_id() {
                Some(id) => match read(OrderId::from_uuid(id)).await {
                    Ok(order) => order,
                    Err(()) => return Answer::refusal(&ApiError::Storage),
                },
                None => None,
            };
            Answer { reply, order }
        }
        Claim::InProgress => Answer::refusal(&ApiError::RequestInProgress),
        Claim::Mismatch => Answer::refusal(&ApiError::IdempotencyKeyReused),
    }
}
