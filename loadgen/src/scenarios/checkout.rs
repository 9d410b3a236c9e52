//! `checkout`: sustained paid orders the way a student buys one: `POST /api/orders` (201
//! `awaiting_payment` with a checkout session), pay the session at the Stripe sandbox, whose
//! signed `checkout.session.completed` webhook reaches order-service, then read the order until it
//! is `confirmed`. The figure that matters is the time from the order to the confirmed seat.

use super::{
    command_line,
    orders::{self, Catalog},
    sold_checks,
};
use crate::{
    client::{Answer, Conn, bearer},
    procstat::Probe,
    report::{Check, RunReport},
    runner,
    stats::Stats,
    target::Target,
};
use hyper::Method;
use serde_json::{Value, json};
use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub orders: orders::Args,
    /// First pause before reading an order waiting for its confirmation again, in milliseconds;
    /// each later pause is half as long again, up to --poll-max-ms.
    #[arg(long, default_value_t = 2)]
    pub poll_ms: u64,
    /// Longest pause between two reads of an order waiting for its confirmation, in
    /// milliseconds: the figure's resolution, traded against the reads' own load.
    #[arg(long, default_value_t = 25)]
    pub poll_max_ms: u64,
    /// Longest an order may take from payment to confirmed before it counts as failed, in
    /// seconds.
    #[arg(long, default_value_t = 10)]
    pub confirm_timeout: u64,
}

/// What one worker needs besides its order-service connection.
struct Shared {
    bodies: Vec<bytes::Bytes>,
    tokens: Vec<hyper::header::HeaderValue>,
    sandbox: SocketAddr,
    poll: Duration,
    poll_max: Duration,
    confirm_timeout: Duration,
}

pub async fn run(args: Args) -> anyhow::Result<RunReport> {
    let target = Target::prepare_checkout(&args.orders.target).await?;
    let sandbox = target.sandbox.expect("the sandbox was started");
    let Catalog {
        courses,
        bodies,
        tokens,
        limits,
    } = Catalog::create(&args.orders, &target).await?;
    let probes = target.probes();
    let shared = Arc::new(Shared {
        bodies,
        tokens,
        sandbox,
        poll: Duration::from_millis(args.poll_ms),
        poll_max: Duration::from_millis(args.poll_max_ms.max(args.poll_ms)),
        confirm_timeout: Duration::from_secs(args.confirm_timeout),
    });
    let (stats, elapsed) = runner::run(&target.orders, limits, move |conn, budget| {
        let shared = Arc::clone(&shared);
        async move {
            let mut stats = Stats::new();
            let mut worker = match Conn::open(shared.sandbox).await {
                Ok(pay) => Worker { orders: conn, pay },
                Err(e) => {
                    while budget.next().is_some() {
                        let failure = Err(format!("transport: {}", e.root_cause()));
                        stats
                            .entry("checkout")
                            .or_default()
                            .record(Duration::ZERO, failure);
                        budget.finished_one(true);
                    }
                    return stats;
                }
            };
            while let Some(i) = budget.next() {
                let student = (i % shared.tokens.len() as u64) as usize;
                let course =
                    ((i / shared.tokens.len() as u64) % shared.bodies.len() as u64) as usize;
                let started = Instant::now();
                let outcome = worker.checkout(&shared, student, course, &mut stats).await;
                let failed = outcome.is_err();
                stats
                    .entry("checkout")
                    .or_default()
                    .record(started.elapsed(), outcome);
                budget.finished_one(failed);
            }
            stats
        }
    })
    .await?;
    let services = probes.iter().filter_map(Probe::finish).collect();
    let confirmed = stats.get("checkout").map_or(0, |s| s.ok);
    let mut checks = sold_checks(
        target.course,
        &target.keys,
        &courses,
        confirmed,
        "checkouts",
    )
    .await?;
    let refunds = refund_count(sandbox).await?;
    let mut figures = serde_json::Map::new();
    figures.insert(
        "webhook_attempts_failed".into(),
        failed_deliveries(sandbox).await?,
    );
    checks.push(Check::new(
        "no payment refunded",
        refunds == 0,
        format!("{refunds} refunds"),
    ));
    Ok(RunReport {
        scenario: "checkout (order, pay, webhook, confirmed)".into(),
        command: command_line(),
        parameters: json!({"connections": limits.connections, "duration_secs": limits.duration, "max_requests": limits.requests, "courses": courses.len(), "students": args.orders.students, "poll_ms": args.poll_ms, "poll_max_ms": args.poll_max_ms}),
        elapsed_secs: elapsed.as_secs_f64(),
        ops: crate::stats::report(&stats, elapsed),
        services,
        figures,
        checks,
    })
}

/// A worker's two connections: to order-service, and to the sandbox (where it pays).
struct Worker {
    orders: Conn,
    pay: Conn,
}

