//! The result of a run: printed for people, written as JSON for machines.

use crate::{
    procstat::Usage,
    stats::{OpReport, print_table},
};
use serde::Serialize;
use std::path::Path;

/// A correctness check made after the load (oversell, invariant, ...).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, passed: bool, detail: impl Into<String>) -> Check {
        Check {
            name: name.to_owned(),
            passed,
            detail: detail.into(),
        }
    }
}

/// Everything one scenario run measured.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub scenario: String,
    pub command: String,
    pub parameters: serde_json::Value,
    pub elapsed_secs: f64,
    pub ops: Vec<OpReport>,
    pub services: Vec<Usage>,
    pub figures: serde_json::Map<String, serde_json::Value>,
    pub checks: Vec<Check>,
}

impl RunReport {
    /// Adds each service's CPU time per request (all operations counted) to the figures.
    pub fn annotate(&mut self) {
        let rate: f64 = self
            .ops
            .iter()
            .filter(|o| o.op != "in_sweep")
            .map(|o| o.rate_per_sec)
            .sum();
        if rate <= 0.0 {
            return;
        }
        for u in &self.services {
            let us = u.cpu_percent / 100.0 * 1_000_000.0 / rate;
            self.figures.insert(
                format!("{}_cpu_us_per_request", u.name),
                serde_json::json!((us * 10.0).round() / 10.0),
            );
        }
    }

    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    pub fn print(&self) {
        println!("\n{}  ({:.2} s)", self.scenario, self.elapsed_secs);
        println!("reproduce: {}", self.command);
        print_table(&self.ops);
        for (k, v) in &self.figures {
            println!("{k}: {v}");
        }
        for u in &self.services {
            println!(
                "{}: cpu {:.0}%  rss {:.1} MiB  peak rss {:.1} MiB",
                u.name, u.cpu_percent, u.rss_mib, u.peak_rss_mib
            );
        }
        for c in &self.checks {
            println!(
                "check {:<28} {}  {}",
                c.name,
                if c.passed { "PASS" } else { "FAIL" },
                c.detail
            );
        }
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_vec_pretty(self)?)?;
        Ok(())
    }
}
