//! What the load goes to: services already running (by URL), or the release binaries started here
//! as child processes on free loopback ports (the default), so their CPU and memory can be
//! measured apart from the generator's own.

use crate::client::{Conn, bearer};
use anyhow::{Context, bail};
use hyper::Method;
use service_kit::TokenKeys;
use std::{
    net::{SocketAddr, TcpListener, ToSocketAddrs},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Where the services are.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// course-service to load (default: start target/release/course-service here).
    #[arg(long)]
    pub course_url: Option<String>,
    /// order-service to load (default: start target/release/order-service here).
    #[arg(long)]
    pub order_url: Option<String>,
    /// Token secret shared with the services (required with --course-url / --order-url).
    #[arg(long, env = "AUTH_JWT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Pid of a running course-service, to report its CPU and memory.
    #[arg(long)]
    pub course_pid: Option<u32>,
    /// Pid of a running order-service, to report its CPU and memory.
    #[arg(long)]
    pub order_pid: Option<u32>,
    /// Where services started here keep their state: `embedded` (a fresh directory under the
    /// system's temp dir, removed afterwards) or `memory`.
    #[arg(long, default_value = "embedded")]
    pub storage: String,
    /// Extra environment for services started here, e.g. `--service-env RUST_LOG=info`.
    #[arg(long = "service-env", value_parser = parse_env)]
    pub service_env: Vec<(String, String)>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

/// The services under load.
#[derive(Debug)]
pub struct Target {
    pub course: SocketAddr,
    pub order: Option<SocketAddr>,
    pub keys: TokenKeys,
    /// (name, pid) of each service whose usage is reported.
    pub processes: Vec<(String, u32)>,
    children: Vec<Child>,
    data_dir: Option<PathBuf>,
}

impl Target {
    /// Resolves or starts the services; `with_orders` also brings up order-service.
    pub async fn prepare(args: &TargetArgs, with_orders: bool) -> anyhow::Result<Target> {
        let secret = match (&args.secret, &args.course_url) {
            (Some(s), _) => s.clone(),
            (None, None) => format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
            (None, Some(_)) => bail!("--secret (or AUTH_JWT_SECRET) is required with --course-url"),
        };
        let keys = TokenKeys::from_secret(&secret)?;
        let mut target = Target {
            course: addr("127.0.0.1:1")?,
            order: None,
            keys,
            processes: vec![],
            children: vec![],
            data_dir: None,
        };
        let mut env = vec![("STORAGE".to_owned(), args.storage.clone())];
        if args.storage != "memory" {
            let dir =
                std::env::temp_dir().join(format!("loadgen-{}", uuid::Uuid::new_v4().simple()));
            env.push(("DATA_DIR".to_owned(), dir.display().to_string()));
            target.data_dir = Some(dir);
        }
        env.extend(args.service_env.iter().cloned());
        target.course = match &args.course_url {
            Some(url) => {
                if let Some(pid) = args.course_pid {
                    target.processes.push(("course-service".into(), pid));
                }
                addr(url)?
            }
            None => target.spawn("course-service", &secret, &env, &[]).await?,
        };
        if with_orders {
            let course_url = format!("http://{}", target.course);
            target.order = Some(match &args.order_url {
                Some(url) => {
                    if let Some(pid) = args.order_pid {
                        target.processes.push(("order-service".into(), pid));
                    }
                    addr(url)?
                }
                None => {
                    let course = [("COURSE_SERVICE_URL".to_owned(), course_url)];
                    target
                        .spawn("order-service", &secret, &env, &course)
                        .await?
                }
            });
        }
        Ok(target)
    }

    /// Starts measuring the services and this generator.
    pub fn probes(&self) -> Vec<crate::procstat::Probe> {
        let me = ("loadgen".to_owned(), std::process::id());
        self.processes
            .iter()
            .chain(std::iter::once(&me))
            .filter_map(|(n, p)| crate::procstat::Probe::start(n, *p))
            .collect()
    }

    async fn spawn(
        &mut self,
        name: &str,
        secret: &str,
        extra: &[(String, String)],
        more: &[(String, String)],
    ) -> anyhow::Result<SocketAddr> {
        let binary = sibling_binary(name)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut command = Command::new(&binary);
        command
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("AUTH_JWT_SECRET", secret)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in extra.iter().chain(more) {
            command.env(k, v);
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        self.processes.push((name.to_owned(), child.id()));
        self.children.push(child);
        let address = addr(&format!("127.0.0.1:{port}"))?;
        wait_ready(address, name).await?;
        Ok(address)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::current_exe()?
        .parent()
        .map(PathBuf::from)
        .context("no directory for loadgen")?;
    let path = dir.join(name);
    if !path.exists() {
        bail!(
            "{} not found: build it first with `cargo build --release`",
            path.display()
        );
    }
    Ok(path)
}

async fn wait_ready(address: SocketAddr, name: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(mut conn) = Conn::open(address).await
            && let Ok(answer) = conn
                .send(Method::GET, "/health/live", &bearer(""), None)
                .await
            && answer.status == 200
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{name} did not become live on {address} within 20 s")
}

/// `http://host:port` or `host:port` as a socket address.
pub fn addr(url: &str) -> anyhow::Result<SocketAddr> {
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    hostport
        .to_socket_addrs()?
        .next()
        .with_context(|| format!("cannot resolve {url}"))
}
