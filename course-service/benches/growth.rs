//! Whether a hold's cost depends on how many came before: one course takes 1,000,000 holds one
//! after another (one thread, no HTTP) and every hold is timed, so a pause while one of the
//! course's maps grows shows as a slow hold at the count where it happened. Beside it, as a
//! reference, the same number of inserts into one plain hash map of entries of a similar size.
//! Run with `cargo bench -p course-service --bench growth`.

use chrono::TimeDelta;
use course_service::{
    clock::{Clock, ManualClock},
    domain::{CourseDetails, Currency, HoldRequest, NewCourse, ReservationId},
    store::embedded::Inventory,
};
use std::{
    collections::HashMap,
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

const HOLDS: usize = 1_000_000;

/// The slowest operations of a run: (duration, index), slowest first, and the total.
fn summarize(name: &str, times: &[Duration]) {
    let mut slowest: Vec<(Duration, usize)> = times.iter().copied().zip(0..).collect();
    slowest.sort_unstable_by(|a, b| b.cmp(a));
    let total: Duration = times.iter().sum();
    let mut sorted: Vec<Duration> = times.to_vec();
    sorted.sort_unstable();
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q) as usize];
    println!(
        "{name:<28} total {:>8.1} ms  p50 {:>6.2} us  p99.9 {:>7.2} us  max {:>8.2} ms",
        total.as_secs_f64() * 1e3,
        at(0.5).as_secs_f64() * 1e6,
        at(0.999).as_secs_f64() * 1e6,
        slowest[0].0.as_secs_f64() * 1e3,
    );
    let worst: Vec<String> = slowest
        .iter()
        .take(6)
        .map(|(d, i)| format!("#{i}: {:.2} ms", d.as_secs_f64() * 1e3))
        .collect();
    println!("{:<28} slowest {}", "", worst.join(", "));
}

fn holds() -> Vec<Duration> {
    let clock = Arc::new(ManualClock::starting_now());
    let inventory = Inventory::new(clock.clone() as Arc<dyn Clock>, TimeDelta::seconds(300));
    let details = CourseDetails {
        title: "growth".into(),
        description: None,
        instructor_id: "i".into(),
        currency: Currency::USD,
    };
    let course = inventory
        .create_course(NewCourse {
            details,
            price_cents: 1000,
            seats: HOLDS as u32,
        })
        .unsynced()
        .id;
    let requests: Vec<(ReservationId, HoldRequest)> = (0..HOLDS)
        .map(|i| {
            let request = HoldRequest {
                student: format!("s{i}").into(),
                expected_price_cents: None,
            };
            (ReservationId::from(uuid::Uuid::now_v7()), request)
        })
        .collect();
    let mut times = Vec::with_capacity(HOLDS);
    for (i, (id, request)) in requests.iter().enumerate() {
        // 64 holds a millisecond, as in a flash sale at 64,000 holds/s: deadlines spread out.
        if i % 64 == 63 {
            clock.advance(TimeDelta::milliseconds(1));
        }
        let started = Instant::now();
        let held = inventory.hold(course, *id, request).unsynced();
        times.push(started.elapsed());
        black_box(held.expect("held"));
    }
    times
}

fn plain_map() -> Vec<Duration> {
    let mut map: HashMap<u128, [u64; 16], foldhash::fast::RandomState> = HashMap::default();
    let keys: Vec<u128> = (0..HOLDS).map(|_| uuid::Uuid::now_v7().as_u128()).collect();
    let mut times = Vec::with_capacity(HOLDS);
    for (i, key) in keys.iter().enumerate() {
        let started = Instant::now();
        map.insert(*key, [i as u64; 16]);
        times.push(started.elapsed());
    }
    black_box(map.len());
    times
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    println!("cargo bench -p course-service --bench growth   ({HOLDS} holds on one course)");
    summarize("holds on one course", &holds());
    summarize("reference: plain map insert", &plain_map());
}
