//! The orders in memory: recording a new order under its student's live slot, applying the rule
//! book's transitions, the work left and its leases, listing. Every operation is synchronous and
//! hands back the journal ticket its caller waits for (see the module docs of
//! [`super`] for the locks and the waiting).

use super::{EmbeddedRepo, OrderChange};
use crate::{
    domain::{NewOrder, Order, OrderId, Status, Step, StudentId, Transition, rules},
    repo::{AlreadyLive, Applied, Note},
};
use chrono::{DateTime, Utc};
use dashmap::mapref::entry::Entry;
use std::{
    ops::Bound,
    sync::atomic::{AtomicI64, Ordering},
};
use storage_kit::journal::Ticket;

/// Work left on an order: until when someone holds its lease.
#[derive(Debug)]
pub(super) struct Work {
    /// Microseconds since the epoch; [`NO_LEASE`] when nobody holds it.
    lease_until: AtomicI64,
}

const NO_LEASE: i64 = i64::MIN;

impl Work {
    pub(super) fn unleased() -> Self {
        Work {
            lease_until: AtomicI64::new(NO_LEASE),
        }
    }

    fn leased_until(until: DateTime<Utc>) -> Self {
        Work {
            lease_until: AtomicI64::new(until.timestamp_micros()),
        }
    }

    fn until(micros: i64) -> Option<DateTime<Utc>> {
        (micros != NO_LEASE)
            .then(|| DateTime::from_timestamp_micros(micros))
            .flatten()
    }

    fn free_at(&self, now: DateTime<Utc>) -> bool {
        rules::lease_free(Work::until(self.lease_until.load(Ordering::Acquire)), now)
    }

