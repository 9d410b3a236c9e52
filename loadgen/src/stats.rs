//! Latency histograms (HDR, microseconds) and outcome counts per operation, merged across
//! workers, and the report printed and written as JSON.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::{collections::BTreeMap, time::Duration};

/// What one worker (or, merged, the whole run) observed for one operation.
#[derive(Debug, Clone)]
pub struct OpStats {
    pub latency: Histogram<u64>,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
}

impl Default for OpStats {
    fn default() -> Self {
        OpStats {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3)
                .unwrap_or_else(|e| unreachable!("valid bounds: {e}")),
            ok: 0,
            errors: BTreeMap::new(),
        }
    }
}

impl OpStats {
    pub fn record(&mut self, elapsed: Duration, outcome: Result<(), String>) {
        let _ = self.latency.record((elapsed.as_micros() as u64).max(1));
        match outcome {
            Ok(()) => self.ok += 1,
            Err(code) => *self.errors.entry(code).or_default() += 1,
        }
    }

    pub fn merge(&mut self, other: &OpStats) {
        let _ = self.latency.add(&other.latency);
        self.ok += other.ok;
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
    }
}

/// Per-operation statistics, keyed by operation name.
pub type Stats = BTreeMap<&'static str, OpStats>;

pub fn merge_all(parts: impl IntoIterator<Item = Stats>) -> Stats {
    let mut all = Stats::new();
    for part in parts {
        for (op, stats) in part {
            all.entry(op).or_default().merge(&stats);
        }
    }
    all
}

/// The report of one operation, as printed and as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    pub op: String,
    pub requests: u64,
    pub ok: u64,
    pub rate_per_sec: f64,
    pub ok_rate_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub errors: BTreeMap<String, u64>,
}

pub fn report(stats: &Stats, elapsed: Duration) -> Vec<OpReport> {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    stats
        .iter()
        .map(|(op, s)| OpReport {
            op: (*op).to_owned(),
            requests: s.latency.len(),
            ok: s.ok,
            rate_per_sec: s.latency.len() as f64 / secs,
            ok_rate_per_sec: s.ok as f64 / secs,
            p50_ms: ms(&s.latency, 0.5),
            p90_ms: ms(&s.latency, 0.9),
            p99_ms: ms(&s.latency, 0.99),
            p999_ms: ms(&s.latency, 0.999),
            max_ms: s.latency.max() as f64 / 1000.0,
            errors: s.errors.clone(),
        })
        .collect()
}

/// The table of operations, every latency column in milliseconds.
pub fn write_table(out: &mut String, ops: &[OpReport]) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "{:<10} {:>9} {:>10} {:>8} {:>8} {:>8} {:>9} {:>8}  errors",
        "op", "requests", "ok/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
    );
    for r in ops {
        let errors = if r.errors.is_empty() {
            "-".to_owned()
        } else {
            r.errors
                .iter()
                .map(|(c, n)| format!("{c}={n}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = writeln!(
            out,
            "{:<10} {:>9} {:>10.0} {:>8.3} {:>8.3} {:>8.3} {:>9.3} {:>8.3}  {errors}",
            r.op, r.requests, r.ok_rate_per_sec, r.p50_ms, r.p90_ms, r.p99_ms, r.p999_ms, r.max_ms
        );
    }
}
