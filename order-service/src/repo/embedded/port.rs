//! The embedded backend's faces: [`OrderRepo`], [`KeyStore`] and [`Inspect`]. Each answer (a
//! change, a replay, a refusal, a read) is given once the journal has on disk whatever it reports
//! (at once with `STORAGE=memory`). Reads take their barrier after reading, so it covers the
//! record of every change they saw. Only an advance of a pending order answers without waiting:
//! nobody is answered with it until the order's next record, or a read's barrier, which covers it.

use super::{EmbeddedRepo, OrderChange};
use crate::{
    domain::{NewOrder, Offer, Order, OrderId, Status, Step, StudentId, Transition},
    idempotency::{Claim, IdempotencyKey, KeyStore, KeyStoreError, StoredReply},
    repo::{AlreadyLive, Applied, Begun, Note, OrderRepo, RepoError, testing::Inspect},
};
use async_trait::async_trait;
use shared_types::CreateOrder;
use storage_kit::journal::JournalError;

#[async_trait]
impl OrderRepo for EmbeddedRepo {
    async fn begin(&self, request: &NewOrder) -> Result<Result<Order, AlreadyLive>, RepoError> {
        let (begun, recorded) = EmbeddedRepo::begin(self, request);
        recorded.wait().await?;
        Ok(begun)
    }

    async fn begin_offer(&self, offer: &Offer) -> Result<Result<Begun, AlreadyLive>, RepoError> {
        let (begun, recorded) = EmbeddedRepo::begin_offer(self, offer);
        recorded.wait().await?;
        Ok(begun)
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, RepoError> {
        let order = EmbeddedRepo::get(self, id);
        self.barrier().wait().await?;
        Ok(order)
    }

    async fn apply(
        &self,
        id: OrderId,
        transition: Transition,
        note: Note,
    ) -> Result<Option<Applied>, RepoError> {
        let Some((applied, recorded)) = EmbeddedRepo::apply(self, id, transition, note) else {
            self.barrier().wait().await?;
            return Ok(None);
        };
        if matches!(transition, Transition::Advance { .. }) && applied.applied {
            // Dropping the ticket leaves the record on its way: see the module docs.
            drop(recorded);
            self.healthy_ticket().wait().await?;
        } else {
            recorded.wait().await?;
        }
        Ok(Some(applied))
    }

    async fn park(
        &self,
        id: OrderId,
        at: Step,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, RepoError> {
        self.healthy_ticket().wait().await?;
        Ok(EmbeddedRepo::park(self, id, at, until))
    }

    async fn event_seen(&self, event_id: &str) -> Result<bool, RepoError> {
        let seen = self.shared.events.contains_key(event_id);
        self.barrier().wait().await?;
        Ok(seen)
    }

    async fn note_event(&self, event_id: &str) -> Result<(), RepoError> {
        let ticket = self.record(OrderChange::Event {
            id: event_id.to_owned(),
            at: self.clock.now(),
        });
        self.shared.events.insert(event_id.to_owned(), ());
        ticket.wait().await?;
        Ok(())
    }

    async fn request_cancel(&self, id: OrderId) -> Result<Option<(Order, bool)>, RepoError> {
        match EmbeddedRepo::request_cancel(self, id) {
            Some((order, recorded, leased)) => {
                recorded.wait().await?;
                Ok(Some((order, leased)))
            }
            None => {
                self.barrier().wait().await?;
                Ok(None)
            }
        }
    }

    async fn unleased_work(&self) -> Result<Vec<OrderId>, RepoError> {
        let work = EmbeddedRepo::unleased_work(self);
        self.barrier().wait().await?;
        Ok(work)
    }

    async fn work_count(&self) -> Result<u64, RepoError> {
        Ok(self.work_len() as u64)
    }

    async fn try_lease(&self, id: OrderId) -> Result<bool, RepoError> {
        self.healthy_ticket().wait().await?;
        Ok(EmbeddedRepo::try_lease(self, id))
    }

    async fn release_lease(&self, id: OrderId) -> Result<(), RepoError> {
        EmbeddedRepo::release_lease(self, id);
        Ok(())
    }

    async fn list(
        &self,
        student: &StudentId,
        status: Option<Status>,
        before: Option<OrderId>,
        limit: usize,
    ) -> Result<(Vec<Order>, bool), RepoError> {
        let page = EmbeddedRepo::list(self, student, status, before, limit);
        self.barrier().wait().await?;
        Ok(page)
    }

    fn live(&self) -> bool {
        self.storage_healthy()
    }

    async fn ready(&self) -> (&'static str, bool) {
        ("storage", self.storage_healthy())
    }

    async fn close(&self) -> Result<(), RepoError> {
        Ok(self.flush_and_close().await?)
    }
}

fn failed(e: JournalError) -> KeyStoreError {
    RepoError::from(e).into()
}

#[async_trait]
impl KeyStore for EmbeddedRepo {
    async fn claim_key(
        &self,
        student: &StudentId,
        key: &IdempotencyKey,
        body: &CreateOrder,
    ) -> Result<Claim, KeyStoreError> {
        let (claim, ticket) = EmbeddedRepo::claim_key(self, student, key, body);
        if let Err(e) = ticket.wait().await {
            if claim == Claim::Fresh {
                EmbeddedRepo::forget_key(self, student, key);
            }
            return Err(failed(e));
        }
        Ok(claim)
    }

    async fn complete_key(
        &self,
        student: &StudentId,
        key: &IdempotencyKey,
        reply: StoredReply,
    ) -> Result<(), KeyStoreError> {
        EmbeddedRepo::complete_key(self, student, key, reply)
            .wait()
            .await
            .map_err(failed)
    }

    async fn forget_key(
        &self,
        student: &StudentId,
        key: &IdempotencyKey,
    ) -> Result<(), KeyStoreError> {
        EmbeddedRepo::forget_key(self, student, key);
        self.healthy_ticket().wait().await.map_err(failed)
    }

    async fn purge_keys(&self) -> Result<usize, KeyStoreError> {
        Ok(EmbeddedRepo::purge_keys(self))
    }
}

#[async_trait]
impl Inspect for EmbeddedRepo {
    async fn all(&self) -> Result<Vec<Order>, RepoError> {
        let all = EmbeddedRepo::all(self);
        self.barrier().wait().await?;
        Ok(all)
    }

    async fn keys_of(&self, student: &StudentId) -> Result<usize, RepoError> {
        Ok(EmbeddedRepo::keys_of(self, student))
    }
}
