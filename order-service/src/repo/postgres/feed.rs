//! The waitlist's side in PostgreSQL: recording an offer's order under the id the offer names
//! (`ON CONFLICT DO NOTHING` over every unique index: the id, the reservation, one live order per
//! student and course; then the order found under the id, or the student's live order, says which
//! one refused it), and the one row of `feed_follower`: the cursor, and the lease taken, renewed
//! and given up by conditional updates, so that two replicas never both follow the feed and a
//! cursor is stored only under an unexpired lease.

use super::{
    PgRepo, db,
    rows::{OrderRow, order_columns},
};
use crate::{
    domain::{Offer, Order, OrderId},
    feed::{FeedStore, Lead},
    repo::{AlreadyLive, Begun, RepoError},
};
use async_trait::async_trait;
use chrono::TimeDelta;

/// How often recording an offer's order is tried when what refused it ended in between.
const OFFER_ATTEMPTS: usize = 3;

impl PgRepo {
    pub(super) async fn insert_offer(
        &self,
        offer: &Offer,
    ) -> Result<Result<Begun, AlreadyLive>, RepoError> {
        for _ in 0..OFFER_ATTEMPTS {
            let now = self.clock.now();
            let order = Order::for_offer(offer, now);
            let inserted: Option<OrderRow> = sqlx::query_as(concat!(
                "INSERT INTO orders (id, student_id, course_id, reservation_id, \
                 expected_price_cents, status, step, lease_until, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
                 ON CONFLICT DO NOTHING RETURNING ",
                order_columns!()
            ))
            .bind(order.id.as_uuid())
            .bind(order.student.as_str())
            .bind(order.course.as_uuid())
            .bind(order.reservation.as_uuid())
            .bind(order.expected_price_cents)
            .bind(order.status.as_str())
            .bind(order.step.as_str())
            .bind(now + self.lease)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
            if let Some(row) = inserted {
                return Ok(Ok(Begun::New(Order::try_from(row)?)));
            }
            if let Some(existing) = self.select(order.id).await? {
                return Ok(Ok(Begun::Existing(existing)));
            }
            if let Some(live) = self.live_order(offer).await? {
                return Ok(Err(AlreadyLive(live)));
            }
            // The live order that refused it ended between the statements: try again.
        }
        Err(RepoError::Corrupt(format!(
            "the order of offer {} is neither recorded nor refused by a live order",
            offer.reservation
        )))
    }

    async fn live_order(&self, offer: &Offer) -> Result<Option<OrderId>, RepoError> {
        let live: Option<(uuid::Uuid,)> = sqlx::query_as(
            "SELECT id FROM orders WHERE student_id = $1 AND course_id = $2 \
             AND status IN ('pending', 'awaiting_payment', 'confirmed')",
        )
        .bind(offer.student.as_str())
        .bind(offer.course.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(live.map(|(id,)| OrderId::from_uuid(id)))
    }
}

#[async_trait]
impl FeedStore for PgRepo {
    async fn lead_feed(&self, holder: &str, lease: TimeDelta) -> Result<Option<Lead>, RepoError> {
        let now = self.clock.now();
        let led: Option<(Option<String>,)> = sqlx::query_as(
            "UPDATE feed_follower SET holder = $1, lease_until = $3 \
             WHERE singleton AND (holder IS NULL OR holder = $1 \
                                  OR lease_until IS NULL OR lease_until < $2) \
             RETURNING cursor",
        )
        .bind(holder)
        .bind(now)
        .bind(now + lease)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(led.map(|(cursor,)| Lead { cursor }))
    }

    async fn save_feed_cursor(
        &self,
        holder: &str,
        cursor: &str,
        lease: TimeDelta,
    ) -> Result<bool, RepoError> {
        let now = self.clock.now();
        let saved = sqlx::query(
            "UPDATE feed_follower SET cursor = $2, lease_until = $4 \
             WHERE singleton AND holder = $1 AND lease_until >= $3",
        )
        .bind(holder)
        .bind(cursor)
        .bind(now)
        .bind(now + lease)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(saved.rows_affected() == 1)
    }

    async fn release_feed(&self, holder: &str) -> Result<(), RepoError> {
        sqlx::query(
            "UPDATE feed_follower SET holder = NULL, lease_until = NULL \
             WHERE singleton AND holder = $1",
        )
        .bind(holder)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}
