//! The release or debug binaries of both services as child processes, for tests that stop, kill
//! and restart them: configured through the environment only, exactly as operators run them.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

/// The directory holding this build's binaries (`target/debug` or `target/release`), after making
/// sure both service binaries are built and current.
pub fn binaries() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        let dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target profile dir")
            .to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args([
            "build",
            "-q",
            "-p",
            "course-service",
            "-p",
            "order-service",
            "--bins",
        ]);
        if dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "building the service binaries failed");
        dir
    })
}

/// A running service process.
#[derive(Debug)]
pub struct ServiceProcess {
    name: &'static str,
    env: Vec<(String, String)>,
    pub port: u16,
    child: Option<Child>,
    log: Option<PathBuf>,
}

impl ServiceProcess {
    /// Starts `name` (course-service or order-service) on a free port with `env`, and waits until
    /// it answers `/health/live`.
    pub fn start(name: &'static str, env: &[(&str, String)]) -> ServiceProcess {
        ServiceProcess::launch(name, env, None)
    }

    /// Like [`ServiceProcess::start`], with stdout and stderr appended to `log`.
    pub fn start_logging(
        name: &'static str,
        env: &[(&str, String)],
        log: &std::path::Path,
    ) -> ServiceProcess {
        ServiceProcess::launch(name, env, Some(log.to_owned()))
    }

    fn launch(
        name: &'static str,
        env: &[(&str, String)],
        log: Option<std::path::PathBuf>,
    ) -> ServiceProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let mut process = ServiceProcess {
            name,
            env,
            port,
            child: None,
            log,
        };
        process.restart();
        process
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the process again on the same port and data directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "{} is still running", self.name);
        let mut command = Command::new(binaries().join(self.name));
        command
            .env_clear()
            .env("HOST", "127.0.0.1")
            .env("PORT", self.port.to_string())
            .env("RUST_LOG", "warn");
        match &self.log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("log file");
                command
                    .stdout(file.try_clone().expect("log file"))
                    .stderr(file);
            }
            None => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        for (k, v) in &self.env {
            command.env(k, v);
        }
        self.child = Some(command.spawn().expect("spawn service"));
        self.wait_live();
    }

    fn wait_live(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = format!("{}/health/live", self.base());
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("{} exited at start-up with {status}", self.name);
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && blocking_get_ok(&url)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("{} did not become live", self.name);
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits (bounded) for a clean exit; returns its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs the binary `name` with `env` to completion (bounded) and returns its exit code and stderr.
pub fn run_to_exit(name: &str, env: &[(&str, String)]) -> (Option<i32>, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut command = Command::new(binaries().join(name));
    command
        .env_clear()
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                use std::io::Read;
                let _ = pipe.read_to_string(&mut stderr);
            }
            return (status.code(), stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (None, "still running after 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn blocking_get_ok(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (host, path) = rest.split_once('/').map_or((rest, "/"), |(h, p)| (h, p));
    let Ok(mut stream) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Both services as processes, order-service pointed at course-service, both with `env` and
/// both appending their output to `log`.
pub fn start_both(
    env: &[(&str, String)],
    log: &std::path::Path,
) -> (ServiceProcess, ServiceProcess) {
    let course = ServiceProcess::start_logging("course-service", env, log);
    let mut order_env = env.to_vec();
    order_env.push(("COURSE_SERVICE_URL", course.base()));
    let orders = ServiceProcess::start_logging("order-service", &order_env, log);
    (course, orders)
}

/// Creates a course of `seats` seats at `price_cents` as instructor `alice` on the course-service
/// at `base`, and returns its id.
pub async fn create_course(
    base: &str,
    keys: &service_kit::TokenKeys,
    seats: u32,
    price_cents: i64,
) -> String {
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/courses"))
        .bearer_auth(keys.mint("alice", shared_types::Role::Instructor, 600))
        .json(&serde_json::json!({"title": "t", "price_cents": price_cents, "seats": seats}))
        .send()
        .await
        .expect("create course")
        .json()
        .await
        .expect("course json");
    created["id"].as_str().expect("course id").to_owned()
}
