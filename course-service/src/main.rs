//! The `course-service` binary: serves by default; `token` mints a bearer token for local use and
//! `healthcheck` probes a running instance (for container health checks without curl).

use clap::Parser;
use course_service::{Application, Config, clock::SystemClock};
use service_kit::cli;
use std::{process::ExitCode, sync::Arc};

/// mimalloc: markedly cheaper than the system allocator for the many short-lived allocations of
/// request handling across worker threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Courses, seats and expiring holds over HTTP.
#[derive(Debug, Parser)]
#[command(name = "course-service", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<cli::Command>,
    #[command(flatten)]
    config: Config,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let Cli { command, config } = Cli::parse();
    let (secret, port) = (config.auth_jwt_secret.clone(), config.port);
    cli::dispatch(command, secret.as_ref(), port, || serve(config)).await
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let _telemetry = config.telemetry.init("course-service")?;
    let app = Application::build(&config, Arc::new(SystemClock)).await?;
    tracing::info!(
        address = %format!("http://{}:{}", config.host, app.port()),
        reservation_ttl_secs = config.reservation_ttl_secs,
        expiry_sweep_cron = %config.expiry_sweep_cron,
        version = env!("CARGO_PKG_VERSION"),
        "course-service listening"
    );
    let live = app.live_streams();
    service_kit::shutdown::stop_on_signal_after(move || live.close(), vec![app.handle()]);
    app.run_until_stopped().await?;
    tracing::info!("course-service stopped");
    Ok(())
}
