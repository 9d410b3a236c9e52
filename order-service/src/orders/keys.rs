//! Idempotency keys: `(student, Idempotency-Key)` to the request body and, once the request
//! finished, the response to replay. A key is made durable with its response; a key whose request
//! was still running when the service stopped is forgotten (its order is durable and settles).

use super::{OrderChange, OrderStore};
use chrono::{DateTime, TimeDelta, Utc};
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
    Running(CreateOrder, DateTime<Utc>),
    Done(CreateOrder, StoredReply, DateTime<Utc>),
}

/// How long a finished request's response is kept for replay under its key.
pub const KEY_LIFETIME: TimeDelta = TimeDelta::hours(24);
/// How long a key may stay marked running (its request can take seconds, never this long).
const RUNNING_LIFETIME: TimeDelta = TimeDelta::hours(1);

impl OrderStore {
    /// Looks up an idempotency key for `student` and, on first use, marks it running.
    pub fn claim_key(
        &self,
        student: &str,
        key: &str,
        body: &CreateOrder,
        now: DateTime<Utc>,
    ) -> Claim {
        match self.shared.keys.entry((Arc::from(student), key.to_owned())) {
            Entry::Vacant(slot) => {
                slot.insert(KeyState::Running(body.clone(), now));
                Claim::Fresh
            }
            Entry::Occupied(entry) => match entry.get() {
                KeyState::Running(first, _) if first == body => Claim::InProgress,
                KeyState::Done(first, reply, _) if first == body => Claim::Replay(reply.clone()),
                _ => Claim::Mismatch,
            },
        }
    }

    /// Stores the response of a key's request for replay.
    pub fn complete_key(
        &self,
        student: &str,
        key: &str,
        reply: StoredReply,
        now: DateTime<Utc>,
    ) -> Ticket {
        if let Some(mut state) = self
            .shared
            .keys
            .get_mut(&(Arc::from(student), key.to_owned()))
            && let KeyState::Running(body, _) = &*state
        {
            let change = OrderChange::Key {
                student: student.to_owned(),
                key: key.to_owned(),
                body: body.clone(),
                reply: reply.clone(),
                completed_at: now,
            };
            *state = KeyState::Done(body.clone(), reply, now);
            return self.record(change);
        }
        Ticket::ready()
    }

    /// Forgets keys older than their lifetime; returns how many. Run periodically: together with
    /// rate limiting, this bounds the memory keys take.
    pub fn purge_keys(&self, now: DateTime<Utc>) -> usize {
        let mut expired = Vec::new();
        let mut removed = 0;
        self.shared.keys.retain(|(student, key), state| {
            let keep = match state {
                KeyState::Running(_, started) => now - *started < RUNNING_LIFETIME,
                KeyState::Done(_, _, completed) => now - *completed < KEY_LIFETIME,
            };
            if !keep {
                removed += 1;
                // Only finished keys were ever recorded.
                if matches!(state, KeyState::Done(..)) {
                    expired.push((student.to_string(), key.clone()));
                }
            }
            keep
        });
        for (student, key) in expired {
            drop(self.record(OrderChange::KeyRemoved { student, key }));
        }
        removed
    }

    /// Forgets a key whose request changed nothing, so that a retry runs again.
    pub fn forget_key(&self, student: &str, key: &str) {
        self.shared
            .keys
            .remove(&(Arc::from(student), key.to_owned()));
    }
}
