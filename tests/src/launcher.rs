//! The all-in-one launcher (`cargo run --release`'s binary) as a child process on free ports with
//! a data directory of its own, and the `export` lines of the banner it prints.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// A running launcher.
#[derive(Debug)]
pub struct Launcher {
    child: Child,
    /// Everything it printed to stdout so far (the banner, and the log lines).
    output: Arc<Mutex<Vec<String>>>,
    /// The variables the banner exports.
    pub exports: BTreeMap<String, String>,
}

/// A free port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The launcher binary.
pub fn binary() -> PathBuf {
    crate::procs::binaries().join("course-platform")
}

impl Launcher {
    /// Starts the launcher with `DATA_DIR=data_dir`, both services on free ports, and `env` on
    /// top; waits (at most 30 s) until it has printed its banner.
    pub fn start(data_dir: &Path, env: &[(&str, String)]) -> Launcher {
        let mut env = env.to_vec();
        env.push(("DATA_DIR", data_dir.display().to_string()));
        Launcher::start_in(Path::new("."), &env)
    }

    /// Starts the launcher in the directory `dir` (its default data directory is `dir/data`),
    /// both services on free ports, with `env`; waits (at most 30 s) for its banner.
    pub fn start_in(dir: &Path, env: &[(&str, String)]) -> Launcher {
        let mut command = Command::new(binary());
        command
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("COURSE_PORT", free_port().to_string())
            .env("ORDER_PORT", free_port().to_string())
            .env("SANDBOX_PORT", free_port().to_string())
            .env("STOREFRONT_PORT", free_port().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn the launcher");
        let output = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    output.lock().expect("output").push(line);
                }
            });
        }
        let mut launcher = Launcher {
            child,
            output,
            exports: BTreeMap::new(),
        };
        launcher.wait_for_banner();
        launcher
    }

    fn wait_for_banner(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self
                .lines()
                .iter()
                .any(|l| l.trim() == "Press Ctrl-C to stop.")
            {
                break;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the launcher exited with {status}:\n{}", self.text());
            }
            assert!(
                Instant::now() < deadline,
                "no banner after 30 s:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        self.exports = self
            .lines()
            .iter()
            .filter_map(|l| l.trim().strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    }

    /// The lines printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.output.lock().expect("output").clone()
    }

    /// The output so far as one text.
    pub fn text(&self) -> String {
        self.lines().join("\n")
    }

    pub fn export(&self, name: &str) -> &str {
        self.exports
            .get(name)
            .unwrap_or_else(|| panic!("the banner exports no {name}:\n{}", self.text()))
    }

    /// SIGTERM, then waits (at most 10 s) for it to exit; returns its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
