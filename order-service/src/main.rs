//! The `order-service` binary: serves by default; `token` mints a bearer token for local use and
//! `healthcheck` probes a running instance (for container health checks without curl).

use clap::Parser;
use order_service::{Application, Config};
use service_kit::cli;
use std::process::ExitCode;

/// mimalloc: markedly cheaper than the system allocator for the many short-lived allocations of
/// request handling across worker threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Students buy course seats over HTTP.
#[derive(Debug, Parser)]
#[command(name = "order-service", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<cli::Command>,
    #[command(flatten)]
    config: Config,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(cli::Command::Serve) {
        cli::Command::Serve => cli::exit_code(serve(cli.config).await),
        cli::Command::Token(args) => {
            cli::exit_code(cli::print_token(cli.config.auth_jwt_secret.as_ref(), &args))
        }
        cli::Command::Healthcheck => cli::healthcheck(cli.config.port).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let _telemetry = service_kit::telemetry::init(
        config.log_format,
        "order-service",
        config.otlp_endpoint.as_deref(),
    )?;
    let app = Application::build(&config).await?;
    tracing::info!(
        address = %format!("http://{}:{}", config.host, app.port()),
        course_service_url = %config.course_service_url,
        course_timeout_ms = config.course_timeout_ms,
        course_retry_max = config.course_retry_max,
        version = env!("CARGO_PKG_VERSION"),
        "order-service listening"
    );
    service_kit::shutdown::stop_on_signal(vec![app.handle()]);
    app.run_until_stopped().await?;
    tracing::info!("order-service stopped");
    Ok(())
}
