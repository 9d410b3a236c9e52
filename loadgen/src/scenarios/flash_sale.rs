//! `flash-sale`: one course with S seats, N students ordering at once. Reports who got a seat, how
//! the others were refused, how long the seats lasted, and checks that none was sold twice.

use super::{command_line, create_course, seat_counts};
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
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Seats on sale.
    #[arg(long, default_value_t = 100)]
    pub seats: u32,
    /// Students trying to buy one each.
    #[arg(long, default_value_t = 1000)]
    pub students: u64,
    /// Concurrent connections.
    #[arg(short = 'c', long, default_value_t = 64)]
    pub connections: usize,
    /// Longest the sale may run, in seconds.
    #[arg(short = 'd', long, default_value_t = 60.0)]
    pub duration: f64,
}

pub async fn run(args: Args) -> anyhow::Result<RunReport> {
    let target = Target::prepare(&args.target, true).await?;
    anyhow::ensure!(!target.orders.is_empty(), "no order-service to load");
    let course = create_course(target.course, &target.keys, args.seats, 2500).await?;
    let tokens: Arc<Vec<_>> = Arc::new(
        (0..args.students)
            .map(|s| bearer(&target.keys.mint(&format!("fan-{s}"), Role::Student, 3600)))
            .collect(),
    );
    let body: bytes::Bytes = json!({"course_id": course}).to_string().into();
    let limits = Limits {
        connections: args.connections,
        duration: args.duration,
        requests: args.students,
    };
    let probes = target.probes();
    let started = Instant::now();
    let last_sale_us = Arc::new(AtomicU64::new(0));
    let last = Arc::clone(&last_sale_us);
    let (stats, elapsed) = runner::run(&target.orders, limits, move |mut conn, budget| {
        let (tokens, body, last) = (Arc::clone(&tokens), body.clone(), Arc::clone(&last));
        async move {
            let mut stats = Stats::new();
            while let Some(i) = budget.next() {
                let sent = Instant::now();
                let answer = conn
                    .send(
                        Method::POST,
                        "/api/orders",
                        &tokens[i as usize],
                        Some(body.clone()),
                    )
                    .await;
                let outcome = super::reserve::outcome(answer, 201);
                if outcome.is_ok() {
                    last.fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                }
                let failed = outcome.is_err();
                stats
                    .entry("order")
                    .or_default()
                    .record(sent.elapsed(), outcome);
                budget.finished_one(failed);
            }
            stats
        }
    })
    .await?;
    let services = probes.iter().filter_map(Probe::finish).collect();
    let order = stats.get("order").cloned().unwrap_or_default();
    let sold_out = order.errors.get("sold_out").copied().unwrap_or(0);
    let other_errors: u64 = order
        .errors
        .iter()
        .filter(|(c, _)| *c != "sold_out")
        .map(|(_, n)| n)
        .sum();
    let (total, available, held, sold) = seat_counts(target.course, &target.keys, course).await?;
    let expected = u64::from(args.seats).min(args.students);
    let checks = vec![
        Check::new(
            "exactly min(seats, students) sold",
            order.ok == expected,
            format!("{} confirmed, expected {expected}", order.ok),
        ),
        Check::new(
            "no oversell",
            sold <= total && sold == order.ok,
            format!("sold {sold} of {total}, confirmed orders {}", order.ok),
        ),
        Check::new(
            "everyone else refused sold_out",
            other_errors == 0 && sold_out == args.students - order.ok,
            format!("sold_out {sold_out}, other errors {other_errors}"),
        ),
        Check::new(
            "seat invariant",
            available + held + sold == total && held == 0,
            format!("available {available} held {held} sold {sold} total {total}"),
        ),
    ];
    let mut figures = serde_json::Map::new();
    figures.insert(
        "time_to_sell_out_ms".into(),
        json!(last_sale_us.load(Ordering::Relaxed) as f64 / 1000.0),
    );
    Ok(RunReport {
        scenario: "flash-sale".into(),
        command: command_line(),
        parameters: json!({"seats": args.seats, "students": args.students, "connections": args.connections}),
        elapsed_secs: elapsed.as_secs_f64(),
        ops: crate::stats::report(&stats, elapsed),
        services,
        figures,
        checks,
    })
}
