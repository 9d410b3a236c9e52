//! A course's waitlist: who waits, in which order, and what became of each entry.
//!
//! The queue and the entries only; when a seat is offered is the ledger's rule
//! ([`super::book`]), which owns a [`Waitlist`] and changes it under the same lock as the seats.
//! A student has at most one open (waiting or offered) entry per course; entries that ended stay,
//! so a student can read what became of them.

use super::{ReservationId, ids::EntryId, ranks::Ranks};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// In the queue.
    Waiting,
    /// A freed seat is held for the student (the offer's reservation).
    Offered,
    /// The offer was confirmed.
    Enrolled,
    /// The student left (or gave the offer up).
    Left,
    /// The offer ended without being confirmed.
    Lapsed,
}

impl EntryStatus {
    /// Waiting or offered.
    pub fn is_open(self) -> bool {
        matches!(self, EntryStatus::Waiting | EntryStatus::Offered)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Waiting => "waiting",
            EntryStatus::Offered => "offered",
            EntryStatus::Enrolled => "enrolled",
            EntryStatus::Left => "left",
            EntryStatus::Lapsed => "lapsed",
        }
    }

    pub fn parse(s: &str) -> Option<EntryStatus> {
        [
            EntryStatus::Waiting,
            EntryStatus::Offered,
            EntryStatus::Enrolled,
            EntryStatus::Left,
            EntryStatus::Lapsed,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// One student's place on one course's waitlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitEntry {
    pub id: EntryId,
    pub student: Arc<str>,
    pub status: EntryStatus,
    /// The offer's reservation, once offered.
    pub reservation: Option<ReservationId>,
    /// Join order within the course: lower joined earlier.
    pub joined: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A course's entries and its queue of waiting ones.
#[derive(Debug, Default)]
pub struct Waitlist {
    entries: FastMap<EntryId, WaitEntry>,
    /// Waiting entries by join order.
    queue: BTreeMap<u64, EntryId>,
    /// Each student's open entry.
    open: FastMap<Arc<str>, EntryId>,
    /// Offered entries by their reservation.
    offers: FastMap<ReservationId, EntryId>,
    /// The join numbers of the waiting entries, for their positions.
    ranks: Ranks,
    next_join: u64,
}

impl Waitlist {
    /// Rebuilds a waitlist from stored entries.
    pub fn restore(entries: impl IntoIterator<Item = WaitEntry>) -> Result<Waitlist, String> {
        let mut list = Waitlist::default();
        for entry in entries {
            list.next_join = list.next_join.max(entry.joined + 1);
            if entry.status.is_open()
                && list
                    .open
                    .insert(Arc::clone(&entry.student), entry.id)
                    .is_some()
            {
                return Err(format!(
                    "student {} has two open waitlist entries",
                    entry.student
                ));
            }
            match (entry.status, entry.reservation) {
                (EntryStatus::Waiting, _) => {
                    list.enqueue(entry.joined, entry.id);
                }
                (EntryStatus::Offered, Some(r)) => {
                    list.offers.insert(r, entry.id);
                }
                (EntryStatus::Offered, None) => {
                    return Err(format!("offered entry {} has no reservation", entry.id));
                }
                _ => {}
            }
            list.entries.insert(entry.id, entry);
        }
        Ok(list)
    }

    /// How many students wait.
    pub fn waiting(&self) -> u32 {
        u32::try_from(self.queue.len()).unwrap_or(u32::MAX)
    }

    pub fn get(&self, id: EntryId) -> Option<&WaitEntry> {
        self.entries.get(&id)
    }

    /// The student's open (waiting or offered) entry.
    pub fn open_of(&self, student: &str) -> Option<&WaitEntry> {
        self.open.get(student).and_then(|id| self.entries.get(id))
    }

    /// The entry whose offer is `reservation`.
    pub fn offer_of(&self, reservation: ReservationId) -> Option<EntryId> {
        self.offers.get(&reservation).copied()
    }

    /// 1 for the next student to get a seat; `None` unless the entry waits.
    pub fn position(&self, id: EntryId) -> Option<u32> {
        let entry = self.entries.get(&id)?;
        if entry.status != EntryStatus::Waiting {
            return None;
        }
        Some(self.ranks.before(entry.joined) + 1)
    }

    /// The next student to get a seat.
    pub fn first(&self) -> Option<&WaitEntry> {
        self.queue
            .first_key_value()
            .and_then(|(_, id)| self.entries.get(id))
    }

    /// Every entry, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = &WaitEntry> + '_ {
        self.entries.values()
    }

    /// A new waiting entry at the back of the queue. The caller checked the student has no open
    /// entry.
    pub fn join(&mut self, id: EntryId, student: Arc<str>, now: DateTime<Utc>) -> &WaitEntry {
        debug_assert!(!self.open.contains_key(&student));
        let joined = self.next_join;
        self.next_join += 1;
        self.enqueue(joined, id);
        self.open.insert(Arc::clone(&student), id);
        self.entries.entry(id).or_insert(WaitEntry {
            id,
            student,
            status: EntryStatus::Waiting,
            reservation: None,
            joined,
            created_at: now,
            updated_at: now,
        })
    }

    /// A waiting entry offered `reservation`.
    pub fn offer(&mut self, id: EntryId, reservation: ReservationId, now: DateTime<Utc>) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        if entry.status != EntryStatus::Waiting {
            return;
        }
        if self.queue.remove(&entry.joined).is_some() {
            self.ranks.unmark(entry.joined);
        }
        self.offers.insert(reservation, id);
        entry.status = EntryStatus::Offered;
        entry.reservation = Some(reservation);
        entry.updated_at = now;
    }

    /// Ends an open entry as `to` (enrolled, left or lapsed); returns the status it had, or
    /// `None` when it was not open.
    pub fn close(
        &mut self,
        id: EntryId,
        to: EntryStatus,
        now: DateTime<Utc>,
    ) -> Option<EntryStatus> {
        debug_assert!(!to.is_open());
        let entry = self.entries.get_mut(&id)?;
        let from = entry.status;
        if !from.is_open() {
            return None;
        }
        if self.queue.remove(&entry.joined).is_some() {
            self.ranks.unmark(entry.joined);
        }
        if let Some(r) = entry.reservation {
            self.offers.remove(&r);
        }
        if self.open.get(&entry.student) == Some(&id) {
            self.open.remove(&entry.student);
        }
        entry.status = to;
        entry.updated_at = now;
        Some(from)
    }

    fn enqueue(&mut self, joined: u64, id: EntryId) {
        if self.queue.insert(joined, id).is_none() {
            self.ranks.mark(joined);
        }
    }

    /// Checks the indexes agree with the entries. For tests.
    pub fn check(&self) -> Result<(), String> {
        let waiting = self
            .entries
            .values()
            .filter(|e| e.status == EntryStatus::Waiting)
            .count();
        let offered = self
            .entries
            .values()
            .filter(|e| e.status == EntryStatus::Offered)
            .count();
        if waiting != self.queue.len() || offered != self.offers.len() {
            return Err(format!(
                "{waiting} waiting and {offered} offered entries, but {} queued and {} offers indexed",
                self.queue.len(),
                self.offers.len()
            ));
        }
        if waiting + offered != self.open.len() {
            return Err("open entries and the index of students disagree".into());
        }
        if self.ranks.before(self.next_join) as usize != waiting {
            return Err("the positions count another number of waiting entries".into());
        }
        Ok(())
    }
}
