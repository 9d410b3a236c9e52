//! What the load goes to: services already running (by URL), or the release binaries started here
//! as child processes on free loopback ports (the default), so their CPU and memory can be
//! measured apart from the generator's own. Started here, the services keep their state in memory,
//! in a fresh embedded store, or in a fresh schema of a PostgreSQL database, where several
//! replicas of each may share it. For checkouts, a Stripe sandbox (the `stripe-sandbox` binary)
//! is started too, and order-service collects payments through it.

use crate::client::{Conn, bearer};
use anyhow::{Context, bail};
use hyper::Method;
use service_kit::TokenKeys;
use std::{
    io::{BufRead, BufReader},
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
    /// PostgreSQL for services started here to keep their state in (overrides --storage), e.g.
    /// `postgres://postgres@127.0.0.1:5432/postgres`. Each run gets a fresh schema in it; the
    /// previous run's schema is dropped.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Replicas of each service to start here and spread the connections over (more than one
    /// needs --database-url, which they share). Order-service replica i calls course-service
    /// replica i.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=8))]
    pub replicas: u16,
    /// Extra environment for services started here, e.g. `--service-env RUST_LOG=info`.
    #[arg(long = "service-env", value_parser = parse_env)]
    pub service_env: Vec<(String, String)>,
}

/// The longest a service started here may take to come up.
const STARTUP: Duration = Duration::from_secs(20);

/// Schemas this generator creates start with this, so the next run can drop them.
const SCHEMA_PREFIX: &str = "loadgen";

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

/// The services under load.
#[derive(Debug)]
pub struct Target {
    /// The first course-service replica, for setup and checks.
    pub course: SocketAddr,
    /// The first order-service replica, when order-service runs.
    pub order: Option<SocketAddr>,
    /// The Stripe sandbox order-service collects payments through, when it does.
    pub sandbox: Option<SocketAddr>,
    /// Every course-service replica, to spread load over.
    pub courses: Vec<SocketAddr>,
    /// Every order-service replica, to spread load over.
    pub orders: Vec<SocketAddr>,
    pub keys: TokenKeys,
    /// (name, pid) of each service whose usage is reported.
    pub processes: Vec<(String, u32)>,
    children: Vec<Child>,
    data_dir: Option<PathBuf>,
}

impl Target {
    /// Resolves or starts the services; `with_orders` also brings up order-service.
    pub async fn prepare(args: &TargetArgs, with_orders: bool) -> anyhow::Result<Target> {
        Target::prepare_with(args, with_orders, false).await
    }

    /// Starts course-service, a Stripe sandbox and order-service collecting payments through it
    /// (`PAYMENT_PROVIDER=stripe`), the sandbox sending its webhooks to every order-service
    /// replica. Services only: running ones cannot be pointed at a sandbox from here.
    pub async fn prepare_checkout(args: &TargetArgs) -> anyhow::Result<Target> {
        if args.course_url.is_some() || args.order_url.is_some() {
            bail!("checkouts need services started here (no --course-url / --order-url)");
        }
        Target::prepare_with(args, true, true).await
    }

