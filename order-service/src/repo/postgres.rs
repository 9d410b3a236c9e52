//! The PostgreSQL store: every replica of order-service on one database.
//!
//! A partial unique index keeps one live order per student and course, so concurrent duplicate
//! orders on different replicas still end with exactly one. Status changes are conditional
//! updates (`... WHERE status = 'pending'`), so a late settlement never overwrites a
//! cancellation. Work left on an order is leased through its `lease_until`: the request that
//! placed it holds the lease while its saga runs, and when a replica stops mid-saga the lease
//! lapses and another replica's reconciler settles the order. Idempotency keys are rows; a key
//! left running by a replica that stopped is taken over once it is older than any request runs.

use super::{OrderRepo, Unavailable};
use crate::orders::{AlreadyLive, Claim, Finish, StoredReply};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use service_kit::postgres::{self, PgSettings};
use shared_types::{CreateOrder, ErrorCode, Order, OrderStatus};
use sqlx::{PgPool, Row, migrate::Migrator, postgres::PgRow};
use std::time::Duration;
use uuid::Uuid;

/// The schema, embedded from `order-service/migrations`.
fn migrator() -> Migrator {
    sqlx::migrate!("./migrations")
}

/// How long a finished request's response is kept for replay under its key.
const KEY_LIFETIME: TimeDelta = TimeDelta::hours(24);

/// Orders handed to the reconciler per pass.
const WORK_BATCH: i64 = 500;

/// The columns [`order_from`] reads (a macro, so queries stay literals).
macro_rules! order_columns {
    () => {
        "id, student_id, course_id, reservation_id, unit_price_cents, currency, status, \
         failure_code, created_at, updated_at"
    };
}

/// order-service state in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgRepo {
    pool: PgPool,
    /// How long a lease lasts: twice the request deadline, so a stopped replica's orders are
    /// taken over soon. A saga that outlives its lease may meet the reconciler on the same
    /// order; both only make idempotent calls under the order's reservation id and settle it
    /// conditionally on it still being pending, so the order still ends once.
    lease: TimeDelta,
}

impl PgRepo {
    /// Connects and migrates; `request_deadline` is how long a request may run.
    pub async fn connect(
        settings: &PgSettings,
        request_deadline: Duration,
    ) -> anyhow::Result<Self> {
        let pool = postgres::connect(settings, "order-service", migrator()).await?;
        let deadline = TimeDelta::from_std(request_deadline).unwrap_or(TimeDelta::seconds(30));
        Ok(PgRepo {
            pool,
            lease: deadline * 2,
        })
    }
}

fn unavailable(e: sqlx::Error) -> Unavailable {
    tracing::error!(error = %e, "database call failed");
    Unavailable(format!("database: {e}"))
}

fn decode(what: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(what.to_string().into())
}

fn status_from(text: &str) -> Result<OrderStatus, sqlx::Error> {
    Ok(match text {
        "pending" => OrderStatus::Pending,
        "confirmed" => OrderStatus::Confirmed,
        "failed" => OrderStatus::Failed,
        "cancelled" => OrderStatus::Cancelled,
        other => return Err(decode(format!("unknown order status {other:?}"))),
    })
}

