//! Idempotency keys in PostgreSQL: one row per `(student, key)`, the body as JSON and, once the
//! request finished, the answer to replay. A key left running by a replica that stopped is taken
//! over once it is older than the lease (no request runs that long), and purged like a finished
//! key past [`KEY_LIFETIME`]. The cap per student is kept in the claiming statement; the contract
//! suite checks it against [`crate::domain::keys::keys_to_forget`].

use super::{PgRepo, db};
use crate::{
    domain::{
        StudentId,
        keys::{KEY_LIFETIME, MAX_KEYS_PER_STUDENT},
    },
    idempotency::{Claim, IdempotencyKey, KeyStore, KeyStoreError, StoredReply},
    repo::RepoError,
};
use async_trait::async_trait;
use shared_types::CreateOrder;

fn corrupt(e: serde_json::Error) -> KeyStoreError {
    RepoError::Corrupt(e.to_string()).into()
}

#[async_trait]
impl KeyStore for PgRepo {
    async fn claim_key(
        &self,
        student: &StudentId,
        key: &IdempotencyKey,
        body: &CreateOrder,
    ) -> Result<Claim, KeyStoreError> {
        let now = self.clock.now();
        let body_json = serde_json::to_value(body).map_err(corrupt)?;
        // First use, or a takeover of a key whose request died with its replica (a request runs
        // for the deadline at most, half a lease). In the same statement, a new key past the
        // student's cap forgets the oldest finished keys (the DELETE does not see the key
        // inserted here: it keeps room for it).
        let claimed: Option<(i32,)> = sqlx::query_as(
            "WITH claimed AS ( \
               INSERT INTO idempotency_keys (student_id, key, body, started_at) \
               VALUES ($1, $2, $3, $4) \
               ON CONFLICT (student_id, key) DO UPDATE SET started_at = EXCLUDED.started_at \
               WHERE idempotency_keys.reply IS NULL AND idempotency_keys.body = EXCLUDED.body \
               AND idempotency_keys.started_at <= $5 \
               RETURNING 1 AS claimed), \
             trimmed AS ( \
               DELETE FROM idempotency_keys WHERE student_id = $1 AND key <> $2 AND key IN ( \
                 SELECT key FROM idempotency_keys \
                 WHERE student_id = $1 AND completed_at IS NOT NULL \
                 ORDER BY completed_at DESC \
                 OFFSET (SELECT greatest(0, $6 - 1 - count(*) FILTER (WHERE completed_at IS NULL)) \
                         FROM idempotency_keys WHERE student_id = $1)) \
               AND EXISTS (SELECT 1 FROM claimed)) \
             SELECT claimed FROM claimed",
        )
        .bind(student.as_str())
        .bind(key.as_str())
        .bind(&body_json)
        .bind(now)
        .bind(now - self.lease)
        .bind(MAX_KEYS_PER_STUDENT as i64)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        if claimed.is_some() {
            return Ok(Claim::Fresh);
        }
        let row: Option<(serde_json::Value, Option<serde_json::Value>)> = sqlx::query_as(
            "SELECT body, reply FROM idempotency_keys WHERE student_id = $1 AND key = $2",
        )
        .bind(student.as_str())
        .bind(key.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        let Some((first, reply)) = row else {
            // Purged between the two statements: claim it again.
            return Box::pin(self.claim_key(student, key, body)).await;
        };
        let same = serde_json::from_value::<CreateOrder>(first).is_ok_and(|first| &first == body);
        Ok(match (same, reply) {
            (false, _) => Claim::Mismatch,
            (true, None) => Claim::InProgress,
            (true, Some(reply)) => Claim::Replay(serde_json::from_value(reply).map_err(corrupt)?),
        })
    }

    async fn complete_key(
        &self,
        student: &StudentId,
        key: &IdempotencyKey,
        reply: StoredReply,
    ) -> Result<(), KeyStoreError> {
        let reply = serde_json::to_value(reply).map_err(corrupt)?;
        sqlx::query(
            "UPDATE idempotency_keys SET reply = $3, completed_at = $4 \
             WHERE student_id = $1 AND key = $2 AND reply IS NULL",
        )
        .bind(student.as_str())
        .bind(key.as_str())
        .bind(reply)
        .bind(self.clock.now())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn forget_key(
        &self,
        student: &StudentId,
        key: &IdempotencyKey,
    ) -> Result<(), KeyStoreError> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE student_id = $1 AND key = $2 AND reply IS NULL",
        )
        .bind(student.as_str())
        .bind(key.as_str())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn purge_keys(&self) -> Result<usize, KeyStoreError> {
        let now = self.clock.now();
        let purged = sqlx::query(
            "DELETE FROM idempotency_keys WHERE completed_at <= $1 \
             OR (completed_at IS NULL AND started_at <= $2)",
        )
        .bind(now - KEY_LIFETIME)
        .bind(now - self.lease)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(usize::try_from(purged.rows_affected()).unwrap_or(usize::MAX))
    }
}

impl PgRepo {
    pub(super) async fn count_keys(&self, student: &StudentId) -> Result<usize, RepoError> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM idempotency_keys WHERE student_id = $1")
                .bind(student.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}
