//! `expiry-storm`: H live holds lapse at the same instant; measures how long the expiry job takes
//! to return every seat and what requests see meanwhile, and the memory the holds take. With
//! `--waiting W`, W students wait on the storm's courses (spread like the holds) and every freed
//! seat becomes an offer to the next of them: then it measures the time until every seat that
//! can be offered is.
//!
//! Runs course-service in this process on a hand-driven clock, which is the only way to give a
//! million holds one deadline: the holds are placed straight into the inventory, then the clock
//! jumps past their deadline while HTTP requests keep arriving. Memory per hold is this process's
//! RSS growth while the holds are placed, divided by their number.

use super::command_line;
use crate::{
    client::bearer,
    procstat::memory_kib,
    report::{Check, RunReport},
    runner::{self, Limits},
    stats::Stats,
};
use chrono::TimeDelta;
use course_service::{
    Application, Config,
    clock::{Clock, ManualClock},
    domain::{CourseDetails, Currency, HoldRequest, NewCourse},
};
use hyper::Method;
use serde_json::json;
use service_kit::{Secret, TokenKeys};
use shared_types::Role;
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};
use uuid::Uuid;

const TTL_SECS: u64 = 60;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Holds that lapse together.
    #[arg(long, default_value_t = 1_000_000)]
    pub holds: u64,
    /// Courses the holds are spread over (at most 1,000,000 seats each).
    #[arg(long, default_value_t = 1)]
    pub courses: u64,
    /// Concurrent connections of the request load that runs during the storm.
    #[arg(short = 'c', long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds of request load; the deadline passes one second in.
    #[arg(short = 'd', long, default_value_t = 5.0)]
    pub duration: f64,
    /// Students waiting on the storm's courses when the holds lapse (spread over them like the
    /// holds): the freed seats become their offers.
    #[arg(long, default_value_t = 0)]
    pub waiting: u64,
    /// HTTP worker threads of the in-process course-service.
    #[arg(long, default_value_t = 1)]
    pub http_workers: usize,
}

