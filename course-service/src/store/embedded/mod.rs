//! The embedded store: the in-memory [`Inventory`] answers, and each answer is given once the
//! embedded journal has on disk every change it reports (immediately with `STORAGE=memory`):
//! changes, replays, refusals and reads alike.

pub mod catalog;
pub mod deadlines;
pub mod feed;
pub mod inventory;
pub mod pending;
pub mod records;
mod reports;
pub mod slots;
pub mod sweep;

pub use inventory::Inventory;
pub use pending::Pending;

/// A map shared across courses that grows with the number of students (their hold counts, their
/// waitlist entries), in many shards: a shard that doubles moves a few thousand entries at a
/// million students, instead of an eighth of them, while its lock is held.
pub(crate) fn sharded<K: Eq + std::hash::Hash, V>() -> dashmap::DashMap<K, V> {
    dashmap::DashMap::with_shard_amount(256)
}

use super::{Inspect, Refusal, SeatStore, StoreError, SweepReport, Totals, Transitions, Waiting};
use crate::{
    clock::Clock,
    config::Config,
    domain::Sales,
    domain::{
        CourseId, CourseSnapshot, EntryId, Held, HoldRequest, NewCourse, Reservation,
        ReservationId,
        feed::{Cursor, FeedEvent},
    },
};
use anyhow::Context;
use async_trait::async_trait;
use std::sync::Arc;
use storage_kit::journal::{Faults, StorageMode, Store};

/// The store's directory under DATA_DIR.
pub const STORE_DIR: &str = "course-service";

/// The inventory, in memory or restored from the embedded store, with holds that lapsed while
/// the service was down expired. A store that cannot be opened or read is an error: the service
/// never starts empty over existing data.
pub async fn open(
    config: &Config,
    clock: Arc<dyn Clock>,
    ttl: chrono::TimeDelta,
) -> anyhow::Result<Inventory> {
    let limit = config.max_holds_per_student;
    if config.storage.mode == StorageMode::Memory {
        tracing::warn!("STORAGE=memory: courses and holds are lost when the service stops");
        return Ok(Inventory::restore(clock, ttl, limit, Vec::new(), None));
    }
    let store = Store::open(&config.storage.data_dir, STORE_DIR).context("refusing to start")?;
    let path = std::path::absolute(store.path()).unwrap_or_else(|_| store.path().to_owned());
    let inventory = from_store(store, config.storage.faults.clone(), clock, ttl, limit)
        .with_context(|| format!("refusing to start: cannot load {}", path.display()))?;
    let courses = inventory.totals().courses;
    let lapsed = sweep::sweep(&inventory, inventory.now());
    inventory
        .flush()
        .await
        .context("cannot record holds that lapsed while the service was down")?;
    tracing::info!(store = %path.display(), courses, expired_while_down = lapsed.expired, "state loaded");
    Ok(inventory)
}

/// Reads `store` back and writes through it from now on: the inventory and its feed as the store
/// had them, limiting each student to `limit` holds (0: no limit).
pub fn from_store(
    store: Store,
    faults: Faults,
    clock: Arc<dyn Clock>,
    ttl: chrono::TimeDelta,
    limit: u32,
) -> anyhow::Result<Inventory> {
    let books = records::load(&store)?;
    let events = store.reader(feed::EVENTS)?;
    let journal = store.into_journal_with(faults);
    let feed = feed::Feed::restore(events, journal.watch())?;
    Ok(Inventory::restore(
        clock,
        ttl,
        limit,
        books,
        Some((journal, feed)),
    ))
}

#[async_trait]
impl SeatStore for Inventory {
    async fn create_course(&self, course: NewCourse) -> Result<CourseSnapshot, StoreError> {
        Ok(Inventory::create_course(self, course).durable().await?)
    }

    async fn course(&self, id: CourseId) -> Result<CourseSnapshot, StoreError> {
        Ok(Inventory::course(self, id).durable().await??)
    }

    async fn sales(&self, id: CourseId) -> Result<Sales, StoreError> {
        Ok(Inventory::sales(self, id).durable().await??)
    }

    async fn list_courses(
        &self,
        instructor: Option<&str>,
        after: Option<CourseId>,
        limit: usize,
    ) -> Result<(Vec<CourseSnapshot>, bool), StoreError> {
        Ok(Inventory::list_courses(self, instructor, after, limit)
            .durable()
            .await?)
    }

    async fn set_price(
        &self,
        id: CourseId,
        owner: &str,
        price_cents: i64,
    ) -> Result<CourseSnapshot, StoreError> {
        Ok(Inventory::set_price(self, id, owner, price_cents)
            .durable()
            .await??)
    }

