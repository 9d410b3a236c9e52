//! The `order-service` binary: serves by default; `token` mints a bearer token for local use and
//! `healthcheck` probes a running instance (for container health checks without curl).

use clap::Parser;
use order_service::{Application, Config, clock::SystemClock};
use service_kit::cli;
use std::{process::ExitCode, sync::Arc};

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
    let Cli { command, config } = Cli::parse();
    let (secret, port) = (config.auth_jwt_secret.clone(), config.port);
    cli::dispatch(command, secret.as_ref(), port, || serve(config)).await
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let _telemetry = config.telemetry.init("order-service")?;
    let app = Application::build(&config, Arc::new(SystemClock)).await?;
    tracing::info!(
        address = %format!("http://{}:{}", config.host, app.port()),
        course_service_url = %config.course_service_url,
        course_timeout_ms = config.course_timeout_ms,
        course_retry_max = config.course_retry_max,
        waitlist_follow = config.waitlist.waitlist_follow,
        version = env!("CARGO_PKG_VERSION"),
        "order-service listening"
    );
    let following = app.stop_following();
    service_kit::shutdown::stop_on_signal_after(move || following.stop(), vec![app.handle()]);
    app.run_until_stopped().await?;
    tracing::info!("order-service stopped");
    Ok(())
}
