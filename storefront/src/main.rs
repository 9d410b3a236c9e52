//! The `storefront` binary: serves the web pages over course-service and order-service;
//! `healthcheck` probes a running one (for container health checks without curl).

use clap::Parser;
use std::process::ExitCode;
use storefront::{Application, Config};

/// The web storefront: catalogue, buying, orders, waitlists and the instructor's pages.
#[derive(Debug, Parser)]
#[command(name = "storefront", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<service_kit::cli::Command>,
    #[command(flatten)]
    config: Config,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let mut cli = Cli::parse();
    let command = cli.command.take();
    let (secret, port) = (cli.config.auth_jwt_secret.clone(), cli.config.port);
    service_kit::cli::dispatch(command, secret.as_ref(), port, || serve(cli)).await
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    let _telemetry = cli.config.telemetry.init("storefront")?;
    let app = Application::build(&cli.config).await?;
    tracing::info!(
        address = %format!("http://{}:{}", cli.config.host, app.port()),
        course_service = %cli.config.course_service_url,
        order_service = %cli.config.order_service_url,
        dev_sign_in = cli.config.dev_sign_in,
        "storefront listening"
    );
    service_kit::shutdown::stop_on_signal_after(|| {}, vec![app.handle()]);
    app.run_until_stopped().await?;
    Ok(())
}
