//! The embedded backend: orders and idempotency keys in memory, every change made durable through
//! the embedded journal (or kept in memory only with `STORAGE=memory`). One process owns the state.
//!
//! - `store`: the orders, the live slots, each student's order ids, the work left and its
//!   leases; applies [`crate::domain::rules`] under its entry locks.
//! - `keys`: the idempotency keys, per student, compactly; the payment events applied.
//! - `feed`: the orders of waitlist offers (recorded once under the offer's id), the feed
//!   follower's cursor and lease.
//! - `records`: what is written to disk, and rebuilding the state from it at start-up.
//! - `port`: the async faces ([`OrderRepo`](crate::repo::OrderRepo),
//!   [`KeyStore`](crate::idempotency::KeyStore)), which wait for the disk before answering.
//!
//! # Locks
//! All maps are DashMaps, the only locks in order-service besides the feed follower's record (a
//! mutex of its own, never held with a map entry; see `feed`). Entries are taken in one order only:
//! `live`, then `orders`, then `work` (`begin` holds the student's `live` entry while it adds the
//! order; a change to an order updates its `work` entry while holding the order's entry, so the
//! order and its work never disagree). Nothing here awaits, logs or does I/O while holding an
//! entry; the critical sections are map updates and one journal append (a channel send).
//!
//! # Answers wait for the disk
//! Changes reach the journal while their entry is held, and before anything that makes them
//! visible to other requests (the `live` slot, the cancellation step), so whoever sees a change
//! can wait for its record with a barrier. Every operation hands back the journal ticket its
//! caller must wait for before answering: its own record, or, when it changed nothing (a replay, a
//! refusal, a read, a repeat of a final state), a barrier over everything appended so far, which
//! covers whatever record made the state it saw. Once a write has failed every ticket fails: the
//! store is fail-stop, and the service answers 503 and reports itself not live until restarted.
//!
//! It must not decide what a change means (the rule book does) nor call anything outside the
//! process.

mod feed;
mod keys;
mod port;
mod records;
mod store;

pub use records::OrderChange;

use crate::{
    clock::Clock,
    domain::{CourseId, Order, OrderId, StudentId},
};
use chrono::TimeDelta;
use dashmap::DashMap;
use keys::StudentKeys;
use std::{collections::BTreeSet, sync::Arc};
use storage_kit::journal::{Journal, JournalError, Ticket};
use store::Work;

/// A cheap-to-clone handle on the embedded store.
#[derive(Debug, Clone)]
pub struct EmbeddedRepo {
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    /// How long a lease lasts before it lapses.
    lease: TimeDelta,
}

#[derive(Debug, Default)]
struct Shared {
    orders: DashMap<OrderId, Order>,
    /// The one live order of each student for each course: how concurrent duplicate orders end
    /// with exactly one success.
    live: DashMap<(StudentId, CourseId), OrderId>,
    /// Each student's order ids, in creation order (ids are UUID v7), for listing newest first.
    by_student: DashMap<StudentId, BTreeSet<OrderId>>,
    /// Orders with work left, each with its lease.
    work: DashMap<OrderId, Work>,
    keys: DashMap<StudentId, StudentKeys>,
    /// The payment provider's events applied, by id.
    events: DashMap<String, ()>,
    /// Where the feed follower is, and who follows.
    feed: parking_lot::Mutex<feed::FeedState>,
    /// Where changes are made durable; `None` keeps the state in memory only.
    journal: Option<Journal<OrderChange>>,
}

impl EmbeddedRepo {
    /// An empty store kept in memory only.
    pub fn in_memory(clock: Arc<dyn Clock>, lease: TimeDelta) -> Self {
        EmbeddedRepo {
            shared: Arc::default(),
            clock,
            lease,
        }
    }

    /// Number of orders kept.
    pub fn len(&self) -> usize {
        self.shared.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shared.orders.is_empty()
    }

    /// Number of orders with work left.
    pub fn work_len(&self) -> usize {
        self.shared.work.len()
    }

    /// Hands a change to the journal. Called while the change's map entry is held, so changes of
    /// one order (or one student's keys) reach the journal in the order they were made.
    fn record(&self, change: OrderChange) -> Ticket {
        match &self.shared.journal {
            Some(journal) => journal.append(vec![change]),
            None => Ticket::ready(),
        }
    }

    /// A ticket for every change recorded so far: what an answer that changed nothing waits for.
    fn barrier(&self) -> Ticket {
        self.shared
            .journal
            .as_ref()
            .map_or_else(Ticket::ready, Journal::barrier)
    }

    /// A ticket that waits for nothing but fails once the store has failed.
    fn healthy_ticket(&self) -> Ticket {
        self.shared
            .journal
            .as_ref()
            .map_or_else(Ticket::ready, |j| j.after(0))
    }

    /// False once the store has failed a write (the service must be restarted).
    fn storage_healthy(&self) -> bool {
        self.shared.journal.as_ref().is_none_or(Journal::healthy)
    }

    /// Makes every change so far durable, then stops the journal and lets go of the store; later
    /// changes are refused.
    async fn flush_and_close(&self) -> Result<(), JournalError> {
        let Some(journal) = &self.shared.journal else {
            return Ok(());
        };
        let flushed = journal.flush().wait().await;
        journal.close();
        flushed
    }
}
