//! What only tests (and reports) ask of a backend: every order, and how many keys a student
//! keeps. Outside [`super::OrderRepo`] and [`crate::idempotency::KeyStore`], so the workflow,
//! the routes and the reconciler, which only hold those, cannot call it.

use super::RepoError;
use crate::domain::{Order, StudentId};
use async_trait::async_trait;

/// A backend's contents, for checks.
#[async_trait]
pub trait Inspect: Send + Sync + std::fmt::Debug + 'static {
    /// Every order, in no particular order (waiting, on the embedded store, until what it
    /// reports is durable).
    async fn all(&self) -> Result<Vec<Order>, RepoError>;

    /// How many idempotency keys `student` keeps now.
    async fn keys_of(&self, student: &StudentId) -> Result<usize, RepoError>;
}
