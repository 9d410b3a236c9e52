//! `course-platform`: course-service and order-service together in one process, for trying the
//! system on one machine. `cargo run --release` at the repository root starts both on their
//! default ports, creates a demo course, and prints tokens and a curl command that buys a seat.
//! Ctrl-C (or SIGTERM) stops both gracefully.
//!
//! In production run the two binaries separately (see README.md); this launcher is a convenience.

use clap::{Parser, Subcommand};
use course_service::{
    clock::SystemClock,
    domain::{CourseDetails, Currency, NewCourse},
    store::SeatStore,
};
use service_kit::{Secret, TokenKeys, cli, journal::StorageMode, telemetry::LogFormat};
use shared_types::Role;
use std::{path::PathBuf, process::ExitCode, sync::Arc};

/// mimalloc: markedly cheaper than the system allocator for the many short-lived allocations of
/// request handling across worker threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs course-service and order-service together, for local use.
#[derive(Debug, Parser)]
#[command(name = "course-platform", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address both services listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port of course-service.
    #[arg(long, env = "COURSE_PORT", default_value_t = 5001)]
    course_port: u16,
    /// Port of order-service.
    #[arg(long, env = "ORDER_PORT", default_value_t = 5002)]
    order_port: u16,
    /// Shared token secret (at least 32 bytes); a random one is generated when unset.
    #[arg(
        long = "auth-jwt-secret",
        env = "AUTH_JWT_SECRET",
        hide_env_values = true
    )]
    auth_jwt_secret: Option<Secret>,
    /// How long a hold lasts before it expires, in seconds.
    #[arg(long, env = "RESERVATION_TTL_SECS", default_value_t = 300)]
    reservation_ttl_secs: u64,
    /// Where both services keep their state: `embedded` (on disk under DATA_DIR) or `memory`.
    #[arg(long, env = "STORAGE", value_enum, default_value = "embedded")]
    storage: StorageMode,
    /// Directory of both services' stores.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Requests per second allowed per caller in both services (0: no limit).
    #[arg(long, env = "RATE_LIMIT_RPS", default_value_t = 50)]
    rate_limit_rps: u32,
    /// Requests a caller may burst above the sustained rate.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 100)]
    rate_limit_burst: u32,
    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    log_format: LogFormat,
    /// OpenTelemetry collector to export spans to over OTLP/HTTP, e.g. `http://127.0.0.1:4318`.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve both services (the default).
    Serve,
    /// Print a token signed with AUTH_JWT_SECRET, e.g. `token --role student --sub bob`.
    Token(cli::TokenArgs),
}

#[actix_web::main]
async fn main() -> ExitCode {
    let args = Cli::parse();
    match args.command {
        Some(Command::Token(ref token)) => {
            cli::exit_code(cli::print_token(args.auth_jwt_secret.as_ref(), token))
        }
        _ => cli::exit_code(serve(args).await),
    }
}

async fn serve(args: Cli) -> anyhow::Result<()> {
    let _telemetry = service_kit::telemetry::init(
        args.log_format,
        "course-platform",
        args.otlp_endpoint.as_deref(),
    )?;
    let generated = args.auth_jwt_secret.is_none();
    let secret = args
        .auth_jwt_secret
        .clone()
        .unwrap_or_else(Secret::generate);

    let mut course_config = course_service::Config::local(secret.clone());
    course_config.host = args.host.clone();
    course_config.port = args.course_port;
    course_config.reservation_ttl_secs = args.reservation_ttl_secs;
    course_config.storage = args.storage;
    course_config.rate_limit_rps = args.rate_limit_rps;
    course_config.rate_limit_burst = args.rate_limit_burst;
    course_config.data_dir = args.data_dir.clone();
    let courses = course_service::Application::build(&course_config, Arc::new(SystemClock)).await?;
    let course_url = format!("http://{}:{}", connect_host(&args.host), courses.port());

    let mut order_config = order_service::Config::local(secret.clone(), course_url.clone());
    order_config.host = args.host.clone();
    order_config.port = args.order_port;
    order_config.storage = args.storage;
    order_config.rate_limit_rps = args.rate_limit_rps;
    order_config.rate_limit_burst = args.rate_limit_burst;
    order_config.data_dir = args.data_dir.clone();
    let orders = order_service::Application::build(&order_config).await?;
    let order_url = format!("http://{}:{}", connect_host(&args.host), orders.port());

    let demo = demo_course(courses.store().as_ref()).await?;
    let keys = TokenKeys::from_secret(secret.expose())?;
    print_banner(&course_url, &order_url, &keys, &demo.to_string(), generated);

    service_kit::shutdown::stop_on_signal(vec![orders.handle(), courses.handle()]);
    let (a, b) = tokio::join!(courses.run_until_stopped(), orders.run_until_stopped());
    a?;
    b?;
    tracing::info!("both services stopped");
    Ok(())
}

/// The demo course of an earlier run, or a new one.
async fn demo_course(store: &dyn SeatStore) -> anyhow::Result<uuid::Uuid> {
    const DEMO_INSTRUCTOR: &str = "instructor-1";
    if let Some(existing) = store
        .list_courses(Some(DEMO_INSTRUCTOR), None, 1)
        .await?
        .0
        .first()
    {
        return Ok(existing.id);
    }
    let created = store.create_course(NewCourse {
        details: CourseDetails {
            title: "Demo: Rust for Web Services".into(),
            description: Some("Created by the launcher so the example below works as is".into()),
            instructor_id: DEMO_INSTRUCTOR.into(),
            currency: Currency::USD,
        },
        price_cents: 4900,
        seats: 25,
    });
    Ok(created.await?.id)
}

/// The address clients use to reach a service listening on `host`.
fn connect_host(host: &str) -> &str {
    if host == "0.0.0.0" { "127.0.0.1" } else { host }
}

fn print_banner(
    course_url: &str,
    order_url: &str,
    keys: &TokenKeys,
    demo_course: &str,
    generated: bool,
) {
    const DAY: i64 = 24 * 3600;
    let instructor = keys.mint("instructor-1", Role::Instructor, DAY);
    let student = keys.mint("student-1", Role::Student, DAY);
    println!(
        r#"
course-platform is running
  course-service  {course_url}   (health: {course_url}/health/ready)
  order-service   {order_url}   (health: {order_url}/health/ready)

Tokens (valid 24 h{secret_note}):
  export INSTRUCTOR_TOKEN={instructor}
  export STUDENT_TOKEN={student}

A demo course exists: {demo_course}

Buy a seat:
  curl -s -X POST {order_url}/api/orders \
    -H "Authorization: Bearer $STUDENT_TOKEN" -H 'Content-Type: application/json' \
    -d '{{"course_id": "{demo_course}"}}'

Create your own course:
  curl -s -X POST {course_url}/api/courses \
    -H "Authorization: Bearer $INSTRUCTOR_TOKEN" -H 'Content-Type: application/json' \
    -d '{{"title": "My course", "price_cents": 1999, "seats": 10}}'

See the seats move:
  curl -s {course_url}/api/courses/{demo_course}

Press Ctrl-C to stop.
"#,
        secret_note = if generated {
            "; signed with a secret generated for this run"
        } else {
            ""
        },
    );
}
