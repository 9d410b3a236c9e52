//! The key store half of the storage port: what the run-once protocol needs from wherever keys
//! live. Every backend implements it beside [`crate::repo::OrderRepo`], applying the key rules of
//! [`crate::domain::keys`]. Nothing here runs requests or builds answers.

use super::{IdempotencyKey, StoredReply};
use crate::domain::StudentId;
use async_trait::async_trait;
use shared_types::CreateOrder;

/// The key store could not answer; the change may or may not have happened.
#[derive(Debug, thiserror::Error)]
#[error("the idempotency key store is unavailable")]
pub struct KeyStoreError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// What an idempotency key says about a new request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: run the request, then `complete` or `forget` the key.
    Fresh,
    /// The same request already finished: answer this.
    Replay(StoredReply),
    /// The same request is still running.
    InProgress,
    /// The key was used with a different body.
    Mismatch,
}

/// Where `(student, Idempotency-Key)` pairs and their answers live. Times come from the clock the
/// backend was opened with.
#[async_trait]
pub trait KeyStore: Send + Sync + std::fmt::Debug + 'static {
    /// Looks up a key of `student` and, on first use, marks it running (making room under the
    /// student's cap by forgetting the oldest finished keys). A replay answers once the answer it
    /// replays is durable.
    async fn claim_key(
        &self,
        student: &StudentId,
        key: &IdempotencyKey,
        body: &CreateOrder,
    ) -> Result<Claim, KeyStoreError>;

    /// Stores the answer of a key's request for replay; answers once it is durable.
    async fn complete_key(
        &self,
        student: &StudentId,
        key: &IdempotencyKey,
        reply: StoredReply,
    ) -> Result<(), KeyStoreError>;

    /// Forgets a running key whose request changed nothing, so that a retry runs again.
    async fn forget_key(
        &self,
        student: &StudentId,
        key: &IdempotencyKey,
    ) -> Result<(), KeyStoreError>;

    /// Forgets keys past their lifetime; returns how many.
    async fn purge_keys(&self) -> Result<usize, KeyStoreError>;
}
