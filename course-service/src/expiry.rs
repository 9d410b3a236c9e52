//! Expiry of lapsed holds: one sweep built from pure steps, and the cron job that runs it.
//!
//! A sweep asks the inventory for the holds whose deadline has passed, a batch at a time, from a
//! heap ordered by deadline: its cost grows with the number of lapsed holds, not with the number
//! of live ones, so a million holds that are not due cost one heap peek per sweep. Batches keep
//! each course lock short, so requests for a course keep flowing while a storm of its holds
//! expires.
//!
//! The sweep is only the prompt half of expiry: a lapsed hold is refused (and expired on the spot)
//! by any request that touches it, so correctness never depends on when the job runs. Ticks that
//! arrive while a sweep is still running are skipped rather than stacked up. The sweep itself runs
//! on the blocking pool, away from the request workers.

use crate::inventory::Inventory;
use chrono::{DateTime, Utc};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

/// Deadlines handled per course-lock round trip.
pub const SWEEP_BATCH: usize = 1024;

/// What one full sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub due: usize,
    pub expired: usize,
}

/// Expires every hold due at `now`.
pub fn sweep(inventory: &Inventory, now: DateTime<Utc>) -> SweepReport {
    let mut report = SweepReport::default();
    loop {
        let step = inventory.expire_due(now, SWEEP_BATCH);
        report.due += step.due;
        report.expired += step.expired;
        if step.due < SWEEP_BATCH {
            return report;
        }
    }
}

/// A failure to set up the sweep job.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(
        "EXPIRY_SWEEP_CRON `{expr}` is not a valid 6-field cron expression (sec min hour day month weekday): {source}"
    )]
    BadCron {
        expr: String,
        source: JobSchedulerError,
    },
    #[error("could not start the expiry scheduler: {0}")]
    Start(#[from] JobSchedulerError),
}

/// The running sweep job.
pub struct ExpiryJob {
    scheduler: JobScheduler,
}

impl std::fmt::Debug for ExpiryJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExpiryJob")
    }
}

impl ExpiryJob {
    /// Schedules [`sweep`] on `cron` and starts the scheduler.
    pub async fn start(inventory: Inventory, cron: &str) -> Result<Self, SchedulerError> {
        let running = Arc::new(AtomicBool::new(false));
        let job = Job::new_async(cron, move |_, _| {
            let inventory = inventory.clone();
            let running = Arc::clone(&running);
            Box::pin(async move { run_once(inventory, running).await })
        })
        .map_err(|source| SchedulerError::BadCron {
            expr: cron.to_owned(),
            source,
        })?;
        let scheduler = JobScheduler::new().await?;
        scheduler.add(job).await?;
        scheduler.start().await?;
        Ok(ExpiryJob { scheduler })
    }

    /// Stops the scheduler; a sweep in progress finishes on its own.
    pub async fn stop(mut self) {
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "expiry scheduler did not shut down cleanly");
        }
    }
}

async fn run_once(inventory: Inventory, running: Arc<AtomicBool>) {
    if running.swap(true, Ordering::AcqRel) {
        tracing::debug!("previous expiry sweep still running; skipping this tick");
        return;
    }
    let started = Instant::now();
    let outcome = tokio::task::spawn_blocking(move || sweep(&inventory, inventory.now())).await;
    running.store(false, Ordering::Release);
    match outcome {
        Ok(report) if report.expired > 0 => tracing::info!(
            expired = report.expired,
            due = report.due,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "expired lapsed holds"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "expiry sweep failed"),
    }
}