pub async fn run(args: Args) -> anyhow::Result<RunReport> {
    let secret = Secret::generate();
    let keys = TokenKeys::from_secret(secret.expose())?;
    let clock = Arc::new(ManualClock::starting_now());
    let mut config = Config::local(secret);
    config.reservation_ttl_secs = TTL_SECS;
    config.server.http_workers = Some(args.http_workers);
    let app = Application::build(&config, clock.clone() as Arc<dyn Clock>).await?;
    let address = crate::target::addr(&format!("127.0.0.1:{}", app.port()))?;
    // Set-up goes straight to the store, through its port, skipping HTTP.
    let inventory = app.store();
    let sweep_stats = app.sweep_stats();
    tokio::spawn(app.run_until_stopped());

    let pid = std::process::id();
    let per_course = args.holds.div_ceil(args.courses.max(1)).min(1_000_000) as u32;
    let course = |title: &str, seats: u32| NewCourse {
        details: CourseDetails {
            title: title.into(),
            description: None,
            instructor_id: "loadgen".into(),
            currency: Currency::USD,
        },
        price_cents: 1000,
        seats,
    };
    let probe_course = inventory
        .create_course(course("probe", 1_000_000))
        .await?
        .id;
    let rss_before = memory_kib(pid, "VmRSS:").unwrap_or(0);
    let mut storm: Vec<course_service::domain::CourseId> = Vec::new();
    for _ in 0..args.courses.max(1) {
        storm.push(
            inventory
                .create_course(course("storm", per_course))
                .await?
                .id,
        );
    }
    let placing = Instant::now();
    for i in 0..args.holds {
        let request = HoldRequest {
            student: format!("storm-{i}").into(),
            expected_price_cents: None,
        };
        inventory
            .hold(
                storm[(i % storm.len() as u64) as usize],
                course_service::domain::ReservationId::from(Uuid::new_v4()),
                &request,
            )
            .await?;
    }
    let place_secs = placing.elapsed().as_secs_f64();
    let rss_after = memory_kib(pid, "VmRSS:").unwrap_or(0);
    let bytes_per_hold =
        (rss_after.saturating_sub(rss_before) * 1024) as f64 / args.holds.max(1) as f64;
    let joining = Instant::now();
    let mut waiting = vec![0u64; storm.len()];
    for i in 0..args.waiting {
        let at = (i % storm.len() as u64) as usize;
        let student: Arc<str> = format!("waiter-{i}").into();
        inventory.join_waitlist(storm[at], &student).await?;
        waiting[at] += 1;
    }
    let join_secs = joining.elapsed().as_secs_f64();
    // Where each storm course ends: every seat the waiting students can take is offered to them
    // (an offer is a hold), the rest of them still wait, and any other seat is free.
    let mut ends = Vec::new();
    for (c, w) in storm.iter().zip(&waiting) {
        let total = u64::from(inventory.course(*c).await?.seats_total);
        let offered = total.min(*w);
        ends.push((*c, offered, w - offered));
    }
    let ends = Arc::new(ends);

    let sweeping = Arc::new(AtomicBool::new(false));
    let controller = {
        let (clock, inventory, sweeping, ends) = (
            Arc::clone(&clock),
            Arc::clone(&inventory),
            Arc::clone(&sweeping),
            Arc::clone(&ends),
        );
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            clock.advance(TimeDelta::seconds(TTL_SECS as i64));
            let deadline = Instant::now();
            sweeping.store(true, Ordering::Release);
            loop {
                let mut settled = true;
                for (c, offered, still) in ends.iter() {
                    settled &= inventory.course(*c).await.is_ok_and(|s| {
                        u64::from(s.seats_held) == *offered
                            && u64::from(s.waitlist_length) == *still
                    });
                }
                if settled {
                    break;
                }
                if deadline.elapsed() > Duration::from_secs(30) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let done = deadline.elapsed();
            sweeping.store(false, Ordering::Release);
            done
        })
    };
    let token = bearer(&keys.mint("loadgen", Role::Service, 300));
    let limits = Limits {
        connections: args.connections,
        duration: args.duration,
        requests: u64::MAX,
    };
    let reader = storm[0];
    let flag = Arc::clone(&sweeping);
    let (stats, elapsed) = runner::run(&[address], limits, move |mut conn, budget| {
        let (token, sweeping) = (token.clone(), Arc::clone(&flag));
        async move {
            let mut stats = Stats::new();
            while let Some(i) = budget.next() {
                let during = sweeping.load(Ordering::Acquire);
                let started = Instant::now();
                let (op, answer, expected) = if i % 2 == 0 {
                    let path = format!(
                        "/api/courses/{probe_course}/reservations/{}",
                        Uuid::new_v4()
                    );
                    let body = format!(r#"{{"student_id":"probe-{i}"}}"#);
                    (
                        "hold",
                        conn.send(Method::PUT, &path, &token, Some(body.into()))
                            .await,
                        201,
                    )
                } else {
                    (
                        "read",
                        conn.send(Method::GET, &format!("/api/courses/{reader}"), &token, None)
                            .await,
                        200,
                    )
                };
                let elapsed = started.elapsed();
                let outcome = super::reserve::outcome(answer, expected);
                if during {
                    stats
                        .entry("in_sweep")
                        .or_default()
                        .record(elapsed, outcome.clone());
                }
                let failed = outcome.is_err();
                stats.entry(op).or_default().record(elapsed, outcome);
                budget.finished_one(failed);
            }
            stats
        }
    })
    .await?;
    let sweep = controller.await?;
    let mut returned = true;
    for (c, offered, still) in ends.iter() {
        let s = inventory.course(*c).await?;
        returned &= u64::from(s.seats_held) == *offered
            && u64::from(s.waitlist_length) == *still
            && s.seats_sold == 0
            && u64::from(s.seats_available()) == u64::from(s.seats_total) - offered;
    }
    let offers: u64 = ends.iter().map(|(_, offered, _)| offered).sum();
    let in_sweep_p99 = stats
        .get("in_sweep")
        .map_or(0.0, |s| s.latency.value_at_quantile(0.99) as f64 / 1000.0);
    let mut figures = serde_json::Map::new();
    figures.insert("holds".into(), json!(args.holds));
    figures.insert(
        "placing_holds_per_sec".into(),
        json!((args.holds as f64 / place_secs).round()),
    );
    figures.insert("bytes_per_live_hold".into(), json!(bytes_per_hold.round()));
    if args.waiting > 0 {
        figures.insert("waiting".into(), json!(args.waiting));
        figures.insert(
            "joining_per_sec".into(),
            json!((args.waiting as f64 / join_secs).round()),
        );
        figures.insert("offers".into(), json!(offers));
    }
    figures.insert(
        "sweep_done_after_deadline_ms".into(),
        json!(sweep.as_secs_f64() * 1000.0),
    );
    figures.insert("request_p99_during_sweep_ms".into(), json!(in_sweep_p99));
    let last_sweep_us = sweep_stats.last_duration_us.load(Ordering::Relaxed);
    figures.insert(
        "sweep_duration_ms".into(),
        json!(last_sweep_us as f64 / 1000.0),
    );
    let checks = vec![
        Check::new(
            "every lapsed hold expired, every seat a student waits for offered",
            returned,
            format!(
                "{offers} offers; storm courses' other seats available, {} students still waiting",
                ends.iter().map(|(_, _, still)| still).sum::<u64>()
            ),
        ),
        Check::new(
            "sweep within 2 s of the deadline",
            sweep <= Duration::from_secs(2),
            format!("{sweep:?}"),
        ),
        Check::new(
            "request p99 under 50 ms during the sweep",
            in_sweep_p99 < 50.0,
            format!("{in_sweep_p99:.3} ms"),
        ),
        Check::new(
            "under 1 KiB per live hold",
            bytes_per_hold < 1024.0,
            format!("{bytes_per_hold:.0} bytes"),
        ),
    ];
    Ok(RunReport {
        scenario: "expiry-storm (in-process course-service)".into(),
        command: command_line(),
        parameters: json!({"holds": args.holds, "courses": args.courses, "waiting": args.waiting, "connections": args.connections, "http_workers": args.http_workers}),
        elapsed_secs: elapsed.as_secs_f64(),
        ops: crate::stats::report(&stats, elapsed),
        services: vec![],
        figures,
        checks,
    })
}
