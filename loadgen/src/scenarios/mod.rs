//! The named scenarios, and the setup they share.

pub mod checkout;
pub mod expiry_storm;
pub mod flash_sale;
pub mod orders;
pub mod reserve;

use crate::client::{Conn, bearer};
use anyhow::{Context, bail};
use hyper::Method;
use serde_json::{Value, json};
use service_kit::TokenKeys;
use shared_types::Role;
use std::net::SocketAddr;
use uuid::Uuid;

/// Creates a course with `seats` seats over HTTP and returns its id.
pub async fn create_course(
    course: SocketAddr,
    keys: &TokenKeys,
    seats: u32,
    price_cents: i64,
) -> anyhow::Result<Uuid> {
    // A subject of its own per course, so that setting up many courses is not rate limited.
    let instructor = format!("loadgen-instructor-{}", Uuid::new_v4().simple());
    let token = bearer(&keys.mint(&instructor, Role::Instructor, 3600));
    let body =
        json!({"title": "Load test", "price_cents": price_cents, "seats": seats}).to_string();
    let mut conn = Conn::open(course).await?;
    let answer = conn
        .send(Method::POST, "/api/courses", &token, Some(body.into()))
        .await?;
    if answer.status != 201 {
        bail!(
            "creating a course answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }
    let created: Value = serde_json::from_slice(&answer.body)?;
    created["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .context("no id in the created course")
}

/// Reads a course's seat counters: (total, available, held, sold).
pub async fn seat_counts(
    course_service: SocketAddr,
    keys: &TokenKeys,
    course: Uuid,
) -> anyhow::Result<(u64, u64, u64, u64)> {
    let mut conn = Conn::open(course_service).await?;
    let answer = conn
        .send(
            Method::GET,
            &format!("/api/courses/{course}"),
            // A service token: checks are exempt from rate limiting.
            &bearer(&keys.mint("loadgen-checker", Role::Service, 300)),
            None,
        )
        .await?;
    let c: Value = serde_json::from_slice(&answer.body)?;
    let get = |k: &str| c[k].as_u64().with_context(|| format!("{k} missing"));
    Ok((
        get("seats_total")?,
        get("seats_available")?,
        get("seats_held")?,
        get("seats_sold")?,
    ))
}

/// Bearer tokens of `n` (at least one) distinct students, `student-0` on.
pub fn student_tokens(keys: &TokenKeys, n: usize) -> Vec<hyper::header::HeaderValue> {
    (0..n.max(1))
        .map(|s| bearer(&keys.mint(&format!("student-{s}"), Role::Student, 3600)))
        .collect()
}

/// The checks after a run that sold `confirmed` seats over `courses`: the invariant on every
/// course, exactly the confirmed seats sold (`what` names them), and nothing left held.
pub async fn sold_checks(
    course_service: SocketAddr,
    keys: &TokenKeys,
    courses: &[Uuid],
    confirmed: u64,
    what: &str,
) -> anyhow::Result<Vec<crate::report::Check>> {
    use crate::report::Check;
    let (mut sold, mut held, mut invariant) = (0, 0, true);
    for course in courses {
        let (total, available, h, s) = seat_counts(course_service, keys, *course).await?;
        invariant &= available + h + s == total;
        sold += s;
        held += h;
    }
    Ok(vec![
        Check::new(
            "seat invariant",
            invariant,
            "available + held + sold == total on every course",
        ),
        Check::new(
            &format!("sold == confirmed {what}"),
            sold == confirmed,
            format!("sold {sold} confirmed {confirmed}"),
        ),
        Check::new("no seat left held", held == 0, format!("held {held}")),
    ])
}

/// The command line of this run, for the report.
pub fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo run --release -p loadgen -- {}", args.join(" "))
}
