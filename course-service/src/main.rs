//! The `course-service` binary: serves by default; `token` mints a bearer token for local use and
//! `healthcheck` probes a running instance (for container health checks without curl).

use clap::{Parser, Subcommand};
use course_service::{Application, Config, clock::SystemClock};
use service_kit::cli;
use std::{process::ExitCode, sync::Arc};

/// Courses, seats and expiring holds over HTTP.
#[derive(Debug, Parser)]
#[command(name = "course-service", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Print a signed bearer token, e.g. `course-service token --role instructor --sub alice`.
    Token(cli::TokenArgs),
    /// Exit 0 when the service at --port on this host answers /health/ready, 1 otherwise.
    Healthcheck,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => cli::exit_code(serve(cli.config).await),
        Command::Token(args) => {
            cli::exit_code(cli::print_token(cli.config.auth_jwt_secret.as_ref(), &args))
        }
        Command::Healthcheck => cli::healthcheck(cli.config.port).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    service_kit::telemetry::init(config.log_format)?;
    let app = Application::build(&config, Arc::new(SystemClock)).await?;
    tracing::info!(
        address = %format!("http://{}:{}", config.host, app.port()),
        reservation_ttl_secs = config.reservation_ttl_secs,
        expiry_sweep_cron = %config.expiry_sweep_cron,
        version = env!("CARGO_PKG_VERSION"),
        "course-service listening"
    );
    let handle = app.handle();
    tokio::spawn(async move {
        service_kit::shutdown::signal().await;
        handle.stop(true).await;
    });
    app.run_until_stopped().await?;
    tracing::info!("course-service stopped");
    Ok(())
}
