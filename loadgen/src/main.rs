//! `loadgen`: drives course-service and order-service the way their users do and reports
//! throughput, latency percentiles, errors by code, the services' CPU and memory, and correctness
//! checks (no oversell, the seat invariant). Every run is bounded in requests and time and targets
//! loopback only.
//!
//! By default it starts the release binaries next to itself on free ports; `--course-url` and
//! `--order-url` point it at running services instead. `expiry-storm` runs course-service in this
//! process so that it can move the clock.
//!
//! `reference-server` is not a scenario: it serves a bare handler doing the product's core work,
//! a reference for the benchmarks (not the product); `reserve --reference` and
//! `orders --reference` run the same scenarios against it.

/// mimalloc: markedly cheaper than the system allocator for the many short-lived allocations of
/// request handling across worker threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod client;
mod feed;
mod procstat;
mod reference;
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
    command: Command,
    /// Also write the result as JSON to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Runtime threads of the generator itself.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Scenario(Scenario),
    /// Benchmark reference, not the product: a bare handler doing the product's core work.
    ///
    /// A minimal actix-web server for benchmarks, so that "the product / a bare handler doing the
    /// same work" can be measured. Course mode (default): PUT
    /// /api/courses/{course_id}/reservations/{reservation_id} takes one parking_lot::Mutex per
    /// course, checks a seat is free, keeps the hold in a HashMap and answers 201 with a body
    /// shaped like the product's reservation; POST .../confirm sells it; POST /api/courses
    /// creates a course (a hold creates an unknown one with 10,000,000 seats). Orders mode
    /// (--orders --course-url URL): POST /api/orders keeps the order in a Mutex<HashMap>, holds
    /// and confirms its seat at URL over reqwest (retries with exponential backoff, a timeout on
    /// every attempt) and answers 201 with the confirmed order.
    ///
    /// Not the product: it accepts and ignores the Authorization header (the product verifies a
    /// JWT, cached per token), never expires a hold, and has no storage, events, waitlist, rate
    /// limits, idempotency keys, metrics or logs. Bad ids and bodies answer 400, unknown courses,
    /// reservations and routes 404, each with a small JSON {"code", "detail"}.
    ///
    /// The first line on stdout is the address bound: `listening on http://127.0.0.1:PORT`.
    /// `loadgen reserve --reference` and `loadgen orders --reference` start it and run the same
    /// scenarios against it; `scripts/bench.sh ratio` compares it with the product.
    ReferenceServer(reference::Args),
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// One course with S seats, N students ordering at once.
    FlashSale(scenarios::flash_sale::Args),
    /// Sustained paid orders: order, pay at a Stripe sandbox, webhook, confirmed.
    Checkout(scenarios::checkout::Args),
    /// Sustained end-to-end orders at concurrency C for T seconds.
    Orders(scenarios::orders::RunArgs),
    /// Raw hold + confirm on course-service, one hot course or many.
    Reserve(scenarios::reserve::Args),
    /// H holds lapse at once: sweep time, request latency meanwhile, memory per hold.
    ExpiryStorm(scenarios::expiry_storm::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scenario(scenario) => load(scenario, cli.threads, cli.json),
        Command::ReferenceServer(args) => match reference::main(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Runs one scenario and reports it.
fn load(scenario: Scenario, threads: usize, json: Option<PathBuf>) -> ExitCode {
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
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
        match scenario {
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
    if let Some(path) = &json
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
