//! The feed half of the storage port: where the follower keeps its place in course-service's
//! event feed (the cursor of the last event whose orders are recorded) and who follows it (a
//! lease, so that of several replicas on one database one follows at a time, and another takes
//! over when its lease lapses). Every backend implements it beside [`crate::repo::OrderRepo`].
//! Nothing here reads the feed or decides what an event means.

use crate::repo::RepoError;
use async_trait::async_trait;
use chrono::TimeDelta;

/// What a follower that leads the feed starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lead {
    /// The cursor stored last; `None`: nothing was ever stored (read from the oldest event kept).
    pub cursor: Option<String>,
}

/// The follower's cursor and lease. Times come from the clock the backend was opened with.
#[async_trait]
pub trait FeedStore: Send + Sync + std::fmt::Debug + 'static {
    /// Takes the lease for `holder` until `lease` from now, or renews it, unless another
    /// holder's lease still runs; the stored cursor when `holder` now leads, `None` when another
    /// does.
    async fn lead_feed(&self, holder: &str, lease: TimeDelta) -> Result<Option<Lead>, RepoError>;

    /// Stores `cursor` durably, and renews the lease, if `holder` still holds a lease that has
    /// not lapsed; false (nothing stored) when it does not.
    async fn save_feed_cursor(
        &self,
        holder: &str,
        cursor: &str,
        lease: TimeDelta,
    ) -> Result<bool, RepoError>;

    /// Gives the lease up if `holder` holds it (at shutdown), so that another replica follows
    /// without waiting for it to lapse.
    async fn release_feed(&self, holder: &str) -> Result<(), RepoError>;
}
