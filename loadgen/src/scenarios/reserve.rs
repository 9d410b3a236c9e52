//! `reserve`: raw hold + confirm on course-service, on one hot course or spread over many; with
//! `--feed-readers`, readers follow the event feed meanwhile (what the feed costs the hot path),
//! and once the load is over a fresh reader reads the whole feed (what a reader receives per
//! second).

use super::{command_line, create_course, seat_counts};
use crate::{
    client::bearer,
    feed,
    procstat::Probe,
    reference,
    report::{Check, RunReport},
    runner::{self, Limits},
    stats::Stats,
    target::{Target, TargetArgs},
};
use anyhow::bail;
use hyper::Method;
use serde_json::json;
use shared_types::Role;
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};
use uuid::Uuid;

const SEATS_PER_COURSE: u32 = 1_000_000;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Courses to spread the holds over (1 = one hot course).
    #[arg(long, default_value_t = 1)]
    pub courses: usize,
    /// Only hold; do not confirm.
    #[arg(long)]
    pub hold_only: bool,
    /// Readers following the event feed (long polls) during the load; 0: none.
    #[arg(long, default_value_t = 0)]
    pub feed_readers: usize,
    /// Load the bare benchmark reference instead of course-service: `loadgen reference-server`
    /// started here (one HTTP worker per core, in memory, no token checks), not the product.
    /// The correctness checks are skipped; --storage does not apply.
    #[arg(long)]
    pub reference: bool,
}

