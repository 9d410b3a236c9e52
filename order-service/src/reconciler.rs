//! The background reconciler: settles every order left `pending` by a request that could not learn
//! its outcome in time, by repeating the workflow's find-out step until course-service answers, and
//! finishes cancellations that were cut off. Once a minute it also forgets idempotency keys past
//! their lifetime.
//!
//! It visits pending orders on a fixed interval, a bounded number at a time, and skips any order a
//! request is still working on (the store's lease). Because the step is idempotent, visiting an
//! order again after a failed attempt is always safe.

use crate::workflow::Workflow;
use futures::StreamExt;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often idempotency keys past their lifetime are forgotten.
const KEY_PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// How many pending orders are reconciled concurrently.
const PARALLELISM: usize = 16;

/// Starts the reconciler; abort the handle to stop it.
pub fn spawn(workflow: Workflow, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_purge = std::time::Instant::now();
        loop {
            ticker.tick().await;
            run_once(&workflow).await;
            if last_purge.elapsed() >= KEY_PURGE_INTERVAL {
                last_purge = std::time::Instant::now();
                match workflow.store().purge_keys(chrono::Utc::now()).await {
                    Ok(0) => {}
                    Ok(purged) => {
                        tracing::info!(purged, "forgot idempotency keys past their lifetime")
                    }
                    Err(e) => tracing::warn!(error = %e, "idempotency keys not purged this time"),
                }
            }
        }
    })
}

/// One pass over the pending orders nobody is working on; returns how many were visited.
pub async fn run_once(workflow: &Workflow) -> usize {
    let pending = match workflow.store().unleased_work(chrono::Utc::now()).await {
        Ok(pending) => pending,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list orders with work left; trying again later");
            return 0;
        }
    };
    let visited = pending.len();
    if visited > 0 {
        tracing::debug!(pending = visited, "reconciling pending orders");
    }
    futures::stream::iter(pending)
        .for_each_concurrent(PARALLELISM, |id| async move {
            workflow.reconcile(id).await;
        })
        .await;
    visited
}
