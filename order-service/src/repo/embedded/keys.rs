//! The idempotency keys in memory: `(student, Idempotency-Key)` to the request body and, once the
//! request finished, the answer to replay. A key is made durable with its answer; a key whose
//! request was still running when the service stopped is forgotten (its order is durable and
//! settles).
//!
//! # Memory
//! Keys are kept per student (one map each, in the order they were claimed), and an answer is
//! kept in its compact form ([`StoredReply`]): an order answer names the order and the fields of
//! it that may change later, a refusal keeps its code and detail. A key costs about 270 bytes
//! with a 36-character key (`order-service/tests/key_memory.rs` measures it). A student keeps at
//! most [`MAX_KEYS_PER_STUDENT`] keys: past that, claiming a new one forgets the student's oldest
//! finished keys ([`keys_to_forget`]).

use super::{EmbeddedRepo, OrderChange};
use crate::{
    domain::{
        StudentId,
        keys::{KeyPhase, MAX_KEYS_PER_STUDENT, RUNNING_KEY_LIFETIME, key_lapsed, keys_to_forget},
    },
    idempotency::{Claim, IdempotencyKey, StoredReply},
};
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use shared_types::CreateOrder;
use storage_kit::journal::Ticket;

#[derive(Debug, Clone)]
pub(super) enum KeyState {
    Running(CreateOrder, DateTime<Utc>),
    Done(CreateOrder, StoredReply, DateTime<Utc>),
}

impl KeyState {
    fn phase(&self) -> KeyPhase {
        match self {
            KeyState::Running(_, claimed) => KeyPhase::Running(*claimed),
            KeyState::Done(_, _, completed) => KeyPhase::Done(*completed),
        }
    }
}

/// One student's keys, in the order they were claimed.
pub(super) type StudentKeys = IndexMap<Box<str>, KeyState, foldhash::fast::RandomState>;

impl EmbeddedRepo {
    /// Looks up a key and, on first use, marks it running. Returns the ticket to wait for before
    /// acting on the claim.
    pub(super) fn claim_key(
        &self,
        student: &StudentId,
        key: &IdempotencyKey,
        body: &CreateOrder,
    ) -> (Claim, Ticket) {
        let now = self.clock.now();
        let mut evicted = Vec::new();
        let claim = {
            let mut keys = self.shared.keys.entry(student.clone()).or_default();
            match keys.get(key.as_str()) {
                None => {
                    if keys.len() >= MAX_KEYS_PER_STUDENT {
                        evicted = evict_oldest_done(&mut keys);
                    }
                    keys.insert(key.as_str().into(), KeyState::Running(body.clone(), now));
                    Claim::Fresh
                }
                Some(KeyState::Running(first, _)) if first == body => Claim::InProgress,
                Some(KeyState::Done(first, reply, _)) if first == body => {
                    Claim::Replay(reply.clone())
                }
                Some(_) => Claim::Mismatch,
            }
        };
        for key in evicted {
            drop(self.record(OrderChange::KeyRemoved {
                student: student.clone(),
                key: key.into(),
            }));
        }
        // A replay reports a stored answer: it waits until that answer is durable (the request
        // that stored it may still be waiting for the same commit). A fresh claim only needs to
        // know that the store still works.
        let ticket = match claim {
            Claim::Fresh => self.healthy_ticket(),
            _ => self.barrier(),
        };
        (claim, ticket)
    }

    /// Stores the answer of a key's request for replay.
    pub(super) fn complete_key(
        &self,
        student: &StudentId,
        key: &IdempotencyKey,
        reply: StoredReply,
    ) -> Ticket {
        let now = self.clock.now();
        if let Some(mut keys) = self.shared.keys.get_mut(student)
            && let Some(state) = keys.get_mut(key.as_str())
            && let KeyState::Running(body, _) = &*state
        {
            let change = OrderChange::Key {
                student: student.clone(),
                key: key.as_str().to_owned(),
                body: body.clone(),
                reply: reply.clone(),
                completed_at: now,
            };
            *state = KeyState::Done(body.clone(), reply, now);
            return self.record(change);
        }
        self.barrier()
    }

    /// Forgets keys past their lifetime; returns how many. Run periodically: together with the
    /// cap per student, this bounds the memory keys take.
    pub(super) fn purge_keys(&self) -> usize {
        let now = self.clock.now();
        let mut expired = Vec::new();
        let mut removed = 0;
        self.shared.keys.retain(|student, keys| {
            keys.retain(|key, state| {
                let lapsed = key_lapsed(state.phase(), now, RUNNING_KEY_LIFETIME);
                if lapsed {
                    removed += 1;
                    // Only finished keys were ever recorded.
                    if matches!(state, KeyState::Done(..)) {
                        expired.push((student.clone(), key.to_string()));
                    }
                }
                !lapsed
            });
            !keys.is_empty()
        });
        for (student, key) in expired {
            drop(self.record(OrderChange::KeyRemoved { student, key }));
        }
        removed
    }

    /// Forgets a running key whose request changed nothing, so that a retry runs again.
    pub(super) fn forget_key(&self, student: &StudentId, key: &IdempotencyKey) {
        if let Some(mut keys) = self.shared.keys.get_mut(student)
            && matches!(keys.get(key.as_str()), Some(KeyState::Running(..)))
        {
            keys.shift_remove(key.as_str());
        }
    }

    /// How many keys `student` keeps now.
    pub(super) fn keys_of(&self, student: &StudentId) -> usize {
        self.shared.keys.get(student).map_or(0, |keys| keys.len())
    }

    /// Puts back a finished key read from the store.
    pub(super) fn restore_key(&self, student: StudentId, key: String, state: KeyState) {
        self.shared
            .keys
            .entry(student)
            .or_default()
            .insert(key.into_boxed_str(), state);
    }
}

/// Removes as many of the student's oldest finished keys (the earliest claimed among the
/// finished ones) as the cap needs to fit one more.
fn evict_oldest_done(keys: &mut StudentKeys) -> Vec<Box<str>> {
    let running = keys
        .values()
        .filter(|state| matches!(state, KeyState::Running(..)))
        .count();
    let mut forget = keys_to_forget(keys.len() - running, running);
    let mut evicted = Vec::with_capacity(forget);
    keys.retain(|key, state| {
        let go = forget > 0 && matches!(state, KeyState::Done(..));
        if go {
            forget -= 1;
            evicted.push(key.clone());
        }
        !go
    });
    evicted
}
