//! What an idempotency key costs in memory, measured with a counting allocator (its own test
//! binary, so no other test allocates meanwhile).

use order_service::{
    clock::SystemClock,
    domain::StudentId,
    idempotency::{AnsweredOrder, IdempotencyKey, KeyStore, StoredReply},
    repo::{embedded::EmbeddedRepo, testing::Inspect},
};
use shared_types::{CreateOrder, ErrorCode, Order, OrderStatus};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::{alloc::System, sync::Arc};
use uuid::Uuid;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const KEYS: usize = 20_000;

fn answer(now: chrono::DateTime<chrono::Utc>, i: usize) -> StoredReply {
    if i.is_multiple_of(10) {
        return StoredReply::Problem {
            status: 409,
            code: ErrorCode::SoldOut,
            detail: "no seats left in this course".into(),
            price_cents: None,
        };
    }
    let order = Order {
        id: Uuid::now_v7(),
        student_id: String::new(),
        course_id: Uuid::now_v7(),
        reservation_id: Uuid::now_v7(),
        unit_price_cents: Some(4900),
        currency: Some("USD".into()),
        status: OrderStatus::Confirmed,
        failure_code: None,
        payment: None,
        created_at: now,
        updated_at: now,
    };
    StoredReply::Order {
        status: 201,
        order: AnsweredOrder::of(&order),
    }
}

#[test]
fn a_finished_idempotency_key_costs_well_under_500_bytes() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let store = EmbeddedRepo::in_memory(Arc::new(SystemClock), chrono::TimeDelta::seconds(16));
    let now = chrono::Utc::now();
    let students: Vec<StudentId> = (0..500)
        .map(|i| StudentId::new(format!("student-{i}")))
        .collect();
    // Keys of the shape clients send (UUIDs), answers ready before counting starts.
    let work: Vec<(StudentId, IdempotencyKey, CreateOrder, StoredReply)> = (0..KEYS)
        .map(|i| {
            let body = CreateOrder {
                course_id: Uuid::now_v7(),
                expected_price_cents: Some(4900),
            };
            let key = IdempotencyKey::parse(&Uuid::new_v4().to_string()).expect("key");
            (students[i % 500].clone(), key, body, answer(now, i))
        })
        .collect();
    let region = Region::new(GLOBAL);
    runtime.block_on(async {
        for (student, key, body, reply) in &work {
            store.claim_key(student, key, body).await.expect("claim");
            store
                .complete_key(student, key, reply.clone())
                .await
                .expect("complete");
        }
    });
    let change = region.change();
    // (A reallocation counts its growth in `bytes_allocated` already.)
    let kept = change.bytes_allocated as isize - change.bytes_deallocated as isize;
    let per_key = kept / KEYS as isize;
    eprintln!("{per_key} bytes per finished idempotency key ({KEYS} keys, 500 students)");
    assert!(per_key < 400, "{per_key} bytes per key");
    let kept_by_one = runtime
        .block_on(store.keys_of(&students[7]))
        .expect("count");
    assert_eq!(kept_by_one, KEYS / 500);
}
