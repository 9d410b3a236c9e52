//! Runs load workers, each with its own connection, until a request budget or a time limit runs
//! out (whichever first), showing progress: a live line (elapsed, requests, current rate, errors)
//! on a terminal, a plain line every few seconds otherwise (so logs stay free of control codes).

use crate::{client::Conn, stats::Stats};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::{
    future::Future,
    io::IsTerminal,
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
    errors: AtomicU64,
    /// Set once every worker has stopped.
    over: std::sync::atomic::AtomicBool,
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

    /// Counts one finished operation; `failed` when any of its requests did not succeed.
    pub fn finished_one(&self, failed: bool) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
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
        errors: AtomicU64::new(0),
        over: std::sync::atomic::AtomicBool::new(false),
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
    budget.over.store(true, Ordering::Relaxed);
    let _ = progress.await;
    Ok((crate::stats::merge_all(parts), elapsed))
}

/// How often the progress line is redrawn on a terminal, and written elsewhere.
const REDRAW: Duration = Duration::from_millis(250);
const PLAIN_EVERY: Duration = Duration::from_secs(5);

fn progress(budget: Arc<Budget>, limits: Limits) -> tokio::task::JoinHandle<()> {
    let terminal = std::io::stderr().is_terminal();
    tokio::spawn(async move {
        let started = Instant::now();
        let bar = if terminal {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            Some(bar)
        } else {
            None
        };
        let (mut last_done, mut last_at, mut last_plain) = (0, started, started);
        loop {
            tokio::time::sleep(REDRAW).await;
            let (done, errors) = (
                budget.done.load(Ordering::Relaxed),
                budget.errors.load(Ordering::Relaxed),
            );
            let now = Instant::now();
            let rate = (done - last_done) as f64 / now.duration_since(last_at).as_secs_f64();
            let line = progress_line(done, limits.requests, rate, errors);
            match &bar {
                Some(bar) => {
                    bar.set_message(line);
                    bar.tick();
                }
                None if now.duration_since(last_plain) >= PLAIN_EVERY => {
                    eprintln!("{:>5.1} s  {line}", started.elapsed().as_secs_f64());
                    last_plain = now;
                }
                None => {}
            }
            (last_done, last_at) = (done, now);
            if now >= budget.deadline || done >= budget.max || budget.over.load(Ordering::Relaxed) {
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                }
                return;
            }
        }
    })
}

/// `12345 requests (of at most 1000000)  24000/s  3 errors`.
fn progress_line(done: u64, max: u64, rate: f64, errors: u64) -> String {
    let plural = if errors == 1 { "" } else { "s" };
    format!("{done} requests (of at most {max})  {rate:.0}/s now  {errors} error{plural}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_progress_line_shows_requests_rate_and_errors() {
        assert_eq!(
            super::progress_line(12_345, 1_000_000, 24_000.4, 1),
            "12345 requests (of at most 1000000)  24000/s now  1 error"
        );
    }
}