    async fn prepare_with(
        args: &TargetArgs,
        with_orders: bool,
        payments: bool,
    ) -> anyhow::Result<Target> {
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
        let started_here = args.course_url.is_none() && args.order_url.is_none();
        if args.replicas > 1 && (args.database_url.is_none() || !started_here) {
            bail!("--replicas needs --database-url (and services started here)");
        }
        let mut target = Target::empty(keys)?;
        let mut env = vec![("STORAGE".to_owned(), args.storage.clone())];
        if let Some(database) = &args.database_url {
            if started_here {
                env.push(("DATABASE_URL".to_owned(), fresh_database(database).await?));
            }
        } else if args.storage != "memory" {
            let dir =
                std::env::temp_dir().join(format!("loadgen-{}", uuid::Uuid::new_v4().simple()));
            env.push(("DATA_DIR".to_owned(), dir.display().to_string()));
            target.data_dir = Some(dir);
        }
        env.extend(args.service_env.iter().cloned());
        match &args.course_url {
            Some(url) => {
                if let Some(pid) = args.course_pid {
                    target.processes.push(("course-service".into(), pid));
                }
                target.courses.push(addr(url)?);
            }
            None => {
                for replica in 1..=args.replicas {
                    let name = replica_name("course-service", replica, args.replicas);
                    let address = target
                        .spawn("course-service", &name, &secret, &env, &[], free_port()?)
                        .await?;
                    target.courses.push(address);
                }
            }
        }
        target.course = target.courses[0];
        if with_orders {
            match &args.order_url {
                Some(url) => {
                    if let Some(pid) = args.order_pid {
                        target.processes.push(("order-service".into(), pid));
                    }
                    target.orders.push(addr(url)?);
                }
                None => {
                    let ports = (0..args.replicas)
                        .map(|_| free_port())
                        .collect::<anyhow::Result<Vec<u16>>>()?;
                    let mut more = Vec::new();
                    if payments {
                        more = target.spawn_sandbox(&ports).await?;
                    }
                    let replicas = (1..=args.replicas).zip(target.courses.clone()).zip(ports);
                    for ((replica, course), port) in replicas {
                        let name = replica_name("order-service", replica, args.replicas);
                        let mut extra = more.clone();
                        extra.push(("COURSE_SERVICE_URL".to_owned(), format!("http://{course}")));
                        let address = target
                            .spawn("order-service", &name, &secret, &env, &extra, port)
                            .await?;
                        target.orders.push(address);
                    }
                }
            }
            target.order = target.orders.first().copied();
        }
        Ok(target)
    }

    /// Nothing started yet.
    fn empty(keys: TokenKeys) -> anyhow::Result<Target> {
        Ok(Target {
            course: addr("127.0.0.1:1")?,
            order: None,
            sandbox: None,
            courses: vec![],
            orders: vec![],
            keys,
            processes: vec![],
            children: vec![],
            data_dir: None,
        })
    }

    /// Starts the bare benchmark reference in place of the services, not the product: a
    /// `loadgen reference-server` (this executable) in course mode and, with `with_orders`, one
    /// in orders mode holding and confirming at it; each with one HTTP worker per core, as the
    /// services start with. Their usage is reported as `reference-course` and `reference-order`.
    pub async fn prepare_reference(args: &TargetArgs, with_orders: bool) -> anyhow::Result<Target> {
        if args.course_url.is_some()
            || args.order_url.is_some()
            || args.database_url.is_some()
            || args.replicas > 1
            || !args.service_env.is_empty()
        {
            bail!(
                "--reference starts the reference handlers here, in memory: it takes no \
                 --course-url, --order-url, --database-url, --replicas or --service-env"
            );
        }
        // The reference ignores tokens; the scenarios still mint and send them.
        let secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let mut target = Target::empty(TokenKeys::from_secret(&secret)?)?;
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .to_string();
        let course = target
            .spawn_reference("reference-course", &["--workers", &workers])
            .await?;
        target.course = course;
        target.courses.push(course);
        if with_orders {
            let url = format!("http://{course}");
            let order = target
                .spawn_reference(
                    "reference-order",
                    &["--workers", &workers, "--orders", "--course-url", &url],
                )
                .await?;
            target.order = Some(order);
            target.orders.push(order);
        }
        Ok(target)
    }

