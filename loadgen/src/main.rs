//! `loadgen`: drives course-service and order-service the way their users do and reports
//! throughput, latency percentiles, errors by code, the services' CPU and memory, and correctness
//! checks (no oversell, the seat invariant). Every run is bounded in requests and time and targets
//! loopback only.
//!
//! By default it starts the release binaries next to itself on free ports; `--course-url` and
//! `--order-url` point it at running services instead. `expiry-storm` runs course-service in this
//! process so that it can move the clock.

/// mimalloc: markedly cheaper than the system allocator for the many short-lived allocations of
/// request handling across worker threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod client;
mod feed;
mod procstat;
mod report;
mod runner;
mod scenarios;
mod stats;
mod target;

use clap::{Parser, Subcommand};
use std::{path::PathBuf, process::ExitCode};

/// Load generator and benchmark runner for course-platform.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, about)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Also write the result as JSON to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Runtime threads of the generator itself.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// One course with S seats, N students ordering at once.
    FlashSale(scenarios::flash_sale::Args),
    /// Sustained paid orders: order, pay at a Stripe sandbox, webhook, confirmed.
    Checkout(scenarios::checkout::Args),
    /// Sustained end-to-end orders at concurrency C for T seconds.
    Orders(scenarios::orders::Args),
    /// Raw hold + confirm on course-service, one hot course or many.
    Reserve(scenarios::reserve::Args),
    /// H holds lapse at once: sweep time, request latency meanwhile, memory per hold.
    ExpiryStorm(scenarios::expiry_storm::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut builder = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(cli.threads);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.scenario {
            Scenario::FlashSale(args) => scenarios::flash_sale::run(args).await,
            Scenario::Orders(args) => scenarios::orders::run(args).await,
            Scenario::Checkout(args) => scenarios::checkout::run(args).await,
            Scenario::Reserve(args) => scenarios::reserve::run(args).await,
            Scenario::ExpiryStorm(args) => scenarios::expiry_storm::run(args).await,
        }
    });
    let mut report = match result {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    report.annotate();
    report.print();
    if let Some(path) = &cli.json
        && let Err(e) = report.write_json(path)
    {
        eprintln!("error: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
