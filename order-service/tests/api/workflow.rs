//! The saga against a scripted course-service: every uncertain outcome ends with the order and the
//! seat agreeing.

use crate::fake::{FakeCourseClient, Op, Step, unknown};
use order_service::{
    course_client::CourseError,
    orders::OrderStore,
    repo::{OrderRepo, postgres::PgRepo},
    workflow::{CancelError, Settlement, Workflow},
};
use service_kit::postgres::PgSettings;
use shared_types::{CreateOrder, ErrorCode, OrderStatus, ReservationStatus};
use std::{sync::Arc, time::Duration};
use uuid::Uuid;

async fn setup(seats: u32) -> (Workflow, Arc<FakeCourseClient>) {
    setup_with_deadline(seats, Duration::from_secs(5)).await
}

/// The saga over the in-memory store, or over PostgreSQL (a fresh schema) when
/// `TEST_BACKEND=postgres`.
async fn setup_with_deadline(seats: u32, deadline: Duration) -> (Workflow, Arc<FakeCourseClient>) {
    let fake = Arc::new(FakeCourseClient::with_seats(seats));
    let repo: Arc<dyn OrderRepo> = if service_kit::postgres::testing_postgres() {
        let settings = PgSettings {
            url: service_kit::postgres::test_schema_url().await,
            max_connections: 4,
            statement_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(10),
        };
        Arc::new(
            PgRepo::connect(&settings, deadline)
                .await
                .expect("PostgreSQL"),
        )
    } else {
        Arc::new(OrderStore::new())
    };
    (Workflow::new(repo, fake.clone(), deadline), fake)
}

