//! The `order-service` binary: serves by default; `token` mints a bearer token for local use and
//! `healthcheck` probes a running instance (for container health checks without curl).

use clap::{Parser, Subcommand};
use order_service::{Application, Config};
use service_kit::cli;
use std::process::ExitCode;

/// Students buy course seats over HTTP.
#[derive(Debug, Parser)]
#[command(name = "order-service", version, about)]
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
    /// Print a signed bearer token, e.g. `order-service token --role student --sub bob`.
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
    let app = Application::build(&config).await?;
    tracing::info!(
        address = %format!("http://{}:{}", config.host, app.port()),
        course_service_url = %config.course_service_url,
        course_timeout_ms = config.course_timeout_ms,
        course_retry_max = config.course_retry_max,
        version = env!("CARGO_PKG_VERSION"),
        "order-service listening"
    );
    let handle = app.handle();
    tokio::spawn(async move {
        service_kit::shutdown::signal().await;
        handle.stop(true).await;
    });
    app.run_until_stopped().await?;
    tracing::info!("order-service stopped");
    Ok(())
}
