//! The order store, in memory, and the only code in order-service that takes locks.
//!
//! # What it keeps
//! - every order by id;
//! - `live`: the one live (pending or confirmed) order of each student for each course, which is
//!   how concurrent duplicate orders end with exactly one success;
//! - each student's order ids in creation order, for listing newest first;
//! - `work`: the orders with work left (pending, or a cancellation asked for and not finished),
//!   each with a lease so that the request working on an order and the background reconciler never
//!   work on it at the same time;
//! - idempotency records: `(student, Idempotency-Key)` to the request body and, once finished, the
//!   response to replay.
//!
//! # Locks
//! All maps are DashMaps. Entries are taken in one order only: `live`, then `orders`, then `work`
//! (`begin` holds the student's `live` entry while it adds the order; a change to an order reads
//! or sets its `work` entry while holding the order's entry, so the journal record carries both).
//! Nothing here awaits or does I/O; changes reach the journal while their entry is held.
//!
//! # Status rules
//! `pending -> confirmed | failed | cancelled`, `confirmed -> cancelled`. A settlement applies
//! only to a pending order, so whichever of a late settlement and a cancellation comes second
//! finds the order already final and leaves it alone. A cancellation is recorded as asked for
//! (durably) before the seat is given back, so a crash in between leaves work the reconciler
//! finishes, never a confirmed order without its seat.

mod keys;
mod persist;

pub use keys::{Claim, StoredReply};
pub use persist::OrderChange;

use chrono::{DateTime, Utc};
use dashmap::{DashMap, mapref::entry::Entry};
use keys::KeyState;
use service_kit::journal::{Journal, JournalError, Ticket};
use shared_types::{CreateOrder, ErrorCode, Order, OrderStatus};
use std::{
    collections::BTreeSet,
    ops::Bound,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};
use uuid::Uuid;

/// The student already has a live (pending or confirmed) order for the course: this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyLive(pub Uuid);

/// How an order ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Confirmed,
    Failed(ErrorCode),
    Cancelled,
}

/// A cheap-to-clone handle on the store.
#[derive(Debug, Clone, Default)]
pub struct OrderStore {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    orders: DashMap<Uuid, Order>,
    live: DashMap<(Arc<str>, Uuid), Uuid>,
    by_student: DashMap<Arc<str>, BTreeSet<Uuid>>,
    work: DashMap<Uuid, Work>,
    keys: DashMap<(Arc<str>, String), KeyState>,
    /// Where changes are made durable; `None` keeps the state in memory only.
    journal: Option<Journal<OrderChange>>,
}

/// Work left on an order: whether someone is on it, and whether its cancellation was asked for.
#[derive(Debug, Default)]
struct Work {
    leased: AtomicBool,
    cancel: AtomicBool,
}

impl Work {
    fn new(leased: bool, cancel: bool) -> Self {
        Work {
            leased: AtomicBool::new(leased),
            cancel: AtomicBool::new(cancel),
        }
    }
}

impl OrderStore {
    /// An empty store kept in memory only.
    pub fn new() -> Self {
        OrderStore::default()
    }

    /// Records a new pending order, leased to the caller, unless the student already has a live
    /// order for this course.
    pub fn begin(
        &self,
        student: &str,
        body: &CreateOrder,
        now: DateTime<Utc>,
    ) -> Result<(Order, Ticket), AlreadyLive> {
        let student: Arc<str> = Arc::from(student);
        match self
            .shared
            .live
            .entry((Arc::clone(&student), body.course_id))
        {
            Entry::Occupied(entry) => Err(AlreadyLive(*entry.get())),
            Entry::Vacant(slot) => {
                let order = new_order(&student, body, now);
                let ticket = self.record(OrderChange::Order(order.clone(), false));
                self.shared.orders.insert(order.id, order.clone());
                self.shared.work.insert(order.id, Work::new(true, false));
                self.shared
                    .by_student
                    .entry(student)
                    .or_default()
                    .insert(order.id);
                slot.insert(order.id);
                Ok((order, ticket))
            }
        }
    }

    pub fn get(&self, id: Uuid) -> Option<Order> {
        self.shared.orders.get(&id).map(|o| o.clone())
    }

    /// The order if it belongs to `student` (someone else's order reads as absent).
    pub fn get_owned(&self, id: Uuid, student: &str) -> Option<Order> {
        self.get(id).filter(|o| o.student_id == student)
    }

    /// Records the price course-service locked for the order's hold.
    pub fn record_price(
        &self,
        id: Uuid,
        unit_price_cents: i64,
        currency: &str,
        now: DateTime<Utc>,
    ) {
        if let Some(mut order) = self.shared.orders.get_mut(&id)
            && order.unit_price_cents.is_none()
        {
            order.unit_price_cents = Some(unit_price_cents);
            order.currency = Some(currency.to_owned());
            order.updated_at = now;
            // Not recorded on its own: the final state carries the price, and after a crash the
            // reconciler reads the price again from the reservation.
        }
    }