    async fn set_seats(
        &self,
        id: CourseId,
        owner: &str,
        total: u32,
    ) -> Result<CourseSnapshot, StoreError> {
        Ok(Inventory::set_seats(self, id, owner, total)
            .durable()
            .await??)
    }

    async fn hold(
        &self,
        course: CourseId,
        id: ReservationId,
        request: &HoldRequest,
    ) -> Result<Held, StoreError> {
        Ok(Inventory::hold(self, course, id, request)
            .durable()
            .await??)
    }

    async fn reservation(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError> {
        Ok(Inventory::reservation(self, course, id).durable().await??)
    }

    async fn confirm(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError> {
        Ok(Inventory::confirm(self, course, id).durable().await??)
    }

    async fn cancel(&self, course: CourseId, id: ReservationId) -> Result<Reservation, StoreError> {
        Ok(Inventory::cancel(self, course, id).durable().await??)
    }

    async fn release(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError> {
        Ok(Inventory::release(self, course, id).durable().await??)
    }

    async fn join_waitlist(
        &self,
        course: CourseId,
        student: &Arc<str>,
    ) -> Result<(Waiting, bool), StoreError> {
        Ok(Inventory::join_waitlist(self, course, student)
            .durable()
            .await??)
    }

    async fn waitlist_entry(&self, id: EntryId) -> Result<Waiting, StoreError> {
        Ok(Inventory::waitlist_entry(self, id).durable().await??)
    }

    async fn waitlist_of(&self, student: &str) -> Result<Vec<Waiting>, StoreError> {
        Ok(Inventory::waitlist_of(self, student).durable().await?)
    }

    async fn leave_waitlist(&self, id: EntryId, student: &str) -> Result<Waiting, StoreError> {
        Ok(Inventory::leave_waitlist(self, id, student)
            .durable()
            .await??)
    }

    async fn sweep(&self) -> Result<SweepReport, StoreError> {
        // CPU-bound for large storms: off the request workers.
        let inventory = self.clone();
        let swept = {
            let inventory = inventory.clone();
            tokio::task::spawn_blocking(move || sweep::sweep(&inventory, inventory.now()))
                .await
                .map_err(|e| StoreError::unavailable("the expiry sweep stopped", e))?
        };
        // Reported only once the expiries are durable (and not at all once the store failed).
        inventory.flush().await?;
        Ok(swept)
    }

    async fn totals(&self) -> Result<Totals, StoreError> {
        Ok(Inventory::totals(self))
    }

    async fn events(
        &self,
        after: Option<Cursor>,
        limit: usize,
        wait: std::time::Duration,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let failed = || {
            StoreError::unavailable_for("the store failed a write; the service must be restarted")
        };
        if !self.storage_healthy() {
            return Err(failed());
        }
        let events = self
            .feed()
            .wait(after, limit, wait)
            .await
            .map_err(|e| match e {
                feed::FeedError::CursorExpired => StoreError::Refused(Refusal::CursorExpired),
                feed::FeedError::CursorUnknown => StoreError::Refused(Refusal::CursorUnknown),
                feed::FeedError::Store(why) => StoreError::unavailable_for(why),
            })?;
        // Fail-stop holds for a long poll too: a write that failed while it waited ends it.
        if self.storage_healthy() {
            Ok(events)
        } else {
            Err(failed())
        }
    }

    async fn feed_head(&self) -> Result<Cursor, StoreError> {
        Ok(Cursor(self.feed().head()))
    }

    async fn trim_events(&self, cutoff: chrono::DateTime<chrono::Utc>) -> Result<u64, StoreError> {
        Ok(Inventory::trim_events(self, cutoff).await?)
    }

    fn transitions(&self) -> Transitions {
        Inventory::transitions(self)
    }

    fn live(&self) -> bool {
        self.storage_healthy()
    }

    async fn ready(&self) -> (&'static str, bool) {
        ("storage", self.storage_healthy())
    }

    async fn close(&self) -> Result<(), StoreError> {
        let flushed = Inventory::flush(self).await;
        Inventory::close(self);
        Ok(flushed?)
    }
}

#[async_trait]
impl Inspect for Inventory {
    async fn check_invariants(&self) -> Result<(), String> {
        Inventory::check_invariants(self)
    }

    async fn holds_of(&self, student: &str) -> Result<u32, StoreError> {
        Ok(Inventory::holds_of(self, student))
    }
}
