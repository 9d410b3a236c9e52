//! What the model test drives: the embedded ledgers directly (in memory, or on a disk it can fail
//! and crash), or any backend through the storage port, so one model and one harness hold every
//! `SeatStore` implementation to the same rules.

use chrono::{DateTime, Utc};
use course_service::{
    domain::{
        CourseId, CourseSnapshot, EntryId, Held, HoldRequest, NewCourse, Reservation, ReservationId,
    },
    store::{
        Inspect, Refusal, SeatStore, StoreError, SweepReport, Waiting,
        embedded::{Inventory, Pending, sweep},
    },
};
use std::{future::Future, sync::Arc};
use storage_kit::journal::Ticket;

/// A store under test.
pub enum Subject {
    /// The embedded ledgers, called directly: answers come with their journal tickets.
    Ledgers(Inventory),
    /// A backend through its port: every answer is given (durable) when the call returns.
    Port {
        store: Arc<dyn SeatStore>,
        inspect: Arc<dyn Inspect>,
        runtime: tokio::runtime::Runtime,
    },
}

type Answer<T> = Pending<Result<T, Refusal>>;

fn refused<T>(answer: Result<T, StoreError>) -> Result<T, Refusal> {
    answer.map_err(|e| match e {
        StoreError::Refused(refusal) => refusal,
        StoreError::Unavailable { reason, .. } => panic!("the store failed: {reason}"),
    })
}

impl Subject {
    fn port<T>(&self, call: impl Future<Output = Result<T, StoreError>>) -> Answer<T> {
        match self {
            Subject::Port { runtime, .. } => Pending::ready(refused(runtime.block_on(call))),
            Subject::Ledgers(_) => unreachable!("only ports are called through futures"),
        }
    }

    fn store(&self) -> &Arc<dyn SeatStore> {
        match self {
            Subject::Port { store, .. } => store,
            Subject::Ledgers(_) => unreachable!("ledgers are called directly"),
        }
    }

    pub fn create_course(&self, course: NewCourse) -> Pending<CourseSnapshot> {
        match self {
            Subject::Ledgers(i) => i.create_course(course),
            Subject::Port { .. } => {
                let created = self.port(self.store().create_course(course));
                Pending::ready(created.unsynced().expect("course created"))
            }
        }
    }

    /// Every durable event of the embedded feed, oldest first (`None` through the port).
    pub fn feed(&self) -> Option<Vec<course_service::domain::feed::FeedEvent>> {
        let Subject::Ledgers(i) = self else {
            return None;
        };
        // Whatever the checks changed on the way (a read expires a lapsed hold) is durable first.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(i.flush())
            .expect("flush");
        let mut all = Vec::new();
        loop {
            let after = all
                .last()
                .map(|e: &course_service::domain::feed::FeedEvent| {
                    course_service::domain::feed::Cursor(e.seq)
                });
            let page = i.feed().read(after, 1000).expect("read the feed");
            if page.is_empty() {
                return Some(all);
            }
            all.extend(page);
        }
    }

    pub fn course(&self, id: CourseId) -> Answer<CourseSnapshot> {
        match self {
            Subject::Ledgers(i) => i.course(id),
            Subject::Port { .. } => self.port(self.store().course(id)),
        }
    }

    pub fn hold(&self, course: CourseId, id: ReservationId, request: &HoldRequest) -> Answer<Held> {
        match self {
            Subject::Ledgers(i) => i.hold(course, id, request),
            Subject::Port { .. } => self.port(self.store().hold(course, id, request)),
        }
    }

    pub fn reservation(&self, course: CourseId, id: ReservationId) -> Answer<Reservation> {
        match self {
            Subject::Ledgers(i) => i.reservation(course, id),
            Subject::Port { .. } => self.port(self.store().reservation(course, id)),
        }
    }

    pub fn confirm(&self, course: CourseId, id: ReservationId) -> Answer<Reservation> {
        match self {
            Subject::Ledgers(i) => i.confirm(course, id),
            Subject::Port { .. } => self.port(self.store().confirm(course, id)),
        }
    }

    pub fn cancel(&self, course: CourseId, id: ReservationId) -> Answer<Reservation> {
        match self {
            Subject::Ledgers(i) => i.cancel(course, id),
            Subject::Port { .. } => self.port(self.store().cancel(course, id)),
        }
    }

    pub fn release(&self, course: CourseId, id: ReservationId) -> Answer<Reservation> {
        match self {
            Subject::Ledgers(i) => i.release(course, id),
            Subject::Port { .. } => self.port(self.store().release(course, id)),
        }
    }

    pub fn set_price(&self, id: CourseId, owner: &str, price: i64) -> Answer<CourseSnapshot> {
        match self {
            Subject::Ledgers(i) => i.set_price(id, owner, price),
            Subject::Port { .. } => self.port(self.store().set_price(id, owner, price)),
        }
    }

    pub fn set_seats(&self, id: CourseId, owner: &str, total: u32) -> Answer<CourseSnapshot> {
        match self {
            Subject::Ledgers(i) => i.set_seats(id, owner, total),
            Subject::Port { .. } => self.port(self.store().set_seats(id, owner, total)),
        }
    }

    pub fn join_waitlist(&self, course: CourseId, student: &Arc<str>) -> Answer<(Waiting, bool)> {
        match self {
            Subject::Ledgers(i) => i.join_waitlist(course, student),
            Subject::Port { .. } => self.port(self.store().join_waitlist(course, student)),
        }
    }

    pub fn leave_waitlist(&self, id: EntryId, student: &str) -> Answer<Waiting> {
        match self {
            Subject::Ledgers(i) => i.leave_waitlist(id, student),
            Subject::Port { .. } => self.port(self.store().leave_waitlist(id, student)),
        }
    }

    pub fn waitlist_entry(&self, id: EntryId) -> Answer<Waiting> {
        match self {
            Subject::Ledgers(i) => i.waitlist_entry(id),
            Subject::Port { .. } => self.port(self.store().waitlist_entry(id)),
        }
    }

    /// A full sweep at `now` (the store's clock says the same).
    pub fn sweep(&self, now: DateTime<Utc>) -> SweepReport {
        match self {
            Subject::Ledgers(i) => sweep::sweep(i, now),
            Subject::Port { .. } => {
                refused(self.run(self.store().sweep())).expect("a sweep is never refused")
            }
        }
    }

    /// A ticket for everything so far (nothing to wait for through a port).
    pub fn barrier(&self) -> Ticket {
        match self {
            Subject::Ledgers(i) => i.barrier(),
            Subject::Port { .. } => Ticket::ready(),
        }
    }

    pub fn close(&self) {
        match self {
            Subject::Ledgers(i) => i.close(),
            Subject::Port { .. } => {
                let _ = self.run(self.store().close());
            }
        }
    }

    pub fn check_invariants(&self) -> Result<(), String> {
        match self {
            Subject::Ledgers(i) => i.check_invariants(),
            Subject::Port {
                inspect, runtime, ..
            } => runtime.block_on(inspect.check_invariants()),
        }
    }

    pub fn holds_of(&self, student: &str) -> u32 {
        match self {
            Subject::Ledgers(i) => i.holds_of(student),
            Subject::Port {
                inspect, runtime, ..
            } => runtime
                .block_on(inspect.holds_of(student))
                .expect("hold count"),
        }
    }

    fn run<T>(&self, call: impl Future<Output = T>) -> T {
        match self {
            Subject::Port { runtime, .. } => runtime.block_on(call),
            Subject::Ledgers(_) => unreachable!("ledgers are called directly"),
        }
    }
}
