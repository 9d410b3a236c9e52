//! Storage faults on demand: the disk trouble the durability tests need (a write that fails, a
//! disk that is full from now on, a disk that is slow to sync), injected where the journal commits.
//!
//! A service is started with [`Faults::none`] unless `STORAGE_FAULTS` says otherwise, e.g.
//! `STORAGE_FAULTS=commit-delay-ms=300` or `STORAGE_FAULTS=fail-after-commits=20`. Tests that run a
//! service in process keep a clone of the handle and change it while the service runs. With no
//! fault set, the cost is two relaxed atomic loads per commit.

use std::{
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

/// A shared handle on the faults injected into one journal.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<State>);

#[derive(Debug)]
struct State {
    /// Milliseconds each commit waits before it is written (a slow disk).
    delay_ms: AtomicU64,
    /// Fail the next commit only.
    fail_next: AtomicBool,
    /// Commits that still succeed before every later one fails (`u64::MAX`: no such limit).
    commits_left: AtomicU64,
    /// Whether any fault was ever set (so a fault-free journal checks one flag).
    armed: AtomicBool,
}

impl Default for State {
    fn default() -> Self {
        State {
            delay_ms: AtomicU64::new(0),
            fail_next: AtomicBool::new(false),
            commits_left: AtomicU64::new(u64::MAX),
            armed: AtomicBool::new(false),
        }
    }
}

impl Faults {
    /// No faults.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Whether any fault has been set.
    pub fn armed(&self) -> bool {
        self.0.armed.load(Ordering::Relaxed)
    }

    /// Each commit from now on waits `delay` before it is written.
    pub fn delay_commits(&self, delay: Duration) -> &Self {
        self.0
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
        self.arm()
    }

    /// The next commit fails.
    pub fn fail_next_write(&self) -> &Self {
        self.0.fail_next.store(true, Ordering::Relaxed);
        self.arm()
    }

    /// Every commit from now on fails, as on a full disk.
    pub fn fail_every_write(&self) -> &Self {
        self.fail_after_commits(0)
    }

    /// `commits` more commits succeed, then every one fails.
    pub fn fail_after_commits(&self, commits: u64) -> &Self {
        self.0.commits_left.store(commits, Ordering::Relaxed);
        self.arm()
    }

    /// Takes every fault away (a restart with the disk repaired starts from [`Faults::none`]).
    pub fn clear(&self) {
        self.0.delay_ms.store(0, Ordering::Relaxed);
        self.0.fail_next.store(false, Ordering::Relaxed);
        self.0.commits_left.store(u64::MAX, Ordering::Relaxed);
    }

    fn arm(&self) -> &Self {
        self.0.armed.store(true, Ordering::Relaxed);
        self
    }

    /// Called by the writer before each commit: waits as a slow disk would, then says whether the
    /// commit must fail.
    pub(super) fn before_commit(&self) -> std::io::Result<()> {
        if !self.armed() {
            return Ok(());
        }
        let delay = self.0.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let exhausted = self
            .0
            .commits_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| match left {
                u64::MAX | 0 => None,
                n => Some(n - 1),
            })
            .is_err_and(|left| left == 0);
        if exhausted || self.0.fail_next.swap(false, Ordering::Relaxed) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "injected storage fault (STORAGE_FAULTS)",
            ));
        }
        Ok(())
    }
}

/// Why a `STORAGE_FAULTS` value was refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "STORAGE_FAULTS: {0}; expected comma-separated `commit-delay-ms=N`, `fail-after-commits=N`, `fail-next-write`"
)]
pub struct FaultsParseError(String);

impl FromStr for Faults {
    type Err = FaultsParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let faults = Faults::none();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| FaultsParseError(format!("`{part}` needs a whole number")))
            };
            match name {
                "commit-delay-ms" => {
                    faults.delay_commits(Duration::from_millis(number()?));
                }
                "fail-after-commits" => {
                    faults.fail_after_commits(number()?);
                }
                "fail-next-write" if value.is_empty() => {
                    faults.fail_next_write();
                }
                _ => return Err(FaultsParseError(format!("unknown fault `{part}`"))),
            }
        }
        Ok(faults)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_fault_lets_every_commit_through() {
        let faults = Faults::none();
        assert!((0..100).all(|_| faults.before_commit().is_ok()));
        assert!(!faults.armed());
    }

    #[test]
    fn fail_next_write_fails_exactly_one_commit() {
        let faults = Faults::none();
        faults.fail_next_write();
        assert!(faults.before_commit().is_err());
        assert!(faults.before_commit().is_ok());
    }

    #[test]
    fn fail_after_commits_lets_that_many_through_then_fails_every_one() {
        let faults: Faults = "fail-after-commits=2".parse().expect("parse");
        assert!(faults.before_commit().is_ok());
        assert!(faults.before_commit().is_ok());
        assert!((0..5).all(|_| faults.before_commit().is_err()));
        faults.clear();
        assert!(faults.before_commit().is_ok());
    }

    #[test]
    fn a_delay_slows_each_commit() {
        let faults: Faults = "commit-delay-ms=30".parse().expect("parse");
        let started = std::time::Instant::now();
        faults.before_commit().expect("no failure");
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn unknown_or_malformed_faults_are_refused_with_the_accepted_forms() {
        for bad in [
            "explode",
            "commit-delay-ms=soon",
            "fail-after-commits",
            "fail-next-write=1",
        ] {
            let err = bad.parse::<Faults>().expect_err(bad).to_string();
            assert!(err.contains("commit-delay-ms=N"), "{err}");
        }
        assert!("".parse::<Faults>().is_ok_and(|f| !f.armed()));
    }
}
