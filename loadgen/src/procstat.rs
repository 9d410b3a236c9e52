//! CPU time and memory of a process, read from `/proc` (Linux).

use serde::Serialize;
use std::time::Instant;

/// Clock ticks per second in `/proc/<pid>/stat` (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// A process being measured: its CPU time at the start of the measured window.
#[derive(Debug, Clone)]
pub struct Probe {
    pub name: String,
    pid: u32,
    ticks: u64,
    since: Instant,
}

/// CPU use over the window and memory at its end.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    pub name: String,
    pub pid: u32,
    /// 100 = one core fully busy.
    pub cpu_percent: f64,
    pub rss_mib: f64,
    pub peak_rss_mib: f64,
}

impl Probe {
    pub fn start(name: &str, pid: u32) -> Option<Probe> {
        Some(Probe {
            name: name.to_owned(),
            pid,
            ticks: cpu_ticks(pid)?,
            since: Instant::now(),
        })
    }

    pub fn finish(&self) -> Option<Usage> {
        let ticks = cpu_ticks(self.pid)?.saturating_sub(self.ticks);
        let secs = self.since.elapsed().as_secs_f64().max(1e-9);
        Some(Usage {
            name: self.name.clone(),
            pid: self.pid,
            cpu_percent: ticks as f64 / TICKS_PER_SEC / secs * 100.0,
            rss_mib: memory_kib(self.pid, "VmRSS:")? as f64 / 1024.0,
            peak_rss_mib: memory_kib(self.pid, "VmHWM:")? as f64 / 1024.0,
        })
    }
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// A `Vm*:` line of `/proc/<pid>/status`, in KiB.
pub fn memory_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
