//! The embedded store: the in-memory [`Inventory`] answers, and each change is acknowledged once
//! the embedded journal has it on disk (immediately with `STORAGE=memory`).

use super::{SeatStore, StoreError};
use crate::{
    domain::{CourseId, CourseSnapshot, Held, HoldRequest, NewCourse, Reservation, ReservationId},
    expiry::{self, SweepReport},
    inventory::{Inventory, Totals},
    metrics::TransitionCounters,
};
use async_trait::async_trait;

#[async_trait]
impl SeatStore for Inventory {
    async fn create_course(&self, course: NewCourse) -> Result<CourseSnapshot, StoreError> {
        Ok(Inventory::create_course(self, course).durable().await?)
    }

    async fn course(&self, id: CourseId) -> Result<CourseSnapshot, StoreError> {
        Ok(Inventory::course(self, id)?)
    }

    async fn list_courses(
        &self,
        instructor: Option<&str>,
        after: Option<CourseId>,
        limit: usize,
    ) -> Result<(Vec<CourseSnapshot>, bool), StoreError> {
        Ok(Inventory::list_courses(self, instructor, after, limit))
    }

    async fn set_price(
        &self,
        id: CourseId,
        owner: &str,
        price_cents: i64,
    ) -> Result<CourseSnapshot, StoreError> {
        Ok(Inventory::set_price(self, id, owner, price_cents)?
            .durable()
            .await?)
    }

    async fn set_seats(
        &self,
        id: CourseId,
        owner: &str,
        total: u32,
    ) -> Result<CourseSnapshot, StoreError> {
        Ok(Inventory::set_seats(self, id, owner, total)?
            .durable()
            .await?)
    }

    async fn hold(
        &self,
        course: CourseId,
        id: ReservationId,
        request: &HoldRequest,
    ) -> Result<Held, StoreError> {
        Ok(Inventory::hold(self, course, id, request)?
            .durable()
            .await?)
    }

    async fn reservation(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError> {
        Ok(Inventory::reservation(self, course, id)?)
    }

    async fn confirm(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError> {
        Ok(Inventory::confirm(self, course, id)?.durable().await?)
    }

    async fn cancel(&self, course: CourseId, id: ReservationId) -> Result<Reservation, StoreError> {
        Ok(Inventory::cancel(self, course, id)?.durable().await?)
    }

    async fn release(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError> {
        Ok(Inventory::release(self, course, id)?.durable().await?)
    }

    async fn sweep(&self) -> Result<SweepReport, StoreError> {
        // CPU-bound for large storms: off the request workers.
        let inventory = self.clone();
        tokio::task::spawn_blocking(move || expiry::sweep(&inventory, inventory.now()))
            .await
            .map_err(|e| StoreError::Unavailable(format!("expiry sweep failed: {e}")))
    }

    async fn totals(&self) -> Result<Totals, StoreError> {
        Ok(Inventory::totals(self))
    }

    fn transitions(&self) -> TransitionCounters {
        Inventory::transitions(self)
    }

    fn live(&self) -> bool {
        self.storage_healthy()
    }

    async fn ready(&self) -> (&'static str, bool) {
        ("storage", self.storage_healthy())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(Inventory::flush(self).await?)
    }

    async fn check_invariants(&self) -> Result<(), String> {
        Inventory::check_invariants(self)
    }

    async fn holds_of(&self, student: &str) -> Result<u32, StoreError> {
        Ok(Inventory::holds_of(self, student))
    }
}