    /// Moves the order to its final state if the status rules allow it; returns the order as it
    /// stands afterwards either way, and the ticket of its durable record.
    pub fn finish(&self, id: Uuid, finish: Finish, now: DateTime<Utc>) -> Option<(Order, Ticket)> {
        let (order, cancel, ticket) = {
            let mut order = self.shared.orders.get_mut(&id)?;
            let allowed = match finish {
                Finish::Confirmed | Finish::Failed(_) => order.status == OrderStatus::Pending,
                Finish::Cancelled => {
                    matches!(order.status, OrderStatus::Pending | OrderStatus::Confirmed)
                }
            };
            let cancel = self.cancel_requested(id) && finish != Finish::Cancelled;
            let mut ticket = Ticket::ready();
            if allowed {
                (order.status, order.failure_code) = match finish {
                    Finish::Confirmed => (OrderStatus::Confirmed, None),
                    Finish::Failed(code) => (OrderStatus::Failed, Some(code)),
                    Finish::Cancelled => (OrderStatus::Cancelled, order.failure_code),
                };
                order.updated_at = now;
                ticket = self.record(OrderChange::Order(order.clone(), cancel));
            }
            (order.clone(), cancel, ticket)
        };
        let work_left = order.status == OrderStatus::Pending
            || (cancel && order.status == OrderStatus::Confirmed);
        if !work_left {
            self.shared.work.remove(&id);
        }
        if matches!(order.status, OrderStatus::Failed | OrderStatus::Cancelled) {
            let key = (Arc::from(order.student_id.as_str()), order.course_id);
            self.shared.live.remove_if(&key, |_, live| *live == id);
        }
        Some((order, ticket))
    }

    /// Records, durably, that the order's cancellation was asked for, before its seat is given
    /// back. Returns the order and the record's ticket, and whether the caller now holds the
    /// order's lease (false when a request placing it still does); `None` when the order is already
    /// final.
    pub fn request_cancel(&self, id: Uuid) -> Option<(Order, Ticket, bool)> {
        let order = self.shared.orders.get(&id)?;
        if !matches!(order.status, OrderStatus::Pending | OrderStatus::Confirmed) {
            return None;
        }
        let leased = match self.shared.work.entry(id) {
            Entry::Occupied(work) => {
                work.get().cancel.store(true, Ordering::Release);
                work.get()
                    .leased
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            }
            Entry::Vacant(slot) => {
                slot.insert(Work::new(true, true));
                true
            }
        };
        let ticket = self.record(OrderChange::Order(order.clone(), true));
        Some((order.clone(), ticket, leased))
    }

    /// Whether the order's cancellation was asked for and is not finished.
    pub fn cancel_requested(&self, id: Uuid) -> bool {
        self.shared
            .work
            .get(&id)
            .is_some_and(|w| w.cancel.load(Ordering::Acquire))
    }

    /// Orders with work left that nobody is working on.
    pub fn unleased_pending(&self) -> Vec<Uuid> {
        self.shared
            .work
            .iter()
            .filter(|e| !e.value().leased.load(Ordering::Acquire))
            .map(|e| *e.key())
            .collect()
    }

    /// Every order, in no particular order (for checks and reports).
    pub fn all(&self) -> Vec<Order> {
        self.shared
            .orders
            .iter()
            .map(|o| o.value().clone())
            .collect()
    }

    /// Number of orders with work left (pending, or being cancelled).
    pub fn pending_count(&self) -> usize {
        self.shared.work.len()
    }

    /// Takes the lease of an order with work left; false when it is taken or nothing is left.
    pub fn try_lease(&self, id: Uuid) -> bool {
        self.shared.work.get(&id).is_some_and(|w| {
            w.leased
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })
    }

    pub fn release_lease(&self, id: Uuid) {
        if let Some(work) = self.shared.work.get(&id) {
            work.leased.store(false, Ordering::Release);
        }
    }

    /// Up to `limit` of the student's orders older than `before`, newest first, optionally of one
    /// status, and whether more follow.
    pub fn list(
        &self,
        student: &str,
        status: Option<OrderStatus>,
        before: Option<Uuid>,
        limit: usize,
    ) -> (Vec<Order>, bool) {
        let ids: Vec<Uuid> = match self.shared.by_student.get(student) {
            Some(ids) => {
                let upper = before.map_or(Bound::Unbounded, Bound::Excluded);
                ids.range((Bound::Unbounded, upper))
                    .rev()
                    .copied()
                    .collect()
            }
            None => return (Vec::new(), false),
        };
        let mut matching = ids
            .into_iter()
            .filter_map(|id| self.get(id))
            .filter(|o| status.is_none_or(|s| o.status == s));
        let page: Vec<Order> = matching.by_ref().take(limit).collect();
        let more = matching.next().is_some();
        (page, more)
    }
}

impl OrderStore {
    /// Hands a change to the journal. Called while the change's map entry is locked, so changes
    /// of one order reach the journal in the order they were made.
    fn record(&self, change: OrderChange) -> Ticket {
        match &self.shared.journal {
            Some(journal) => journal.append(vec![change]),
            None => Ticket::ready(),
        }
    }

    /// False once the store has failed a write (the service must be restarted).
    pub fn storage_healthy(&self) -> bool {
        self.shared.journal.as_ref().is_none_or(Journal::healthy)
    }

    /// Resolves once every change made so far is durable.
    pub async fn flush(&self) -> Result<(), JournalError> {
        match &self.shared.journal {
            Some(journal) => journal.flush().wait().await,
            None => Ok(()),
        }
    }
}

fn new_order(student: &str, body: &CreateOrder, now: DateTime<Utc>) -> Order {
    Order {
        id: Uuid::now_v7(),
        student_id: student.to_owned(),
        course_id: body.course_id,
        reservation_id: Uuid::now_v7(),
        unit_price_cents: None,
        currency: None,
        status: OrderStatus::Pending,
        failure_code: None,
        created_at: now,
        updated_at: now,
    }
}
