//! Micro-benchmarks of the inventory core, without HTTP: hold, confirm and sweep, on one hot
//! course and spread over many. Run with `cargo bench -p course-service --bench inventory`.

use chrono::TimeDelta;
use course_service::domain::{CourseId, ReservationId};
use course_service::{
    clock::{Clock, ManualClock},
    domain::{CourseDetails, Currency, HoldRequest, NewCourse},
    store::embedded::{Inventory, sweep},
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::{
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

const TTL: i64 = 300;
const MAX_SEATS: u64 = 1_000_000;

fn inventory() -> (Inventory, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::starting_now());
    (
        Inventory::new(clock.clone() as Arc<dyn Clock>, TimeDelta::seconds(TTL)),
        clock,
    )
}

fn courses(inventory: &Inventory, count: u64, seats: u64) -> Vec<CourseId> {
    (0..count)
        .map(|_| {
            let details = CourseDetails {
                title: "bench".into(),
                description: None,
                instructor_id: "i".into(),
                currency: Currency::USD,
            };
            inventory
                .create_course(NewCourse {
                    details,
                    price_cents: 1000,
                    seats: seats.min(MAX_SEATS) as u32,
                })
                .unsynced()
                .id
        })
        .collect()
}

/// Places `n` holds spread round-robin over `courses`; returns their (course, reservation) ids.
fn place(inventory: &Inventory, courses: &[CourseId], n: u64) -> Vec<(CourseId, ReservationId)> {
    (0..n)
        .map(|i| {
            let course = courses[(i % courses.len() as u64) as usize];
            let id = ReservationId::from(uuid::Uuid::new_v4());
            let request = HoldRequest {
                student: format!("s{i}").into(),
                expected_price_cents: None,
            };
            inventory
                .hold(course, id, &request)
                .unsynced()
                .expect("held");
            (course, id)
        })
        .collect()
}

/// Courses needed for `n` holds over at least `spread` courses.
fn layout(inventory: &Inventory, n: u64, spread: u64) -> Vec<CourseId> {
    let count = spread.max(n.div_ceil(MAX_SEATS));
    courses(inventory, count, n.div_ceil(count) + 1)
}

fn hold(c: &mut Criterion) {
    let mut group = c.benchmark_group("hold");
    for spread in [1u64, 1000] {
        group.bench_function(
            BenchmarkId::from_parameter(format!("{spread}_courses")),
            |b| {
                b.iter_custom(|iters| {
                    let (inventory, _) = inventory();
                    let courses = layout(&inventory, iters, spread);
                    let requests: Vec<_> = (0..iters)
                        .map(|i| {
                            (
                                courses[(i % courses.len() as u64) as usize],
                                ReservationId::from(uuid::Uuid::new_v4()),
                                HoldRequest {
                                    student: format!("s{i}").into(),
                                    expected_price_cents: None,
                                },
                            )
                        })
                        .collect();
                    let started = Instant::now();
                    for (course, id, request) in &requests {
                        black_box(inventory.hold(*course, *id, request).unsynced().ok());
                    }
                    started.elapsed()
                });
            },
        );
    }
    group.finish();
}

fn confirm(c: &mut Criterion) {
    let mut group = c.benchmark_group("confirm");
    for spread in [1u64, 1000] {
        group.bench_function(
            BenchmarkId::from_parameter(format!("{spread}_courses")),
            |b| {
                b.iter_custom(|iters| {
                    let (inventory, _) = inventory();
                    let courses = layout(&inventory, iters, spread);
                    let held = place(&inventory, &courses, iters);
                    let started = Instant::now();
                    for (course, id) in &held {
                        black_box(inventory.confirm(*course, *id).unsynced().ok());
                    }
                    started.elapsed()
                });
            },
        );
    }
    group.finish();
}

fn sweep(c: &mut Criterion) {
    let mut group = c.benchmark_group("sweep");
    group.sample_size(10);
    for spread in [1u64, 1000] {
        group.bench_function(
            BenchmarkId::new("per_lapsed_hold", format!("{spread}_courses")),
            |b| {
                b.iter_custom(|iters| {
                    let (inventory, clock) = inventory();
                    let courses = layout(&inventory, iters, spread);
                    place(&inventory, &courses, iters);
                    clock.advance(TimeDelta::seconds(TTL));
                    let started = Instant::now();
                    let report = sweep::sweep(&inventory, clock.now());
                    let elapsed = started.elapsed();
                    assert_eq!(report.expired as u64, iters);
                    elapsed
                });
            },
        );
    }
    let (inventory, clock) = inventory();
    let courses = courses(&inventory, 1, MAX_SEATS);
    place(&inventory, &courses, MAX_SEATS);
    group.bench_function("nothing_due_with_1m_live_holds", |b| {
        b.iter(|| black_box(sweep::sweep(&inventory, clock.now())));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = hold, confirm, sweep
}
criterion_main!(benches);