    /// Takes the lease until `until` if it is free at `now`.
    fn try_take(&self, now: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        let current = self.lease_until.load(Ordering::Acquire);
        rules::lease_free(Work::until(current), now)
            && self
                .lease_until
                .compare_exchange(
                    current,
                    until.timestamp_micros(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    fn release(&self) {
        self.lease_until.store(NO_LEASE, Ordering::Release);
    }
}

impl EmbeddedRepo {
    /// Records a new order, leased to the caller, unless the student already has a live order for
    /// this course.
    pub(super) fn begin(&self, request: &NewOrder) -> (Result<Order, AlreadyLive>, Ticket) {
        let now = self.clock.now();
        let shared = &self.shared;
        match shared.live.entry((request.student.clone(), request.course)) {
            Entry::Occupied(entry) => {
                let live = AlreadyLive(*entry.get());
                drop(entry);
                (Err(live), self.barrier())
            }
            Entry::Vacant(slot) => {
                let order = Order::new(request, now);
                let ticket = self.insert_leased(&order, now);
                slot.insert(order.id);
                (Ok(order), ticket)
            }
        }
    }

    /// Adds a new order, leased to the caller, to the maps (all but its live slot, which the
    /// caller holds and fills after); the ticket of its record.
    pub(super) fn insert_leased(&self, order: &Order, now: DateTime<Utc>) -> Ticket {
        let shared = &self.shared;
        let ticket = self.record(OrderChange::Order(order.clone()));
        shared.orders.insert(order.id, order.clone());
        shared
            .work
            .insert(order.id, Work::leased_until(now + self.lease));
        shared
            .by_student
            .entry(order.student.clone())
            .or_default()
            .insert(order.id);
        ticket
    }

    pub(super) fn get(&self, id: OrderId) -> Option<Order> {
        self.shared.orders.get(&id).map(|o| o.clone())
    }

    /// Applies `transition` if the rules allow it and it makes no second live order, and writes
    /// `note`; the order as it stands afterwards, and the ticket of its record (a barrier if
    /// nothing changed).
    pub(super) fn apply(
        &self,
        id: OrderId,
        transition: Transition,
        note: Note,
    ) -> Option<(Applied, Ticket)> {
        let now = self.clock.now();
        // A transition that makes a failed or cancelled order live again (only a payment that
        // came late does) takes its live slot first (slots before orders, the lock order); it
        // gives it back if it does not apply.
        let may_revive = matches!(transition, Transition::Paid { .. });
        let revives = may_revive.then(|| self.get(id)).flatten().filter(|order| {
            !rules::is_live(order.status)
                && rules::apply(order.state(), order.failure, transition)
                    .is_some_and(|(s, _)| rules::is_live(s.status))
        });
        let slot = match &revives {
            Some(order) => {
                let key = (order.student.clone(), order.course);
                match self.shared.live.entry(key.clone()) {
                    Entry::Occupied(_) => None,
                    Entry::Vacant(slot) => {
                        slot.insert(id);
                        Some(key)
                    }
                }
            }
            None => None,
        };
        let (applied, ticket) = {
            let mut order = self.shared.orders.get_mut(&id)?;
            let next = rules::apply(order.state(), order.failure, transition).filter(|(s, _)| {
                rules::is_live(order.status) || !rules::is_live(s.status) || slot.is_some()
            });
            let mut changed = order.clone();
            let mut visible = note.write_into(&mut changed, next.is_some());
            if next.is_none() && changed == *order {
                // Nothing changes: the state reported may still be on its way to disk.
                let unchanged = Applied {
                    order: order.clone(),
                    applied: false,
                };
                drop(order);
                self.give_back_slot(slot, id);
                return Some((unchanged, self.barrier()));
            }
            if let Some((state, failure)) = next {
                visible |= state.status != changed.status;
                (changed.status, changed.step, changed.failure) =
                    (state.status, state.step, failure);
            }
            if visible {
                changed.updated_at = now;
            }
            *order = changed;
            let ticket = self.record(OrderChange::Order(order.clone()));
            if rules::has_work(order.state()) {
                self.shared.work.entry(id).or_insert_with(Work::unleased);
            } else {
                self.shared.work.remove(&id);
            }
            let applied = Applied {
                order: order.clone(),
                applied: next.is_some(),
            };
            (applied, ticket)
        };
        if !rules::is_live(applied.order.status) {
            let key = (applied.order.student.clone(), applied.order.course);
            self.shared.live.remove_if(&key, |_, live| *live == id);
        }
        Some((applied, ticket))
    }

    fn give_back_slot(&self, slot: Option<(StudentId, crate::domain::CourseId)>, id: OrderId) {
        if let Some(key) = slot {
            self.shared.live.remove_if(&key, |_, live| *live == id);
        }
    }

    /// Sets the lease of an order still at step `at` until `until`.
    pub(super) fn park(&self, id: OrderId, at: Step, until: DateTime<Utc>) -> bool {
        let Some(order) = self.shared.orders.get(&id) else {
            return false;
        };
        if order.step != at {
            return false;
        }
        match self.shared.work.get(&id) {
            Some(work) => {
                work.lease_until
                    .store(until.timestamp_micros(), Ordering::Release);
                true
            }
            None => false,
        }
    }

    /// Records that the order's cancellation was asked for, then takes its lease if it is free.
    /// `None` when the order is not live.
    pub(super) fn request_cancel(&self, id: OrderId) -> Option<(Order, Ticket, bool)> {
        let now = self.clock.now();
        let mut order = self.shared.orders.get_mut(&id)?;
        let (state, _) = rules::apply(order.state(), order.failure, Transition::RequestCancel)?;
        order.step = state.step;
        // Recorded before the cancellation shows (the step, the work entry), so a reconciler that
        // sees it and waits for a barrier acts on a durable request only.
        let ticket = self.record(OrderChange::Order(order.clone()));
        let leased = match self.shared.work.entry(id) {
            Entry::Occupied(work) => work.get().try_take(now, now + self.lease),
            Entry::Vacant(slot) => {
                slot.insert(Work::leased_until(now + self.lease));
                true
            }
        };
        Some((order.clone(), ticket, leased))
    }

    /// Orders with work left whose lease is free now.
    pub(super) fn unleased_work(&self) -> Vec<OrderId> {
        let now = self.clock.now();
        self.shared
            .work
            .iter()
            .filter(|e| e.value().free_at(now))
            .map(|e| *e.key())
            .collect()
    }

    /// Takes the lease of an order with work left; false when it is taken or nothing is left.
    pub(super) fn try_lease(&self, id: OrderId) -> bool {
        let now = self.clock.now();
        self.shared
            .work
            .get(&id)
            .is_some_and(|w| w.try_take(now, now + self.lease))
    }

    pub(super) fn release_lease(&self, id: OrderId) {
        if let Some(work) = self.shared.work.get(&id) {
            work.release();
        }
    }

    /// Up to `limit` of the student's orders older than `before`, newest first, optionally of one
    /// status, and whether more follow.
    pub(super) fn list(
        &self,
        student: &StudentId,
        status: Option<Status>,
        before: Option<OrderId>,
        limit: usize,
    ) -> (Vec<Order>, bool) {
        let ids: Vec<OrderId> = match self.shared.by_student.get(student) {
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

    /// Every order, in no particular order.
    pub(super) fn all(&self) -> Vec<Order> {
        self.shared
            .orders
            .iter()
            .map(|o| o.value().clone())
            .collect()
    }

    /// Puts an order read from disk back, with its live slot and its work (unleased: whoever
    /// worked on it stopped with the process). Refuses a second live order of one student and
    /// course.
    pub(super) fn restore_order(&self, order: Order) -> anyhow::Result<()> {
        let shared = &self.shared;
        if rules::is_live(order.status)
            && let Some(other) = shared
                .live
                .insert((order.student.clone(), order.course), order.id)
        {
            anyhow::bail!(
                "student {} has two live orders for course {}: {other} and {}",
                order.student,
                order.course,
                order.id
            );
        }
        if rules::has_work(order.state()) {
            shared.work.insert(order.id, Work::unleased());
        }
        shared
            .by_student
            .entry(order.student.clone())
            .or_default()
            .insert(order.id);
        shared.orders.insert(order.id, order);
        Ok(())
    }
}