pub async fn run(args: Args) -> anyhow::Result<RunReport> {
    if args.reference && args.feed_readers > 0 {
        bail!("--feed-readers needs the product's event feed: the reference has none");
    }
    let target = if args.reference {
        Target::prepare_reference(&args.target, false).await?
    } else {
        Target::prepare(&args.target, false).await?
    };
    let mut courses = Vec::new();
    for _ in 0..args.courses.max(1) {
        courses.push(create_course(target.course, &target.keys, SEATS_PER_COURSE, 1000).await?);
    }
    let mut limits = args.limits;
    limits.requests = limits
        .requests
        .min(courses.len() as u64 * u64::from(SEATS_PER_COURSE));
    let token = bearer(&target.keys.mint("loadgen", Role::Service, 300));
    let probes = target.probes();
    let shared = Arc::new(courses.clone());
    let confirm = !args.hold_only;
    let done = Arc::new(AtomicBool::new(false));
    let feed_token = token.clone();
    let readers: Vec<_> = (0..args.feed_readers)
        .map(|_| {
            let (token, done) = (feed_token.clone(), Arc::clone(&done));
            tokio::spawn(feed::follow(target.course, token, done))
        })
        .collect();
    let (stats, elapsed) = runner::run(&target.courses, limits, move |mut conn, budget| {
        let (courses, token) = (Arc::clone(&shared), token.clone());
        async move {
            let mut stats = Stats::new();
            while let Some(i) = budget.next() {
                let course = courses[(i % courses.len() as u64) as usize];
                let path = format!("/api/courses/{course}/reservations/{}", Uuid::now_v7());
                let body = format!(r#"{{"student_id":"s{i}"}}"#);
                let started = Instant::now();
                let held = conn
                    .send(Method::PUT, &path, &token, Some(body.into()))
                    .await;
                let held_ok = matches!(&held, Ok(a) if a.status == 201);
                stats
                    .entry("hold")
                    .or_default()
                    .record(started.elapsed(), outcome(held, 201));
                let mut failed = !held_ok;
                if confirm && held_ok {
                    let started = Instant::now();
                    let confirmed = conn
                        .send(Method::POST, &format!("{path}/confirm"), &token, None)
                        .await;
                    let confirmed = outcome(confirmed, 200);
                    failed = confirmed.is_err();
                    stats
                        .entry("confirm")
                        .or_default()
                        .record(started.elapsed(), confirmed);
                }
                budget.finished_one(failed);
            }
            stats
        }
    })
    .await?;
    let services = probes.iter().filter_map(Probe::finish).collect();
    done.store(true, Ordering::Release);
    let mut received = Vec::new();
    for reader in readers {
        received.push(reader.await??);
    }
    let held = stats.get("hold").map_or(0, |s| s.ok);
    let confirmed = stats.get("confirm").map_or(0, |s| s.ok);
    let mut figures = serde_json::Map::new();
    let mut checks = Vec::new();
    if !received.is_empty() {
        // The whole feed, read again by a reader that starts once the load is over.
        let all = feed::follow(target.course, feed_token, Arc::clone(&done)).await?;
        let live = received.iter().map(|r| r.events as f64).sum::<f64>() / elapsed.as_secs_f64();
        figures.insert("feed_readers".into(), json!(received.len()));
        figures.insert("feed_events_kept".into(), json!(all.events));
        figures.insert(
            "feed_events_per_sec_per_reader_during_load".into(),
            json!((live / received.len() as f64).round()),
        );
        figures.insert(
            "feed_events_per_sec_catch_up".into(),
            json!(all.per_sec().round()),
        );
        // Each hold and each confirm is an event, and so is each course's creation.
        let told = held + confirmed + courses.len() as u64;
        let counts: Vec<u64> = received.iter().map(|r| r.events).collect();
        let once = received.iter().all(|r| r.repeats == 0) && all.repeats == 0;
        checks.push(Check::new(
            "every reader received every change once",
            once && counts.iter().all(|n| *n == counts[0] && *n >= told),
            format!("{counts:?} events for {told} changes, none told twice"),
        ));
        // A store in memory keeps a bounded tail; the durable stores keep every event for 24 h.
        checks.push(Check::new(
            "a reader that starts afterwards reads the feed kept",
            all.events <= counts[0] && all.events > 0,
            format!("{} events", all.events),
        ));
    }
    if args.reference {
        figures.insert("target".into(), json!(reference::TARGET));
        figures.insert("checks".into(), json!(reference::CHECKS_SKIPPED));
    } else {
        let mut totals = (0, 0, 0);
        let mut invariant = true;
        for course in &courses {
            let (total, available, h, s) =
                seat_counts(target.course, &target.keys, *course).await?;
            invariant &= available + h + s == total;
            totals = (totals.0 + h, totals.1 + s, totals.2 + available);
        }
        checks.extend([
            Check::new(
                "seat invariant",
                invariant,
                "available + held + sold == total on every course",
            ),
            Check::new(
                "sold == confirmed",
                totals.1 == confirmed,
                format!("sold {} confirmed {confirmed}", totals.1),
            ),
            Check::new(
                "held == unconfirmed holds",
                totals.0 == held - confirmed,
                format!("held {} holds {held}", totals.0),
            ),
        ]);
    }
    Ok(RunReport {
        scenario: format!(
            "reserve ({} course{}){}",
            courses.len(),
            if courses.len() == 1 { ", hot" } else { "s" },
            if args.reference {
                " against the bare reference, not the product"
            } else {
                ""
            }
        ),
        command: command_line(),
        parameters: json!({"connections": limits.connections, "duration_secs": limits.duration, "max_requests": limits.requests, "courses": courses.len(), "confirm": confirm, "feed_readers": args.feed_readers, "reference": args.reference}),
        elapsed_secs: elapsed.as_secs_f64(),
        ops: crate::stats::report(&stats, elapsed),
        services,
        figures,
        checks,
    })
}

/// `Ok` when the answer has the expected status, the error code otherwise.
pub fn outcome(answer: anyhow::Result<crate::client::Answer>, expected: u16) -> Result<(), String> {
    match answer {
        Ok(a) if a.status == expected => Ok(()),
        Ok(a) => Err(a.code()),
        Err(e) => Err(format!("transport: {}", e.root_cause())),
    }
}
