//! Work left on orders in PostgreSQL, and its leases: an order's `lease_until` says until when a
//! driver (the request that placed it, a cancellation, a reconciler) works on it. When a replica
//! stops mid-saga the lease lapses and another replica's reconciler picks the order up at its
//! saved step.
//!
//! The work predicate below is written out (not built from the rule book) so that it matches the
//! partial index `orders_with_work`; the repository contract suite checks it against
//! [`crate::domain::rules::has_work`] and the lapse against [`crate::domain::rules::lease_free`].

use super::{PgRepo, db};
use crate::{domain::OrderId, repo::RepoError};

/// Orders handed to the reconciler per pass.
const WORK_BATCH: i64 = 500;

impl PgRepo {
    pub(super) async fn work_unleased(&self) -> Result<Vec<OrderId>, RepoError> {
        let ids: Vec<(uuid::Uuid,)> = sqlx::query_as(
            "SELECT id FROM orders \
             WHERE step NOT IN ('settled', 'cancelled') \
             AND (lease_until IS NULL OR lease_until < $1) ORDER BY id LIMIT $2",
        )
        .bind(self.clock.now())
        .bind(WORK_BATCH)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(ids
            .into_iter()
            .map(|(id,)| OrderId::from_uuid(id))
            .collect())
    }

    pub(super) async fn count_work(&self) -> Result<u64, RepoError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM orders \
             WHERE step NOT IN ('settled', 'cancelled')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub(super) async fn take_lease(&self, id: OrderId) -> Result<bool, RepoError> {
        let now = self.clock.now();
        let leased = sqlx::query(
            "UPDATE orders SET lease_until = $3 WHERE id = $1 \
             AND step NOT IN ('settled', 'cancelled') \
             AND (lease_until IS NULL OR lease_until < $2)",
        )
        .bind(id.as_uuid())
        .bind(now)
        .bind(now + self.lease)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(leased.rows_affected() == 1)
    }

    pub(super) async fn give_lease_back(&self, id: OrderId) -> Result<(), RepoError> {
        sqlx::query("UPDATE orders SET lease_until = NULL WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}
