//! The background reconciler: drives every order with work left that nobody works on (a saga
//! cut off by its deadline, a process that stopped, a cancellation course-service could not take)
//! from the step the order saved, through the same [`Workflow::drive`] as requests. Once a minute
//! it also forgets idempotency keys past their lifetime.
//!
//! It visits orders on a fixed interval, a bounded number at a time, and skips any order whose
//! lease someone holds. Because every step is idempotent, visiting an order again after a failed
//! attempt is always safe. It decides nothing itself.

use crate::{idempotency::KeyStore, repo::OrderRepo, workflow::Workflow};
use futures::StreamExt;
use std::{sync::Arc, time::Duration};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// How often idempotency keys past their lifetime are forgotten.
const KEY_PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// How many orders are visited concurrently.
const PARALLELISM: usize = 16;

/// What the reconciler works with.
#[derive(Debug, Clone)]
pub struct Reconciler {
    pub workflow: Workflow,
    pub orders: Arc<dyn OrderRepo>,
    pub keys: Arc<dyn KeyStore>,
}

impl Reconciler {
    /// Starts the reconciler; abort the handle to stop it.
    pub fn spawn(self, interval: Duration) -> JoinHandle<()> {
        tokio::spawn(
            async move {
                let mut ticker = tokio::time::interval(interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut purge = tokio::time::interval(KEY_PURGE_INTERVAL);
                purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                purge.tick().await;
                loop {
                    tokio::select! {
                        _ = ticker.tick() => {
                            self.run_once().await;
                        }
                        _ = purge.tick() => self.purge_keys().await,
                    }
                }
            }
            // Under the span it was started in: the launcher names its service there.
            .in_current_span(),
        )
    }

    /// One pass over the orders with work left nobody works on; returns how many were visited.
    pub async fn run_once(&self) -> usize {
        let work = match self.orders.unleased_work().await {
            Ok(work) => work,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list orders with work left; trying again later");
                return 0;
            }
        };
        let visited = work.len();
        if visited > 0 {
            tracing::debug!(orders = visited, "reconciling orders with work left");
        }
        futures::stream::iter(work)
            .for_each_concurrent(PARALLELISM, |id| self.workflow.visit(id))
            .await;
        visited
    }

    async fn purge_keys(&self) {
        match self.keys.purge_keys().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "forgot idempotency keys past their lifetime"),
            Err(e) => tracing::warn!(error = %e, "idempotency keys not purged this time"),
        }
    }
}
