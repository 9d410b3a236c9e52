//! The embedded store: the in-memory [`OrderStore`] answers, and each change is acknowledged once
//! the embedded journal has it on disk (immediately with `STORAGE=memory`).

use super::{OrderRepo, Unavailable};
use crate::orders::{AlreadyLive, Claim, Finish, OrderStore, StoredReply};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shared_types::{CreateOrder, Order, OrderStatus};
use uuid::Uuid;

#[async_trait]
impl OrderRepo for OrderStore {
    async fn begin(
        &self,
        student: &str,
        body: &CreateOrder,
        now: DateTime<Utc>,
    ) -> Result<Result<Order, AlreadyLive>, Unavailable> {
        match OrderStore::begin(self, student, body, now) {
            Ok((order, recorded)) => {
                recorded.wait().await?;
                Ok(Ok(order))
            }
            Err(live) => Ok(Err(live)),
        }
    }

    async fn get(&self, id: Uuid) -> Result<Option<Order>, Unavailable> {
        Ok(OrderStore::get(self, id))
    }

    async fn record_price(
        &self,
        id: Uuid,
        unit_price_cents: i64,
        currency: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Unavailable> {
        OrderStore::record_price(self, id, unit_price_cents, currency, now);
        Ok(())
    }

    async fn finish(
        &self,
        id: Uuid,
        finish: Finish,
        now: DateTime<Utc>,
    ) -> Result<Option<Order>, Unavailable> {
        match OrderStore::finish(self, id, finish, now) {
            Some((order, recorded)) => {
                recorded.wait().await?;
                Ok(Some(order))
            }
            None => Ok(None),
        }
    }

    async fn request_cancel(&self, id: Uuid) -> Result<Option<(Order, bool)>, Unavailable> {
        match OrderStore::request_cancel(self, id) {
            Some((order, recorded, leased)) => {
                recorded.wait().await?;
                Ok(Some((order, leased)))
            }
            None => Ok(None),
        }
    }

    async fn cancel_requested(&self, id: Uuid) -> Result<bool, Unavailable> {
        Ok(OrderStore::cancel_requested(self, id))
    }

    async fn unleased_work(&self, _now: DateTime<Utc>) -> Result<Vec<Uuid>, Unavailable> {
        Ok(self.unleased_pending())
    }

    async fn work_count(&self) -> Result<u64, Unavailable> {
        Ok(self.pending_count() as u64)
    }

    async fn try_lease(&self, id: Uuid, _now: DateTime<Utc>) -> Result<bool, Unavailable> {
        Ok(OrderStore::try_lease(self, id))
    }

    fn release_lease(&self, id: Uuid) {
        OrderStore::release_lease(self, id);
    }

    async fn list(
        &self,
        student: &str,
        status: Option<OrderStatus>,
        before: Option<Uuid>,
        limit: usize,
    ) -> Result<(Vec<Order>, bool), Unavailable> {
        Ok(OrderStore::list(self, student, status, before, limit))
    }

    async fn claim_key(
        &self,
        student: &str,
        key: &str,
        body: &CreateOrder,
        now: DateTime<Utc>,
    ) -> Result<Claim, Unavailable> {
        Ok(OrderStore::claim_key(self, student, key, body, now))
    }

    async fn complete_key(
        &self,
        student: &str,
        key: &str,
        reply: StoredReply,
        now: DateTime<Utc>,
    ) -> Result<(), Unavailable> {
        Ok(OrderStore::complete_key(self, student, key, reply, now)
            .wait()
            .await?)
    }

    async fn forget_key(&self, student: &str, key: &str) -> Result<(), Unavailable> {
        OrderStore::forget_key(self, student, key);
        Ok(())
    }

    async fn purge_keys(&self, now: DateTime<Utc>) -> Result<usize, Unavailable> {
        Ok(OrderStore::purge_keys(self, now))
    }

    fn live(&self) -> bool {
        self.storage_healthy()
    }

    async fn ready(&self) -> (&'static str, bool) {
        ("storage", self.storage_healthy())
    }

    async fn flush(&self) -> Result<(), Unavailable> {
        Ok(OrderStore::flush(self).await?)
    }

    async fn all(&self) -> Result<Vec<Order>, Unavailable> {
        Ok(OrderStore::all(self))
    }
}