fn order_from(row: &PgRow) -> Result<Order, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let failure: Option<String> = row.try_get("failure_code")?;
    let failure_code = failure
        .map(|code| serde_json::from_value::<ErrorCode>(serde_json::Value::String(code)))
        .transpose()
        .map_err(decode)?;
    Ok(Order {
        id: row.try_get("id")?,
        student_id: row.try_get("student_id")?,
        course_id: row.try_get("course_id")?,
        reservation_id: row.try_get("reservation_id")?,
        unit_price_cents: row.try_get("unit_price_cents")?,
        currency: row.try_get("currency")?,
        status: status_from(&status)?,
        failure_code,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn orders_from(rows: &[PgRow]) -> Result<Vec<Order>, Unavailable> {
    rows.iter()
        .map(order_from)
        .collect::<Result<_, _>>()
        .map_err(unavailable)
}

#[async_trait]
impl OrderRepo for PgRepo {
    async fn begin(
        &self,
        student: &str,
        body: &CreateOrder,
        now: DateTime<Utc>,
    ) -> Result<Result<Order, AlreadyLive>, Unavailable> {
        let inserted = sqlx::query(concat!(
            "INSERT INTO orders (id, student_id, course_id, reservation_id, status, lease_until, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $6) \
             ON CONFLICT (student_id, course_id) WHERE status IN ('pending', 'confirmed') \
             DO NOTHING RETURNING ",
            order_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(student)
        .bind(body.course_id)
        .bind(Uuid::now_v7())
        .bind(now + self.lease)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        if let Some(row) = inserted {
            return Ok(Ok(order_from(&row).map_err(unavailable)?));
        }
        let live = sqlx::query(
            "SELECT id FROM orders WHERE student_id = $1 AND course_id = $2 \
             AND status IN ('pending', 'confirmed')",
        )
        .bind(student)
        .bind(body.course_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        match live {
            Some(row) => Ok(Err(AlreadyLive(row.try_get("id").map_err(unavailable)?))),
            // The live order ended between the two statements: try once more.
            None => Box::pin(self.begin(student, body, now)).await,
        }
    }

    async fn get(&self, id: Uuid) -> Result<Option<Order>, Unavailable> {
        sqlx::query(concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?
        .map(|row| order_from(&row))
        .transpose()
        .map_err(unavailable)
    }

    async fn record_price(
        &self,
        id: Uuid,
        unit_price_cents: i64,
        currency: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Unavailable> {
        sqlx::query(
            "UPDATE orders SET unit_price_cents = $2, currency = $3, updated_at = $4 \
             WHERE id = $1 AND unit_price_cents IS NULL",
        )
        .bind(id)
        .bind(unit_price_cents)
        .bind(currency)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn finish(
        &self,
        id: Uuid,
        finish: Finish,
        now: DateTime<Utc>,
    ) -> Result<Option<Order>, Unavailable> {
        let (status, code) = match finish {
            Finish::Confirmed => ("confirmed", None),
            Finish::Failed(code) => ("failed", Some(code.as_str())),
            Finish::Cancelled => ("cancelled", None),
        };
        let finished = sqlx::query(concat!(
            "UPDATE orders SET status = $2, updated_at = $4, \
             failure_code = CASE WHEN $2 = 'cancelled' THEN failure_code ELSE $3 END, \
             cancel_requested = cancel_requested AND $2 <> 'cancelled' \
             WHERE id = $1 AND (status = 'pending' OR ($2 = 'cancelled' AND status = 'confirmed')) \
             RETURNING ",
            order_columns!()
        ))
        .bind(id)
        .bind(status)
        .bind(code)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        match finished {
            Some(row) => Ok(Some(order_from(&row).map_err(unavailable)?)),
            // Already final: the order as it stands.
            None => self.get(id).await,
        }
    }

    async fn request_cancel(&self, id: Uuid) -> Result<Option<(Order, bool)>, Unavailable> {
        let now = Utc::now();
        let row = sqlx::query(
            "UPDATE orders o SET cancel_requested = true, \
             lease_until = CASE WHEN b.lease_until IS NULL OR b.lease_until < $2 THEN $3 \
                           ELSE b.lease_until END \
             FROM (SELECT id, lease_until FROM orders WHERE id = $1 FOR UPDATE) b \
             WHERE o.id = b.id AND o.status IN ('pending', 'confirmed') \
             RETURNING (b.lease_until IS NULL OR b.lease_until < $2) AS leased, o.id, \
             o.student_id, o.course_id, o.reservation_id, o.unit_price_cents, o.currency, \
             o.status, o.failure_code, o.created_at, o.updated_at",
        )
        .bind(id)
        .bind(now)
        .bind(now + self.lease)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let leased: bool = row.try_get("leased").map_err(unavailable)?;
        Ok(Some((order_from(&row).map_err(unavailable)?, leased)))
    }

    async fn cancel_requested(&self, id: Uuid) -> Result<bool, Unavailable> {
        let row = sqlx::query(
            "SELECT cancel_requested AND status IN ('pending', 'confirmed') AS asked \
             FROM orders WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        match row {
            Some(row) => row.try_get("asked").map_err(unavailable),
            None => Ok(false),
        }
    }

    async fn unleased_work(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>, Unavailable> {
        let rows = sqlx::query(
            "SELECT id FROM orders \
             WHERE (status = 'pending' OR (cancel_requested AND status = 'confirmed')) \
             AND (lease_until IS NULL OR lease_until < $1) ORDER BY id LIMIT $2",
        )
        .bind(now)
        .bind(WORK_BATCH)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| row.try_get("id"))
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    async fn work_count(&self) -> Result<u64, Unavailable> {
        let n: i64 = sqlx::query(
            "SELECT count(*) AS n FROM orders \
             WHERE status = 'pending' OR (cancel_requested AND status = 'confirmed')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?
        .try_get("n")
        .map_err(unavailable)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn try_lease(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, Unavailable> {
        let leased = sqlx::query(
            "UPDATE orders SET lease_until = $3 WHERE id = $1 \
             AND (status = 'pending' OR (cancel_requested AND status = 'confirmed')) \
             AND (lease_until IS NULL OR lease_until < $2)",
        )
        .bind(id)
        .bind(now)
        .bind(now + self.lease)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(leased.rows_affected() == 1)
    }

    fn release_lease(&self, id: Uuid) {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let released = sqlx::query("UPDATE orders SET lease_until = NULL WHERE id = $1")
                .bind(id)
                .execute(&pool)
                .await;
            if let Err(e) = released {
                tracing::warn!(error = %e, order_id = %id, "lease not given back; it lapses");
            }
        });
    }

    async fn list(
        &self,
        student: &str,
        status: Option<OrderStatus>,
        before: Option<Uuid>,
        limit: usize,
    ) -> Result<(Vec<Order>, bool), Unavailable> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders WHERE student_id = $1 AND ($2::text IS NULL OR status = $2) \
             AND ($3::uuid IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        ))
        .bind(student)
        .bind(status.map(OrderStatus::as_str))
        .bind(before)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        let more = rows.len() > limit;
        let page = orders_from(&rows[..rows.len().min(limit)])?;
        Ok((page, more))
    }

    async fn claim_key(
        &self,
        student: &str,
        key: &str,
        body: &CreateOrder,
        now: DateTime<Utc>,
    ) -> Result<Claim, Unavailable> {
        let body_json = serde_json::to_value(body).map_err(|e| Unavailable(e.to_string()))?;
        // First use, or a takeover of a key whose request died with its replica (a request runs
        // for the deadline at most, half a lease).
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (student_id, key, body, started_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (student_id, key) DO UPDATE SET started_at = EXCLUDED.started_at \
             WHERE idempotency_keys.reply IS NULL AND idempotency_keys.body = EXCLUDED.body \
             AND idempotency_keys.started_at < $5 \
             RETURNING 1 AS claimed",
        )
        .bind(student)
        .bind(key)
        .bind(&body_json)
        .bind(now)
        .bind(now - self.lease)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        if claimed.is_some() {
            return Ok(Claim::Fresh);
        }
        let row = sqlx::query(
            "SELECT body, reply FROM idempotency_keys WHERE student_id = $1 AND key = $2",
        )
        .bind(student)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(row) = row else {
            // Purged between the two statements: claim it again.
            return Box::pin(self.claim_key(student, key, body, now)).await;
        };
        let first: serde_json::Value = row.try_get("body").map_err(unavailable)?;
        let reply: Option<serde_json::Value> = row.try_get("reply").map_err(unavailable)?;
        let same = serde_json::from_value::<CreateOrder>(first).is_ok_and(|first| &first == body);
        Ok(match (same, reply) {
            (false, _) => Claim::Mismatch,
            (true, None) => Claim::InProgress,
            (true, Some(reply)) => Claim::Replay(
                serde_json::from_value(reply).map_err(|e| Unavailable(e.to_string()))?,
            ),
        })
    }

    async fn complete_key(
        &self,
        student: &str,
        key: &str,
        reply: StoredReply,
        now: DateTime<Utc>,
    ) -> Result<(), Unavailable> {
        let reply = serde_json::to_value(reply).map_err(|e| Unavailable(e.to_string()))?;
        sqlx::query(
            "UPDATE idempotency_keys SET reply = $3, completed_at = $4 \
             WHERE student_id = $1 AND key = $2 AND reply IS NULL",
        )
        .bind(student)
        .bind(key)
        .bind(reply)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn forget_key(&self, student: &str, key: &str) -> Result<(), Unavailable> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE student_id = $1 AND key = $2 AND reply IS NULL",
        )
        .bind(student)
        .bind(key)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn purge_keys(&self, now: DateTime<Utc>) -> Result<usize, Unavailable> {
        let purged = sqlx::query(
            "DELETE FROM idempotency_keys WHERE completed_at < $1 \
             OR (completed_at IS NULL AND started_at < $2)",
        )
        .bind(now - KEY_LIFETIME)
        .bind(now - self.lease)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(usize::try_from(purged.rows_affected()).unwrap_or(usize::MAX))
    }

    fn live(&self) -> bool {
        true
    }

    async fn ready(&self) -> (&'static str, bool) {
        ("database", postgres::answers(&self.pool).await)
    }

    async fn flush(&self) -> Result<(), Unavailable> {
        // Every answer was given after its commit; nothing is buffered.
        self.pool.close().await;
        Ok(())
    }

    async fn all(&self) -> Result<Vec<Order>, Unavailable> {
        let rows = sqlx::query(concat!("SELECT ", order_columns!(), " FROM orders"))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        orders_from(&rows)
    }
}
