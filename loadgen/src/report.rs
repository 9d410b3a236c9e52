//! The result of a run: printed for people, written as JSON for machines.

use crate::{
    procstat::Usage,
    stats::{OpReport, write_table},
};
use serde::Serialize;
use std::path::Path;

/// The suffix of the figures that hold a service's CPU time per request (in the JSON; printed as
/// a column of the services' table).
const CPU_PER_REQUEST: &str = "_cpu_us_per_request";

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
                format!("{}{CPU_PER_REQUEST}", u.name),
                serde_json::json!((us * 10.0).round() / 10.0),
            );
        }
    }

    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    pub fn print(&self) {
        print!("{}", self.render());
    }

    /// The report for people: the operations, then the services (CPU and memory), the other
    /// figures and the checks, each as an aligned table.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "\n{}  ({:.2} s)", self.scenario, self.elapsed_secs);
        let _ = writeln!(out, "reproduce: {}", self.command);
        write_table(&mut out, &self.ops);
        if !self.services.is_empty() {
            let _ = writeln!(
                out,
                "\n{:<16} {:>6} {:>12} {:>9} {:>13}",
                "service", "cpu %", "cpu us/req", "rss MiB", "peak rss MiB"
            );
            for u in &self.services {
                let per_request = self
                    .figures
                    .get(&format!("{}{CPU_PER_REQUEST}", u.name))
                    .and_then(serde_json::Value::as_f64)
                    .map_or("-".to_owned(), |us| format!("{us:.1}"));
                let _ = writeln!(
                    out,
                    "{:<16} {:>6.0} {:>12} {:>9.1} {:>13.1}",
                    u.name, u.cpu_percent, per_request, u.rss_mib, u.peak_rss_mib
                );
            }
        }
        let figures: Vec<_> = self
            .figures
            .iter()
            .filter(|(k, _)| !k.ends_with(CPU_PER_REQUEST))
            .collect();
        if !figures.is_empty() {
            let width = figures.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            let _ = writeln!(out, "\n{:<width$}  value", "figure");
            for (k, v) in figures {
                let _ = writeln!(out, "{k:<width$}  {v}");
            }
        }
        if !self.checks.is_empty() {
            let _ = writeln!(out);
        }
        for c in &self.checks {
            let _ = writeln!(
                out,
                "check {:<28} {}  {}",
                c.name,
                if c.passed { "PASS" } else { "FAIL" },
                c.detail
            );
        }
        out
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_vec_pretty(self)?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> RunReport {
        let mut report = RunReport {
            scenario: "orders".into(),
            command: "loadgen orders".into(),
            parameters: serde_json::json!({}),
            elapsed_secs: 10.0,
            ops: vec![OpReport {
                op: "order".into(),
                requests: 1000,
                ok: 1000,
                rate_per_sec: 100.0,
                ok_rate_per_sec: 100.0,
                p50_ms: 1.0,
                p90_ms: 2.0,
                p99_ms: 3.0,
                p999_ms: 4.0,
                max_ms: 5.0,
                errors: Default::default(),
            }],
            services: vec![Usage {
                name: "order-service".into(),
                pid: 1,
                cpu_percent: 50.0,
                rss_mib: 20.0,
                peak_rss_mib: 25.0,
            }],
            figures: serde_json::Map::new(),
            checks: vec![Check::new("seat invariant", true, "ok")],
        };
        report
            .figures
            .insert("time_to_sell_out_ms".into(), serde_json::json!(12.5));
        report.annotate();
        report
    }

    #[test]
    fn every_latency_column_says_ms_and_cpu_is_a_column_of_the_services_table() {
        let text = report().render();
        assert!(text.contains("p99.9 ms"), "{text}");
        let services = text
            .lines()
            .skip_while(|l| !l.starts_with("service "))
            .take(2)
            .collect::<Vec<_>>();
        assert!(services[0].contains("cpu us/req"), "{text}");
        assert!(
            services[1].starts_with("order-service") && services[1].contains("5000.0"),
            "{text}"
        );
        assert!(!text.contains("_cpu_us_per_request"), "{text}");
        assert!(
            !text
                .lines()
                .any(|l| l.contains(": ") && !l.starts_with("reproduce")),
            "{text}"
        );
        assert!(text.contains("time_to_sell_out_ms  12.5"), "{text}");
    }
}
