//! Idempotency keys: `(student, Idempotency-Key)` to the request body and, once the request
//! finished, the response to replay. A key is made durable with its response; a key whose request
//! was still running when the service stopped is forgotten (its order is durable and settles).

use super::{OrderChange, OrderStore};
use dashmap::mapref::entry::Entry;
use serde::{Deserialize, Serialize};
use service_kit::journal::Ticket;
use shared_types::CreateOrder;
use std::sync::Arc;

/// A response kept for replay under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReply {
    pub status: u16,
    /// The JSON body.
    pub body: String,
    pub problem: bool,
    pub location: Option<String>,
    pub retry_after_secs: Option<u64>,
}

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

#[derive(Debug, Clone)]
pub(super) enum KeyState {
    Running(CreateOrder),
    Done(CreateOrder, StoredReply),
}

impl OrderStore {
    /// Looks up an idempotency key for `student` and, on first use, marks it running.
    pub fn claim_key(&self, student: &str, key: &str, body: &CreateOrder) -> Claim {
        match self.shared.keys.entry((Arc::from(student), key.to_owned())) {
            Entry::Vacant(slot) => {
                slot.insert(KeyState::Running(body.clone()));
                Claim::Fresh
            }
            Entry::Occupied(entry) => match entry.get() {
                KeyState::Running(first) if first == body => Claim::InProgress,
                KeyState::Done(first, reply) if first == body => Claim::Replay(reply.clone()),
                _ => Claim::Mismatch,
            },
        }
    }

    /// Stores the response of a key's request for replay.
    pub fn complete_key(&self, student: &str, key: &str, reply: StoredReply) -> Ticket {
        if let Some(mut state) = self
            .shared
            .keys
            .get_mut(&(Arc::from(student), key.to_owned()))
            && let KeyState::Running(body) = &*state
        {
            let change = OrderChange::Key {
                student: student.to_owned(),
                key: key.to_owned(),
                body: body.clone(),
                reply: reply.clone(),
            };
            *state = KeyState::Done(body.clone(), reply);
            return self.record(change);
        }
        Ticket::ready()
    }

    /// Forgets a key whose request changed nothing, so that a retry runs again.
    pub fn forget_key(&self, student: &str, key: &str) {
        self.shared
            .keys
            .remove(&(Arc::from(student), key.to_owned()));
    }
}
