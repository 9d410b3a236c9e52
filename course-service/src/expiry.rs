//! Expiry of lapsed holds: one sweep built from pure steps, and the cron job that runs it.
//!
//! A sweep asks the inventory for the holds whose deadline has passed, a batch at a time, from an
//! index ordered by deadline: its cost grows with the number of lapsed holds, not with the number
//! of live ones, so a million holds that are not due cost one look at the index per sweep. Short
//! lock holds keep requests for a course flowing while a storm of its holds expires.
//!
//! The sweep is only the prompt half of expiry: a lapsed hold is refused (and expired on the spot)
//! by any request that touches it, so correctness never depends on when the job runs. Ticks that
//! arrive while a sweep is still running are skipped rather than stacked up. The store runs the
//! sweep: the embedded one on the blocking pool, away from the request workers; PostgreSQL in
//! batches that replicas share (`FOR UPDATE SKIP LOCKED`).

use crate::{inventory::Inventory, store::SeatStore};
use chrono::{DateTime, Utc};
use prometheus_client::metrics::{counter::Counter, histogram::Histogram};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Instant,
};
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

/// Deadlines taken out of the index per step.
pub const SWEEP_BATCH: usize = 4096;

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
        if step.due == 0 {
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

/// What the job has done so far, for operators (the metrics) and benchmarks.
#[derive(Debug)]
pub struct SweepStats {
    /// Sweeps run.
    pub sweeps: Counter,
    /// How long each sweep took.
    pub duration: Histogram,
    /// Holds expired by the latest sweep that expired any.
    pub last_expired: AtomicU64,
    /// How long that sweep took, in microseconds.
    pub last_duration_us: AtomicU64,
}

impl Default for SweepStats {
    fn default() -> Self {
        SweepStats {
            sweeps: Counter::default(),
            duration: service_kit::metrics::latency_histogram(),
            last_expired: AtomicU64::new(0),
            last_duration_us: AtomicU64::new(0),
        }
    }
}

/// The running sweep job.
pub struct ExpiryJob {
    scheduler: JobScheduler,
    stats: Arc<SweepStats>,
}

impl std::fmt::Debug for ExpiryJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExpiryJob")
    }
}

impl ExpiryJob {
    /// Schedules [`sweep`] on `cron` and starts the scheduler.
    pub async fn start(store: Arc<dyn SeatStore>, cron: &str) -> Result<Self, SchedulerError> {
        let running = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(SweepStats::default());
        let job_stats = Arc::clone(&stats);
        let job = Job::new_async(cron, move |_, _| {
            let store = Arc::clone(&store);
            let (running, stats) = (Arc::clone(&running), Arc::clone(&job_stats));
            Box::pin(async move { run_once(store, running, stats).await })
        })
        .map_err(|source| SchedulerError::BadCron {
            expr: cron.to_owned(),
            source,
        })?;
        let scheduler = JobScheduler::new().await?;
        scheduler.add(job).await?;
        scheduler.start().await?;
        Ok(ExpiryJob { scheduler, stats })
    }

    pub fn stats(&self) -> Arc<SweepStats> {
        Arc::clone(&self.stats)
    }

    /// Stops the scheduler; a sweep in progress finishes on its own.
    pub async fn stop(mut self) {
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "expiry scheduler did not shut down cleanly");
        }
    }
}

async fn run_once(store: Arc<dyn SeatStore>, running: Arc<AtomicBool>, stats: Arc<SweepStats>) {
    if running.swap(true, Ordering::AcqRel) {
        tracing::debug!("previous expiry sweep still running; skipping this tick");
        return;
    }
    let started = Instant::now();
    let outcome = store.sweep().await;
    running.store(false, Ordering::Release);
    stats.sweeps.inc();
    stats.duration.observe(started.elapsed().as_secs_f64());
    if let Ok(report) = &outcome
        && report.expired > 0
    {
        stats
            .last_expired
            .store(report.expired as u64, Ordering::Relaxed);
        stats
            .last_duration_us
            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    }
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