impl Worker {
    /// One checkout, recording its parts (`order`, `pay`, `confirmed`: payment to confirmed
    /// seat) on the way.
    async fn checkout(
        &mut self,
        shared: &Shared,
        student: usize,
        course: usize,
        stats: &mut Stats,
    ) -> Result<(), String> {
        let token = &shared.tokens[student];
        let started = Instant::now();
        let answer = self
            .orders
            .send(
                Method::POST,
                "/api/orders",
                token,
                Some(shared.bodies[course].clone()),
            )
            .await;
        let order = json_of(answer, 201);
        stats.entry("order").or_default().record(
            started.elapsed(),
            order.as_ref().map(|_| ()).map_err(Clone::clone),
        );
        let order = order?;
        if order["status"] != "awaiting_payment" {
            return Err(format!("order_{}", order["status"].as_str().unwrap_or("?")));
        }
        let (Some(id), Some(session)) = (
            order["id"].as_str(),
            order["payment"]["checkout_session_id"].as_str(),
        ) else {
            return Err("order_without_session".into());
        };
        let started = Instant::now();
        let path = format!("/_sandbox/checkout/{session}/pay");
        let mut answer = self.pay.send(Method::POST, &path, &bearer(""), None).await;
        if answer.is_err() {
            // The sandbox closed the idle connection as the request went out; paying again is
            // safe (a paid session stays paid).
            answer = self.pay.send(Method::POST, &path, &bearer(""), None).await;
        }
        let paid = json_of(answer, 200).map(|_| ());
        stats
            .entry("pay")
            .or_default()
            .record(started.elapsed(), paid.clone());
        paid?;
        let started = Instant::now();
        let confirmed = self.until_confirmed(shared, token, id).await;
        stats
            .entry("confirmed")
            .or_default()
            .record(started.elapsed(), confirmed.clone());
        confirmed
    }

    /// Reads the order, pausing longer each time, until it is confirmed (Ok), ends otherwise, or
    /// the time is up.
    async fn until_confirmed(
        &mut self,
        shared: &Shared,
        token: &hyper::header::HeaderValue,
        id: &str,
    ) -> Result<(), String> {
        let path = format!("/api/orders/{id}");
        let deadline = Instant::now() + shared.confirm_timeout;
        let mut pause = shared.poll;
        loop {
            let answer = self.orders.send(Method::GET, &path, token, None).await;
            match json_of(answer, 200) {
                Ok(order) => match order["status"].as_str() {
                    Some("confirmed") => return Ok(()),
                    Some("awaiting_payment" | "pending") => {}
                    other => return Err(format!("order_{}", other.unwrap_or("?"))),
                },
                // Read too often for this student's rate limit: read again later.
                Err(code) if code == "rate_limited" => {}
                Err(code) => return Err(code),
            }
            if Instant::now() >= deadline {
                return Err("not_confirmed_in_time".into());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 3 / 2).min(shared.poll_max);
        }
    }
}

/// The JSON body of an answer with status `expected`; otherwise its code.
fn json_of(answer: anyhow::Result<Answer>, expected: u16) -> Result<Value, String> {
    match answer {
        Ok(a) if a.status == expected => {
            serde_json::from_slice(&a.body).map_err(|_| "invalid_json".to_owned())
        }
        Ok(a) => Err(a.code()),
        Err(e) => Err(format!("transport: {}", e.root_cause())),
    }
}

/// How many refunds the sandbox made (at most 100 counted).
async fn refund_count(sandbox: SocketAddr) -> anyhow::Result<usize> {
    let mut conn = Conn::open(sandbox).await?;
    let key = bearer(stripe_sandbox::DEFAULT_API_KEY);
    let answer = conn
        .send(Method::GET, "/v1/refunds?limit=100", &key, None)
        .await?;
    anyhow::ensure!(
        answer.status == 200,
        "listing refunds answered {}",
        answer.status
    );
    let list: Value = serde_json::from_slice(&answer.body)?;
    Ok(list["data"].as_array().map_or(0, Vec::len))
}

/// The webhook delivery attempts of the last 100,000 events that did not answer 2xx, counted by
/// status code or error: each one delayed a confirmation by at least the sandbox's retry delay.
async fn failed_deliveries(sandbox: SocketAddr) -> anyhow::Result<Value> {
    let mut conn = Conn::open(sandbox).await?;
    let answer = conn
        .send(
            Method::GET,
            "/_sandbox/events?limit=100000",
            &bearer(""),
            None,
        )
        .await?;
    anyhow::ensure!(
        answer.status == 200,
        "listing events answered {}",
        answer.status
    );
    let list: Value = serde_json::from_slice(&answer.body)?;
    let mut failed: std::collections::BTreeMap<String, u64> = Default::default();
    let attempts = list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["endpoints"].as_array().cloned().unwrap_or_default())
        .flat_map(|e| e["attempts"].as_array().cloned().unwrap_or_default());
    for attempt in attempts {
        let status = attempt["status_code"].as_u64();
        if !status.is_some_and(|s| (200..300).contains(&s)) {
            let why = match status {
                Some(s) => s.to_string(),
                None => attempt["error"].as_str().unwrap_or("?").to_owned(),
            };
            *failed.entry(why).or_default() += 1;
        }
    }
    Ok(json!(failed))
}
