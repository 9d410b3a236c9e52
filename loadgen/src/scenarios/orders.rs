//! `orders`: sustained end-to-end orders through order-service (hold, record, confirm per order).

use super::{command_line, create_course, reserve::outcome, sold_checks, student_tokens};
use crate::{
    procstat::Probe,
    reference,
    report::RunReport,
    runner::{self, Limits},
    stats::Stats,
    target::{Target, TargetArgs},
};
use hyper::Method;
use serde_json::json;
use std::{sync::Arc, time::Instant};
use uuid::Uuid;

const SEATS_PER_COURSE: u32 = 1_000_000;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Courses the orders are spread over.
    #[arg(long, default_value_t = 100)]
    pub courses: usize,
    /// Distinct students placing orders (each buys each course at most once).
    #[arg(long, default_value_t = 10_000)]
    pub students: usize,
}

/// The options of `orders`: those it shares with `checkout`, and the reference.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub orders: Args,
    /// Load the bare benchmark reference instead of the services: `loadgen reference-server`
    /// started here twice (an orders handler holding and confirming at a course handler; one
    /// HTTP worker per core, in memory, no token checks), not the product. The correctness
    /// checks are skipped; --storage does not apply.
    #[arg(long)]
    pub reference: bool,
}

/// What a run of orders sends: the courses, a body ordering each, the students' tokens, and the
/// limits with the requests bounded by the orders that can succeed (each student buys each
/// course once).
pub struct Catalog {
    pub courses: Vec<Uuid>,
    pub bodies: Vec<bytes::Bytes>,
    pub tokens: Vec<hyper::header::HeaderValue>,
    pub limits: Limits,
}

impl Catalog {
    /// Creates the courses of `args` on `target` and mints its students' tokens.
    pub async fn create(args: &Args, target: &Target) -> anyhow::Result<Catalog> {
        let mut courses = Vec::new();
        for _ in 0..args.courses.max(1) {
            courses.push(create_course(target.course, &target.keys, SEATS_PER_COURSE, 1000).await?);
        }
        let tokens = student_tokens(&target.keys, args.students);
        let mut limits = args.limits;
        limits.requests = limits.requests.min((courses.len() * tokens.len()) as u64);
        let bodies = courses
            .iter()
            .map(|c| json!({"course_id": c}).to_string().into())
            .collect();
        Ok(Catalog {
            courses,
            bodies,
            tokens,
            limits,
        })
    }
}

pub async fn run(run: RunArgs) -> anyhow::Result<RunReport> {
    let (args, to_reference) = (run.orders, run.reference);
    let target = if to_reference {
        Target::prepare_reference(&args.target, true).await?
    } else {
        Target::prepare(&args.target, true).await?
    };
    anyhow::ensure!(!target.orders.is_empty(), "no order-service to load");
    let Catalog {
        courses,
        bodies,
        tokens,
        limits,
    } = Catalog::create(&args, &target).await?;
    let probes = target.probes();
    let bodies = Arc::new(bodies);
    let tokens = Arc::new(tokens);
    let (stats, elapsed) = runner::run(&target.orders, limits, move |mut conn, budget| {
        let (bodies, tokens) = (Arc::clone(&bodies), Arc::clone(&tokens));
        async move {
            let mut stats = Stats::new();
            while let Some(i) = budget.next() {
                let student = (i % tokens.len() as u64) as usize;
                let course = ((i / tokens.len() as u64) % bodies.len() as u64) as usize;
                let started = Instant::now();
                let answer = conn
                    .send(
                        Method::POST,
                        "/api/orders",
                        &tokens[student],
                        Some(bodies[course].clone()),
                    )
                    .await;
                let outcome = outcome(answer, 201);
                let failed = outcome.is_err();
                stats
                    .entry("order")
                    .or_default()
                    .record(started.elapsed(), outcome);
                budget.finished_one(failed);
            }
            stats
        }
    })
    .await?;
    let services = probes.iter().filter_map(Probe::finish).collect();
    let confirmed = stats.get("order").map_or(0, |s| s.ok);
    let mut figures = serde_json::Map::new();
    let checks = if to_reference {
        figures.insert("target".into(), json!(reference::TARGET));
        figures.insert("checks".into(), json!(reference::CHECKS_SKIPPED));
        vec![]
    } else {
        sold_checks(target.course, &target.keys, &courses, confirmed, "orders").await?
    };
    Ok(RunReport {
        scenario: if to_reference {
            "orders (end to end) against the bare reference, not the product".into()
        } else {
            "orders (end to end)".into()
        },
        command: command_line(),
        parameters: json!({"connections": limits.connections, "duration_secs": limits.duration, "max_requests": limits.requests, "courses": courses.len(), "students": args.students, "reference": to_reference}),
        elapsed_secs: elapsed.as_secs_f64(),
        ops: crate::stats::report(&stats, elapsed),
        services,
        figures,
        checks,
    })
}
