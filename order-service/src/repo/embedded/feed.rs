//! The embedded backend's side of the waitlist: recording an offer's order under the id the offer
//! names (once, however often the offer is read), and the feed follower's cursor (durable, a
//! record of its own) and lease (in memory: one process owns the store, so a lease only keeps
//! two followers of one process apart, and a restart frees it).
//!
//! The feed's record is behind a mutex of its own, never held with a map entry; a new cursor
//! reaches the journal while it is held, so cursors are recorded in the order they were stored.

use super::{EmbeddedRepo, OrderChange};
use crate::{
    domain::{Offer, Order, rules},
    feed::{FeedStore, Lead},
    repo::{AlreadyLive, Begun, RepoError},
};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use dashmap::mapref::entry::Entry;
use storage_kit::journal::Ticket;

/// The follower's place and who follows.
#[derive(Debug, Default)]
pub(super) struct FeedState {
    /// The cursor stored last (durable).
    pub cursor: Option<String>,
    holder: Option<String>,
    lease_until: Option<DateTime<Utc>>,
}

impl EmbeddedRepo {
    /// Records the order of `offer` unless an order with its id exists (then that one) or the
    /// student has another live order for the course. Holds the student's live slot (slots before
    /// orders, the lock order) while it looks for the id, so two recordings of one offer meet
    /// there and one of them records it.
    pub(super) fn begin_offer(&self, offer: &Offer) -> (Result<Begun, AlreadyLive>, Ticket) {
        let now = self.clock.now();
        let id = offer.order_id();
        match self
            .shared
            .live
            .entry((offer.student.clone(), offer.course))
        {
            Entry::Occupied(live) => {
                let other = *live.get();
                let found = self.get(id);
                drop(live);
                let answer = found.map(Begun::Existing).ok_or(AlreadyLive(other));
                (answer, self.barrier())
            }
            Entry::Vacant(slot) => {
                if let Some(order) = self.get(id) {
                    drop(slot);
                    return (Ok(Begun::Existing(order)), self.barrier());
                }
                let order = Order::for_offer(offer, now);
                let ticket = self.insert_leased(&order, now);
                slot.insert(order.id);
                (Ok(Begun::New(order)), ticket)
            }
        }
    }

    /// Stores `cursor` if `holder` holds an unexpired lease; the ticket of its record.
    fn store_cursor(&self, holder: &str, cursor: &str, lease: TimeDelta) -> Option<Ticket> {
        let now = self.clock.now();
        let mut feed = self.shared.feed.lock();
        let holds =
            feed.holder.as_deref() == Some(holder) && !rules::lease_free(feed.lease_until, now);
        if !holds {
            return None;
        }
        feed.cursor = Some(cursor.to_owned());
        feed.lease_until = Some(now + lease);
        Some(self.record(OrderChange::FeedCursor(cursor.to_owned())))
    }

    /// Takes or renews the lease for `holder` unless another's runs; the stored cursor if taken.
    fn take_feed(&self, holder: &str, lease: TimeDelta) -> Option<Option<String>> {
        let now = self.clock.now();
        let mut feed = self.shared.feed.lock();
        let free = feed.holder.as_deref().is_none_or(|h| h == holder)
            || rules::lease_free(feed.lease_until, now);
        if !free {
            return None;
        }
        feed.holder = Some(holder.to_owned());
        feed.lease_until = Some(now + lease);
        Some(feed.cursor.clone())
    }
}

#[async_trait]
impl FeedStore for EmbeddedRepo {
    async fn lead_feed(&self, holder: &str, lease: TimeDelta) -> Result<Option<Lead>, RepoError> {
        let taken = self.take_feed(holder, lease);
        // The cursor reported is durable before the follower reads on from it.
        self.barrier().wait().await?;
        Ok(taken.map(|cursor| Lead { cursor }))
    }

    async fn save_feed_cursor(
        &self,
        holder: &str,
        cursor: &str,
        lease: TimeDelta,
    ) -> Result<bool, RepoError> {
        match self.store_cursor(holder, cursor, lease) {
            Some(recorded) => {
                recorded.wait().await?;
                Ok(true)
            }
            None => {
                self.healthy_ticket().wait().await?;
                Ok(false)
            }
        }
    }

    async fn release_feed(&self, holder: &str) -> Result<(), RepoError> {
        let mut feed = self.shared.feed.lock();
        if feed.holder.as_deref() == Some(holder) {
            (feed.holder, feed.lease_until) = (None, None);
        }
        Ok(())
    }
}