    /// Starts `loadgen reference-server` with `args` on a free port and returns the address it
    /// prints on its first line, once it answers. The child is killed with this target, also when
    /// starting it fails.
    async fn spawn_reference(&mut self, name: &str, args: &[&str]) -> anyhow::Result<SocketAddr> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(&exe)
            .args(["reference-server", "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {} reference-server", exe.display()))?;
        let stdout = child.stdout.take().context("no stdout of the reference")?;
        self.processes.push((name.to_owned(), child.id()));
        self.children.push(child);
        let index = self.children.len() - 1;
        let reading = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line).map(|_| line);
            (reader.into_inner(), read)
        });
        let (stdout, line) = tokio::time::timeout(STARTUP, reading)
            .await
            .with_context(|| format!("{name} printed no address within {STARTUP:?}"))??;
        // Kept open for the child's life, so that a late write cannot fail on a closed pipe.
        self.children[index].stdout = Some(stdout);
        let line = line?;
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .with_context(|| format!("{name} printed `{}`, not its address", line.trim()))?;
        let address = addr(address)?;
        wait_answers(address, "/health/live", name).await?;
        Ok(address)
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

    /// Starts the sandbox, delivering webhooks to order-service on each of `order_ports`, and
    /// returns the environment that points order-service at it.
    async fn spawn_sandbox(
        &mut self,
        order_ports: &[u16],
    ) -> anyhow::Result<Vec<(String, String)>> {
        let binary = sibling_binary("stripe-sandbox")?;
        let port = free_port()?;
        let hooks: Vec<String> = order_ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}/api/payments/stripe/webhook"))
            .collect();
        let child = Command::new(&binary)
            .args([
                "--port",
                &port.to_string(),
                "--webhook-retry-base-ms",
                "200",
            ])
            .args(["--webhook-url", &hooks.join(",")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        self.processes
            .push(("stripe-sandbox".to_owned(), child.id()));
        self.children.push(child);
        let address = addr(&format!("127.0.0.1:{port}"))?;
        wait_answers(address, "/_sandbox/webhooks", "stripe-sandbox").await?;
        self.sandbox = Some(address);
        Ok([
            ("PAYMENT_PROVIDER", "stripe".to_owned()),
            ("STRIPE_API_BASE", format!("http://{address}")),
            (
                "STRIPE_SECRET_KEY",
                stripe_sandbox::DEFAULT_API_KEY.to_owned(),
            ),
            (
                "STRIPE_WEBHOOK_SECRET",
                stripe_sandbox::DEFAULT_WEBHOOK_SECRET.to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect())
    }

    async fn spawn(
        &mut self,
        binary: &str,
        name: &str,
        secret: &str,
        extra: &[(String, String)],
        more: &[(String, String)],
        port: u16,
    ) -> anyhow::Result<SocketAddr> {
        let binary = sibling_binary(binary)?;
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
        wait_answers(address, "/health/live", name).await?;
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

/// `course-service`, or `course-service-2` when there are replicas.
fn replica_name(binary: &str, replica: u16, replicas: u16) -> String {
    if replicas == 1 {
        binary.to_owned()
    } else {
        format!("{binary}-{replica}")
    }
}

/// Drops the schemas earlier runs left in the database at `base` and creates a fresh one; returns
/// the URL that uses it.
async fn fresh_database(base: &str) -> anyhow::Result<String> {
    let pool = sqlx::PgPool::connect(base).await.with_context(|| {
        format!(
            "cannot connect to {}",
            storage_kit::postgres::redacted(base)
        )
    })?;
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1 || '\\_%'",
    )
    .bind(SCHEMA_PREFIX)
    .fetch_all(&pool)
    .await?;
    for schema in old {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&pool)
            .await?;
    }
    pool.close().await;
    storage_kit::postgres::fresh_schema(base, SCHEMA_PREFIX).await
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

/// A loopback port free at the moment.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits (at most [`STARTUP`]) until `path` on `address` answers 200.
async fn wait_answers(address: SocketAddr, path: &str, name: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + STARTUP;
    while Instant::now() < deadline {
        let probe = async {
            let mut conn = Conn::open(address).await?;
            conn.send(Method::GET, path, &bearer(""), None).await
        };
        // One attempt may take a second at most: a service that accepts but never answers is
        // retried, not waited on for ever.
        if let Ok(Ok(answer)) = tokio::time::timeout(Duration::from_secs(1), probe).await
            && answer.status == 200
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{name} did not answer {path} on {address} within {STARTUP:?}")
}

/// `http://host:port` or `host:port` as a socket address.
pub fn addr(url: &str) -> anyhow::Result<SocketAddr> {
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    hostport
        .to_socket_addrs()?
        .next()
        .with_context(|| format!("cannot resolve {url}"))
}
