//! Orders in PostgreSQL: recording a new one (the partial unique index keeps one live order per
//! student and course, so concurrent duplicates on different replicas still end with exactly one),
//! reading and listing, and the rule book's transitions as conditional updates: the states a
//! transition applies to and what it writes come from [`crate::domain::rules`], so a late
//! settlement never overwrites a cancellation and two drivers of one order never both move it.

use super::{
    PgRepo, db,
    rows::{self, AppliedRow, LeasedRow, OrderRow, order_columns, state_key},
};
use crate::{
    domain::{NewOrder, Order, OrderId, Status, Step, StudentId, Transition, rules},
    repo::{AlreadyLive, Applied, Note, RepoError},
};

/// The states `transition` applies to, as the conditional updates compare them.
fn sources(transition: Transition) -> Vec<String> {
    rules::sources(transition)
        .into_iter()
        .map(state_key)
        .collect()
}

impl PgRepo {
    pub(super) async fn insert(
        &self,
        request: &NewOrder,
    ) -> Result<Result<Order, AlreadyLive>, RepoError> {
        let now = self.clock.now();
        let order = Order::new(request, now);
        let inserted: Option<OrderRow> = sqlx::query_as(concat!(
            "INSERT INTO orders (id, student_id, course_id, reservation_id, expected_price_cents, \
             status, step, lease_until, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
             ON CONFLICT (student_id, course_id) \
             WHERE status IN ('pending', 'awaiting_payment', 'confirmed') \
             DO NOTHING RETURNING ",
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
            return Ok(Ok(Order::try_from(row)?));
        }
        let live: Option<(uuid::Uuid,)> = sqlx::query_as(
            "SELECT id FROM orders WHERE student_id = $1 AND course_id = $2 \
             AND status IN ('pending', 'awaiting_payment', 'confirmed')",
        )
        .bind(request.student.as_str())
        .bind(request.course.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        match live {
            Some((id,)) => Ok(Err(AlreadyLive(OrderId::from_uuid(id)))),
            // The live order ended between the two statements: try once more.
            None => Box::pin(self.insert(request)).await,
        }
    }

    pub(super) async fn select(&self, id: OrderId) -> Result<Option<Order>, RepoError> {
        let row: Option<OrderRow> = sqlx::query_as(concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(Order::try_from).transpose()
    }

    /// The rule book's transition as one conditional update, with the note written as
    /// [`Note::write_into`] describes. A transition that would make a second live order of the
    /// student and course meets the unique index and does not apply.
    pub(super) async fn update(
        &self,
        id: OrderId,
        transition: Transition,
        note: Note,
    ) -> Result<Option<Applied>, RepoError> {
        match self.update_once(id, transition, &note, true).await {
            Err(RepoError::Database(e)) if storage_kit::postgres::is_unique_violation(&e) => {
                self.update_once(id, transition, &note, false).await
            }
            answer => answer,
        }
    }

    async fn update_once(
        &self,
        id: OrderId,
        transition: Transition,
        note: &Note,
        allow: bool,
    ) -> Result<Option<Applied>, RepoError> {
        let target = rules::target(transition);
        let (cents, currency) = note
            .price
            .as_ref()
            .map_or((None, None), |p| (Some(p.cents), Some(p.currency.clone())));
        let sources = if allow {
            sources(transition)
        } else {
            Vec::new()
        };
        let row: Option<AppliedRow> = sqlx::query_as(
            "WITH current AS ( \
               SELECT id, (status || '/' || step) = ANY($2) AS allowed, \
                      unit_price_cents IS NULL AND $6::bigint IS NOT NULL AS pricing \
               FROM orders WHERE id = $1 FOR UPDATE) \
             UPDATE orders o SET \
               status = CASE WHEN c.allowed THEN coalesce($3, o.status) ELSE o.status END, \
               step = CASE WHEN c.allowed THEN $4 ELSE o.step END, \
               failure_code = CASE WHEN c.allowed AND $5 THEN $7 ELSE o.failure_code END, \
               cancel_requested = CASE WHEN c.allowed THEN $4 = 'cancelling' \
                                  ELSE o.cancel_requested END, \
               unit_price_cents = CASE WHEN c.pricing THEN $6 ELSE o.unit_price_cents END, \
               currency = CASE WHEN c.pricing THEN $8 ELSE o.currency END, \
               hold_expires_at = CASE WHEN c.allowed AND $10::timestamptz IS NOT NULL THEN $10 \
                                 WHEN c.pricing THEN coalesce(o.hold_expires_at, $10) \
                                 ELSE o.hold_expires_at END, \
               payment = CASE WHEN c.allowed AND $11::jsonb IS NOT NULL THEN $11 \
                         ELSE o.payment END, \
               reservation_id = CASE WHEN c.allowed AND $12::uuid IS NOT NULL THEN $12 \
                                ELSE o.reservation_id END, \
               lease_until = CASE WHEN c.allowed AND $13 THEN NULL ELSE o.lease_until END, \
               updated_at = CASE WHEN c.pricing \
                                   OR (c.allowed AND (coalesce($3, o.status) <> o.status \
                                       OR o.payment IS DISTINCT FROM coalesce($11, o.payment) \
                                       OR o.reservation_id <> coalesce($12, o.reservation_id))) \
                            THEN $9 ELSE o.updated_at END \
             FROM current c WHERE o.id = c.id AND (c.allowed OR c.pricing) \
             RETURNING c.allowed, o.*",
        )
        .bind(id.as_uuid())
        .bind(sources)
        .bind(target.status.map(Status::as_str))
        .bind(target.step.as_str())
        .bind(target.failure.is_some())
        .bind(cents)
        .bind(target.failure.flatten().map(|f| f.as_str()))
        .bind(currency)
        .bind(self.clock.now())
        .bind(note.hold_expires_at)
        .bind(note.payment.clone().map(sqlx::types::Json))
        .bind(note.reservation.map(|r| r.as_uuid()))
        // An order whose work ends is nobody's to lease any more: a later cancellation takes it.
        .bind(!rules::step_has_work(target.step))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| {
            if storage_kit::postgres::is_unique_violation(&e) {
                RepoError::Database(e)
            } else {
                db(e)
            }
        })?;
        match row {
            Some(row) => Ok(Some(Applied {
                applied: row.allowed,
                order: Order::try_from(row.order)?,
            })),
            // Nothing to change: the order as it stands.
            None => Ok(self.select(id).await?.map(|order| Applied {
                order,
                applied: false,
            })),
        }
    }

    /// Sets the lease of an order still at step `at` until `until`.
    pub(super) async fn park_at(
        &self,
        id: OrderId,
        at: Step,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, RepoError> {
        let parked = sqlx::query("UPDATE orders SET lease_until = $3 WHERE id = $1 AND step = $2")
            .bind(id.as_uuid())
            .bind(at.as_str())
            .bind(until)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(parked.rows_affected() == 1)
    }

    pub(super) async fn seen(&self, event_id: &str) -> Result<bool, RepoError> {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT event_id FROM payment_events WHERE event_id = $1")
                .bind(event_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        Ok(found.is_some())
    }

    pub(super) async fn noted(&self, event_id: &str) -> Result<(), RepoError> {
        sqlx::query(
            "INSERT INTO payment_events (event_id, applied_at) VALUES ($1, $2) \
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event_id)
        .bind(self.clock.now())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    pub(super) async fn cancel_asked(
        &self,
        id: OrderId,
    ) -> Result<Option<(Order, bool)>, RepoError> {
        let now = self.clock.now();
        let target = rules::target(Transition::RequestCancel);
        let row: Option<LeasedRow> = sqlx::query_as(
            "UPDATE orders o SET step = $3, cancel_requested = ($3 = 'cancelling'), \
             lease_until = CASE WHEN b.lease_until IS NULL OR b.lease_until < $4 THEN $5 \
                           ELSE b.lease_until END \
             FROM (SELECT id, lease_until FROM orders WHERE id = $1 FOR UPDATE) b \
             WHERE o.id = b.id AND (o.status || '/' || o.step) = ANY($2) \
             RETURNING (b.lease_until IS NULL OR b.lease_until < $4) AS leased, o.*",
        )
        .bind(id.as_uuid())
        .bind(sources(Transition::RequestCancel))
        .bind(target.step.as_str())
        .bind(now)
        .bind(now + self.lease)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|row| Ok((Order::try_from(row.order)?, row.leased)))
            .transpose()
    }

    pub(super) async fn page(
        &self,
        student: &StudentId,
        status: Option<Status>,
        before: Option<OrderId>,
        limit: usize,
    ) -> Result<(Vec<Order>, bool), RepoError> {
        let mut found: Vec<OrderRow> = sqlx::query_as(concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders WHERE student_id = $1 AND ($2::text IS NULL OR status = $2) \
             AND ($3::uuid IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        ))
        .bind(student.as_str())
        .bind(status.map(Status::as_str))
        .bind(before.map(OrderId::as_uuid))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let more = found.len() > limit;
        found.truncate(limit);
        Ok((rows::orders(found)?, more))
    }

    pub(super) async fn every_order(&self) -> Result<Vec<Order>, RepoError> {
        let found: Vec<OrderRow> =
            sqlx::query_as(concat!("SELECT ", order_columns!(), " FROM orders"))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows::orders(found)
    }
}
