//! `orders`: sustained end-to-end orders through order-service (hold, record, confirm per order).

use super::{command_line, create_course, reserve::outcome, seat_counts};
use crate::{
    client::bearer,
    procstat::Probe,
    report::{Check, RunReport},
    runner::{self, Limits},
    stats::Stats,
    target::{Target, TargetArgs},
};
use hyper::Method;
use serde_json::json;
use shared_types::Role;
use std::{sync::Arc, time::Instant};

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

pub async fn run(args: Args) -> anyhow::Result<RunReport> {
    let target = Target::prepare(&args.target, true).await?;
    anyhow::ensure!(!target.orders.is_empty(), "no order-service to load");
    let mut courses = Vec::new();
    for _ in 0..args.courses.max(1) {
        courses.push(create_course(target.course, &target.keys, SEATS_PER_COURSE, 1000).await?);
    }
    let tokens: Vec<_> = (0..args.students.max(1))
        .map(|s| {
            bearer(
                &target
                    .keys
                    .mint(&format!("student-{s}"), Role::Student, 3600),
            )
        })
        .collect();
    let mut limits = args.limits;
    limits.requests = limits.requests.min((courses.len() * tokens.len()) as u64);
    let probes = target.probes();
    let bodies: Arc<Vec<bytes::Bytes>> = Arc::new(
        courses
            .iter()
            .map(|c| json!({"course_id": c}).to_string().into())
            .collect(),
    );
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
                stats
                    .entry("order")
                    .or_default()
                    .record(started.elapsed(), outcome(answer, 201));
                budget.finished_one();
            }
            stats
        }
    })
    .await?;
    let services = probes.iter().filter_map(Probe::finish).collect();
    let confirmed = stats.get("order").map_or(0, |s| s.ok);
    let (mut sold, mut held, mut invariant) = (0, 0, true);
    for course in &courses {
        let (total, available, h, s) = seat_counts(target.course, &target.keys, *course).await?;
        invariant &= available + h + s == total;
        sold += s;
        held += h;
    }
    let checks = vec![
        Check::new(
            "seat invariant",
            invariant,
            "available + held + sold == total on every course",
        ),
        Check::new(
            "sold == confirmed orders",
            sold == confirmed,
            format!("sold {sold} confirmed {confirmed}"),
        ),
        Check::new("no seat left held", held == 0, format!("held {held}")),
    ];
    Ok(RunReport {
        scenario: "orders (end to end)".into(),
        command: command_line(),
        parameters: json!({"connections": limits.connections, "duration_secs": limits.duration, "max_requests": limits.requests, "courses": courses.len(), "students": args.students}),
        elapsed_secs: elapsed.as_secs_f64(),
        ops: crate::stats::report(&stats, elapsed),
        services,
        figures: serde_json::Map::new(),
        checks,
    })
}
