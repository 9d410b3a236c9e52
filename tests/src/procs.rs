//! The release or debug binaries of both services as child processes, for tests that stop, kill
//! and restart them: configured through the environment only, exactly as operators run them.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

/// The directory holding this build's binaries (`target/debug` or `target/release`), after making
/// sure both service binaries and the launcher are built and current.
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
            "-p",
            "course-platform",
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

    /// Sets (or, with `None`, removes) a variable for the next [`ServiceProcess::restart`].
    pub fn set_env(&mut self, name: &str, value: Option<&str>) {
        self.env.retain(|(k, _)| k != name);
        if let Some(value) = value {
            self.env.push((name.to_owned(), value.to_owned()));
        }
    }

    /// Whether the process is still running (false once it exited, or was killed or stopped).
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
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
    let finished = run(name, &[], env);
    (finished.code, finished.stderr)
}

/// How a run of a binary ended.
#[derive(Debug)]
pub struct Finished {
    /// `None` when it was still running after 10 s (and was killed).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary `name` with `args` and `env` (nothing else of this process's environment but
/// `HOST` and a free `PORT`) to completion, for at most 10 s.
pub fn run(name: &str, args: &[&str], env: &[(&str, String)]) -> Finished {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut command = Command::new(binaries().join(name));
    command
        .args(args)
        .env_clear()
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("spawn");
    let pid = child.id();
    let (done, waited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match waited.recv_timeout(Duration::from_secs(10)) {
        Ok(output) => {
            let output = output.expect("wait");
            Finished {
                code: output.status.code(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            }
        }
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            Finished {
                code: None,
                stdout: String::new(),
                stderr: "still running after 10 s".into(),
            }
        }
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

/// Sends one request with an optional bearer token, JSON body and `Idempotency-Key`, and returns
/// the status and the JSON body (null when there is none). A request that gets no answer at all
/// (the process is down) reads as 502.
pub async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<String>,
    body: Option<serde_json::Value>,
    key: Option<&str>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            (
                status,
                response.json().await.unwrap_or(serde_json::Value::Null),
            )
        }
        Err(_) => (reqwest::StatusCode::BAD_GATEWAY, serde_json::Value::Null),
    }
}
