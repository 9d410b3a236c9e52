//! The cron job that expires lapsed holds: on each tick it asks the store to sweep
//! ([`SeatStore::sweep`]); each backend sweeps in its own way, with a cost that grows with the
//! number of lapsed holds, not of live ones. About once a minute the same job forgets feed events
//! older than the retention ([`SeatStore::trim_events`]).
//!
//! The sweep is only the prompt half of expiry: a lapsed hold is refused (and expired on the spot)
//! by any request that touches it, so correctness never depends on when the job runs. Ticks that
//! arrive while a sweep is still running are skipped rather than stacked up. The store runs the
//! sweep: the embedded one on the blocking pool, away from the request workers; PostgreSQL in
//! batches that replicas share (`FOR UPDATE SKIP LOCKED`).

use crate::store::SeatStore;
use prometheus_client::metrics::{counter::Counter, histogram::Histogram};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Instant,
};
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tracing::Instrument;

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
    /// Whether the latest sweep failed (readiness reports it).
    pub last_failed: AtomicBool,
    /// Whether the job is scheduled (false before it starts and after it stops).
    pub scheduled: AtomicBool,
}

impl SweepStats {
    /// The job's state for `/health/ready`: `ok`, `failed` (the latest sweep failed) or `stopped`.
    pub fn health(&self) -> &'static str {
        if !self.scheduled.load(Ordering::Acquire) {
            "stopped"
        } else if self.last_failed.load(Ordering::Acquire) {
            "failed"
        } else {
            "ok"
        }
    }
}

impl Default for SweepStats {
    fn default() -> Self {
        SweepStats {
            sweeps: Counter::default(),
            duration: service_kit::metrics::latency_histogram(),
            last_expired: AtomicU64::new(0),
            last_duration_us: AtomicU64::new(0),
            last_failed: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
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
    /// Schedules [`sweep`] on `cron` and starts the scheduler; feed events are kept for
    /// `retention`.
    pub async fn start(
        store: Arc<dyn SeatStore>,
        cron: &str,
        retention: chrono::TimeDelta,
    ) -> Result<Self, SchedulerError> {
        let running = Arc::new(AtomicBool::new(false));
        let trimmed = Arc::new(parking_lot::Mutex::new(None::<Instant>));
        let stats = Arc::new(SweepStats::default());
        let job_stats = Arc::clone(&stats);
        // Sweeps log under the span the job was started in (the launcher names its service there).
        let span = tracing::Span::current();
        let job = Job::new_async(cron, move |_, _| {
            let store = Arc::clone(&store);
            let (running, stats) = (Arc::clone(&running), Arc::clone(&job_stats));
            let trimmed = Arc::clone(&trimmed);
            Box::pin(
                async move {
                    run_once(Arc::clone(&store), running, stats).await;
                    trim_now_and_then(&*store, &trimmed, retention).await;
                }
                .instrument(span.clone()),
            )
        })
        .map_err(|source| SchedulerError::BadCron {
            expr: cron.to_owned(),
            source,
        })?;
        let scheduler = JobScheduler::new().await?;
        scheduler.add(job).await?;
        scheduler.start().await?;
        stats.scheduled.store(true, Ordering::Release);
        Ok(ExpiryJob { scheduler, stats })
    }

    pub fn stats(&self) -> Arc<SweepStats> {
        Arc::clone(&self.stats)
    }

    /// Stops the scheduler; a sweep in progress finishes on its own.
    pub async fn stop(mut self) {
        self.stats.scheduled.store(false, Ordering::Release);
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
    stats.last_failed.store(outcome.is_err(), Ordering::Release);
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

/// How often the feed is trimmed.
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Forgets feed events older than `retention`, at most once every [`TRIM_EVERY`].
async fn trim_now_and_then(
    store: &dyn SeatStore,
    last: &parking_lot::Mutex<Option<Instant>>,
    retention: chrono::TimeDelta,
) {
    {
        let mut last = last.lock();
        if last.is_some_and(|at| at.elapsed() < TRIM_EVERY) {
            return;
        }
        *last = Some(Instant::now());
    }
    match store.trim_events(chrono::Utc::now() - retention).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(forgotten = n, "forgot feed events past the retention"),
        Err(e) => tracing::error!(error = %e, "trimming the event feed failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_looks_at_the_job_rather_than_assuming_it_runs() {
        let stats = SweepStats::default();
        assert_eq!(stats.health(), "stopped", "not scheduled yet");
        stats.scheduled.store(true, Ordering::Release);
        assert_eq!(stats.health(), "ok");
        stats.last_failed.store(true, Ordering::Release);
        assert_eq!(stats.health(), "failed", "the latest sweep failed");
        stats.last_failed.store(false, Ordering::Release);
        assert_eq!(stats.health(), "ok", "a later sweep succeeded");
    }
}