/// The work no one holds a lease on, once it includes `order` (waiting at most 5 s): a saga gives
/// its lease back in the background as it ends.
async fn until_unleased(workflow: &Workflow, order: Uuid) -> Vec<Uuid> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let work = workflow
            .store()
            .unleased_work(chrono::Utc::now())
            .await
            .expect("work");
        if work.contains(&order) || std::time::Instant::now() > deadline {
            return work;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn body() -> CreateOrder {
    CreateOrder {
        course_id: Uuid::now_v7(),
        expected_price_cents: None,
    }
}

#[tokio::test]
async fn the_happy_path_holds_then_confirms_and_records_the_price() {
    let (workflow, fake) = setup(1).await;
    let placed = workflow
        .place("s1", &body(), "req-1")
        .await
        .expect("placed");
    assert_eq!(placed.settlement, Settlement::Confirmed);
    assert_eq!(placed.order.status, OrderStatus::Confirmed);
    assert_eq!(placed.order.unit_price_cents, Some(1000));
    assert_eq!(
        (
            fake.calls(Op::Reserve),
            fake.calls(Op::Confirm),
            fake.calls(Op::Get)
        ),
        (1, 1, 0)
    );
    assert_eq!(
        fake.status_of(placed.order.reservation_id),
        Some(ReservationStatus::Confirmed)
    );
}

#[tokio::test]
async fn a_refusal_fails_the_order_without_further_calls() {
    let (workflow, fake) = setup(0).await;
    let placed = workflow.place("s1", &body(), "r").await.expect("placed");
    assert_eq!(placed.order.status, OrderStatus::Failed);
    assert_eq!(placed.order.failure_code, Some(ErrorCode::SoldOut));
    assert_eq!(
        (
            fake.calls(Op::Reserve),
            fake.calls(Op::Confirm),
            fake.calls(Op::Get),
            fake.calls(Op::Cancel)
        ),
        (1, 0, 0, 0)
    );
}

#[tokio::test]
async fn an_undelivered_hold_fails_as_unavailable_without_reading_back() {
    let (workflow, fake) = setup(1).await;
    fake.script(Op::Reserve, [Step::Fail(CourseError::NotDelivered)]);
    let placed = workflow.place("s1", &body(), "r").await.expect("placed");
    assert_eq!(
        placed.order.failure_code,
        Some(ErrorCode::CourseServiceUnavailable)
    );
    assert!(matches!(
        placed.settlement,
        Settlement::Failed { status: 503, .. }
    ));
    assert_eq!(fake.calls(Op::Get), 0);
    assert_eq!(fake.taken(), 0);
}

#[tokio::test]
async fn a_hold_applied_but_unanswered_is_read_back_and_confirmed() {
    let (workflow, fake) = setup(1).await;
    fake.script(Op::Reserve, [Step::ApplyThenFail(unknown())]);
    let placed = workflow.place("s1", &body(), "r").await.expect("placed");
    assert_eq!(placed.order.status, OrderStatus::Confirmed);
    assert_eq!(placed.order.unit_price_cents, Some(1000));
    assert_eq!(fake.calls(Op::Get), 1);
    assert_eq!(
        fake.status_of(placed.order.reservation_id),
        Some(ReservationStatus::Confirmed)
    );
}

#[tokio::test]
async fn a_hold_that_never_landed_is_tombstoned_so_a_late_one_cannot_take_a_seat() {
    let (workflow, fake) = setup(1).await;
    fake.script(Op::Reserve, [Step::Fail(unknown())]);
    let placed = workflow.place("s1", &body(), "r").await.expect("placed");
    assert_eq!(placed.order.status, OrderStatus::Failed);
    assert_eq!(
        placed.order.failure_code,
        Some(ErrorCode::CourseServiceUnavailable)
    );
    let rid = placed.order.reservation_id;
    assert_eq!(fake.status_of(rid), Some(ReservationStatus::Cancelled));
    let ctx = order_service::course_client::CallContext {
        course_id: placed.order.course_id,
        reservation_id: rid,
        request_id: "late".into(),
    };
    let late =
        order_service::course_client::CourseClient::reserve(fake.as_ref(), &ctx, "s1", None).await;
    assert!(late.is_err_and(|e| e.is_refusal(ErrorCode::ReservationCancelled)));
    assert_eq!(fake.taken(), 0);
}

#[tokio::test]
async fn a_confirm_applied_but_unanswered_is_read_back_as_confirmed() {
    let (workflow, fake) = setup(1).await;
    fake.script(Op::Confirm, [Step::ApplyThenFail(unknown())]);
    let placed = workflow.place("s1", &body(), "r").await.expect("placed");
    assert_eq!(placed.order.status, OrderStatus::Confirmed);
    assert_eq!((fake.calls(Op::Confirm), fake.calls(Op::Get)), (1, 1));
}

#[tokio::test]
async fn an_outcome_that_cannot_be_learned_stays_pending_until_the_reconciler_settles_it() {
    let (workflow, fake) = setup(1).await;
    fake.script(Op::Confirm, [Step::Fail(unknown())]);
    fake.script(Op::Get, [Step::Fail(CourseError::NotDelivered)]);
    let placed = workflow.place("s1", &body(), "r").await.expect("placed");
    assert_eq!(placed.settlement, Settlement::Unsettled);
    assert_eq!(placed.order.status, OrderStatus::Pending);
    assert_eq!(
        until_unleased(&workflow, placed.order.id).await,
        vec![placed.order.id]
    );
    assert_eq!(
        fake.status_of(placed.order.reservation_id),
        Some(ReservationStatus::Held)
    );
    let visited = order_service::reconciler::run_once(&workflow).await;
    assert_eq!(visited, 1);
    let order = workflow
        .store()
        .get(placed.order.id)
        .await
        .expect("store")
        .expect("order");
    assert_eq!(order.status, OrderStatus::Confirmed);
    assert_eq!(workflow.store().work_count().await.expect("count"), 0);
    assert_eq!(
        fake.status_of(order.reservation_id),
        Some(ReservationStatus::Confirmed)
    );
}

#[tokio::test]
async fn a_saga_slower_than_the_deadline_answers_pending_and_settles_in_the_background() {
    let (workflow, fake) = setup_with_deadline(1, Duration::from_millis(100)).await;
    fake.script(Op::Reserve, [Step::Delay(Duration::from_millis(400))]);
    let placed = workflow.place("s1", &body(), "r").await.expect("placed");
    assert_eq!(placed.order.status, OrderStatus::Pending);
    assert_eq!(
        order_service::reconciler::run_once(&workflow).await,
        0,
        "the saga still holds the lease"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        workflow
            .store()
            .get(placed.order.id)
            .await
            .expect("store")
            .map(|o| o.status),
        Some(OrderStatus::Confirmed)
    );
}

#[tokio::test]
async fn a_second_live_order_for_the_same_course_is_refused() {
    let (workflow, _) = setup(5).await;
    let body = body();
    workflow.place("s1", &body, "r").await.expect("placed");
    assert!(workflow.place("s1", &body, "r").await.is_err());
    assert!(workflow.place("s2", &body, "r").await.is_ok());
}

#[tokio::test]
async fn cancelling_a_confirmed_order_releases_its_seat() {
    let (workflow, fake) = setup(1).await;
    let placed = workflow.place("s1", &body(), "r").await.expect("placed");
    let order = workflow
        .cancel("s1", placed.order.id, "r")
        .await
        .expect("cancelled");
    assert_eq!(order.status, OrderStatus::Cancelled);
    assert_eq!(
        fake.status_of(order.reservation_id),
        Some(ReservationStatus::Released)
    );
    assert_eq!((fake.calls(Op::Cancel), fake.calls(Op::Release)), (1, 1));
    assert_eq!(
        workflow.cancel("s1", order.id, "r").await.map(|o| o.status),
        Ok(OrderStatus::Cancelled)
    );
    assert_eq!(fake.calls(Op::Cancel), 1, "a second cancel changes nothing");
}

#[tokio::test]
async fn a_cancellation_course_service_could_not_take_is_finished_by_the_reconciler() {
    let (workflow, fake) = setup(1).await;
    let placed = workflow.place("s1", &body(), "r").await.expect("placed");
    fake.script(Op::Cancel, [Step::Fail(CourseError::NotDelivered)]);
    assert_eq!(
        workflow.cancel("s1", placed.order.id, "r").await,
        Err(CancelError::Unavailable)
    );
    assert_eq!(
        workflow
            .store()
            .get(placed.order.id)
            .await
            .expect("store")
            .map(|o| o.status),
        Some(OrderStatus::Confirmed)
    );
    assert_eq!(
        fake.status_of(placed.order.reservation_id),
        Some(ReservationStatus::Confirmed)
    );
    assert!(
        workflow
            .store()
            .cancel_requested(placed.order.id)
            .await
            .expect("store"),
        "the request is remembered"
    );
    until_unleased(&workflow, placed.order.id).await;
    assert_eq!(order_service::reconciler::run_once(&workflow).await, 1);
    assert_eq!(
        workflow
            .store()
            .get(placed.order.id)
            .await
            .expect("store")
            .map(|o| o.status),
        Some(OrderStatus::Cancelled)
    );
    assert_eq!(
        fake.status_of(placed.order.reservation_id),
        Some(ReservationStatus::Released)
    );
    assert_eq!(workflow.store().work_count().await.expect("count"), 0);
}

#[tokio::test]
async fn another_students_order_cannot_be_cancelled() {
    let (workflow, fake) = setup(1).await;
    let placed = workflow.place("s1", &body(), "r").await.expect("placed");
    assert_eq!(
        workflow.cancel("s2", placed.order.id, "r").await,
        Err(CancelError::NotFound)
    );
    assert_eq!(fake.calls(Op::Cancel), 0);
}

#[test]
fn idempotency_keys_are_forgotten_after_a_day() {
    use order_service::orders::{Claim, StoredReply};
    let store = OrderStore::new();
    let body = body();
    let t0 = chrono::Utc::now();
    assert_eq!(store.claim_key("s1", "k", &body, t0), Claim::Fresh);
    let reply = StoredReply {
        status: 201,
        body: "{}".into(),
        problem: false,
        location: None,
        retry_after_secs: None,
    };
    drop(store.complete_key("s1", "k", reply.clone(), t0));
    assert_eq!(store.claim_key("s1", "k", &body, t0), Claim::Replay(reply));
    assert_eq!(store.purge_keys(t0 + chrono::TimeDelta::hours(23)), 0);
    assert_eq!(store.purge_keys(t0 + chrono::TimeDelta::hours(25)), 1);
    assert_eq!(
        store.claim_key("s1", "k", &body, t0),
        Claim::Fresh,
        "a forgotten key is new again"
    );
    assert_eq!(
        store.purge_keys(t0 + chrono::TimeDelta::hours(2)),
        1,
        "a key stuck running goes after an hour"
    );
}
