//! Running work in transactions: what an attempt decided (commit or roll back), which failures
//! are worth another attempt, and how database failures become the port's error.

use crate::store::StoreError;

/// What a transaction attempt decided: keep its writes or drop them, and the answer.
pub enum Outcome<T> {
    Commit(Result<T, StoreError>),
    Rollback(Result<T, StoreError>),
}

pub(super) fn unavailable(e: sqlx::Error) -> StoreError {
    tracing::error!(error = %e, "database call failed");
    StoreError::unavailable("the database call failed", e)
}
/// Errors worth running the transaction again for.
pub(super) fn retryable(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    // deadlock_detected, serialization_failure, and the primary key raced by a concurrent insert.
    matches!(db.code().as_deref(), Some("40P01" | "40001"))
        || db.constraint() == Some("reservations_pkey")
}
pub(super) fn violates(e: &sqlx::Error, constraint: &str) -> bool {
    e.as_database_error()
        .is_some_and(|db| db.constraint() == Some(constraint))
}
