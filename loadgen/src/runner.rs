//! Runs load workers, each with its own connection, until a request budget or a time limit runs
//! out (whichever first), showing progress on the terminal.

use crate::{client::Conn, stats::Stats};
use indicatif::{ProgressBar, ProgressStyle};
use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// How much load to send.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Limits {
    /// Concurrent connections (one worker each).
    #[arg(short = 'c', long, default_value_t = 64)]
    pub connections: usize,
    /// Longest the measured load may run, in seconds.
    #[arg(short = 'd', long, default_value_t = 10.0)]
    pub duration: f64,
    /// Most requests (operations) the run may send.
    #[arg(short = 'n', long, default_value_t = 1_000_000)]
    pub requests: u64,
}

/// Hands out operation numbers until the budget or the time is spent.
#[derive(Debug)]
pub struct Budget {
    next: AtomicU64,
    done: AtomicU64,
    max: u64,
    deadline: Instant,
}

impl Budget {
    pub fn next(&self) -> Option<u64> {
        if Instant::now() >= self.deadline {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (n < self.max).then_some(n)
    }

    pub fn finished_one(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts `limits.connections` workers, their connections spread over `addrs` in turn; each calls `work` with its connection and the
/// shared budget, and returns its statistics. Returns the merged statistics and the wall time.
pub async fn run<W, F>(
    addrs: &[SocketAddr],
    limits: Limits,
    work: W,
) -> anyhow::Result<(Stats, Duration)>
where
    W: Fn(Conn, Arc<Budget>) -> F + Send + Sync + 'static,
    F: Future<Output = Stats> + Send + 'static,
{
    let mut conns = Vec::with_capacity(limits.connections);
    for addr in addrs.iter().cycle().take(limits.connections) {
        conns.push(Conn::open(*addr).await?);
    }
    let started = Instant::now();
    let budget = Arc::new(Budget {
        next: AtomicU64::new(0),
        done: AtomicU64::new(0),
        max: limits.requests,
        deadline: started + Duration::from_secs_f64(limits.duration),
    });
    let progress = progress(Arc::clone(&budget), limits);
    let work = Arc::new(work);
    let workers: Vec<_> = conns
        .into_iter()
        .map(|conn| tokio::spawn((work)(conn, Arc::clone(&budget))))
        .collect();
    let mut parts = Vec::with_capacity(workers.len());
    for worker in workers {
        parts.push(worker.await?);
    }
    let elapsed = started.elapsed();
    progress.abort();
    Ok((crate::stats::merge_all(parts), elapsed))
}

fn progress(budget: Arc<Budget>, limits: Limits) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let bar = ProgressBar::new(limits.requests);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed:>4} [{bar:30}] {pos}/{len} ops {per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        loop {
            bar.set_position(budget.done.load(Ordering::Relaxed));
            tokio::time::sleep(Duration::from_millis(200)).await;
            if Instant::now() >= budget.deadline
                || budget.done.load(Ordering::Relaxed) >= budget.max
            {
                bar.finish_and_clear();
                return;
            }
        }
    })
}
