//! The saga against a scripted course-service: every uncertain outcome ends with the order and the
//! seat agreeing.

use crate::fake::{FakeCourseClient, Op, Step, unknown};
use order_service::{
    clock::SystemClock,
    course_client::CourseError,
    domain::{CourseId, Failure, NewOrder, OrderId, Status, StudentId},
    reconciler::Reconciler,
    repo::{self, Backend, OrderRepo, embedded::EmbeddedRepo, postgres::PgRepo},
    workflow::{CancelError, Settlement, Workflow},
};
use shared_types::{ErrorCode, ReservationStatus};
use std::{sync::Arc, time::Duration};
use storage_kit::postgres::PgSettings;

/// The saga under test, its repository, and the scripted course-service.
struct Saga {
    workflow: Workflow,
    orders: Arc<dyn OrderRepo>,
    reconciler: Reconciler,
}

async fn setup(seats: u32) -> (Saga, Arc<FakeCourseClient>) {
    setup_with_deadline(seats, Duration::from_secs(5)).await
}

/// The saga over the in-memory store, or over PostgreSQL (a fresh schema) when
/// `TEST_BACKEND=postgres`.
async fn setup_with_deadline(seats: u32, deadline: Duration) -> (Saga, Arc<FakeCourseClient>) {
    let fake = Arc::new(FakeCourseClient::with_seats(seats));
    let lease = repo::lease_for(deadline);
    let backend = if storage_kit::postgres::testing_postgres() {
        let settings = PgSettings {
            url: storage_kit::postgres::test_schema_url().await,
            max_connections: 4,
            statement_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(10),
        };
        let repo = PgRepo::connect(&settings, Arc::new(SystemClock), lease);
        Backend::of(repo.await.expect("PostgreSQL"))
    } else {
        Backend::of(EmbeddedRepo::in_memory(Arc::new(SystemClock), lease))
    };
    let workflow = Workflow::new(Arc::clone(&backend.orders), fake.clone(), deadline);
    let reconciler = Reconciler {
        workflow: workflow.clone(),
        orders: Arc::clone(&backend.orders),
        keys: backend.keys,
    };
    let saga = Saga {
        workflow,
        orders: backend.orders,
        reconciler,
    };
    (saga, fake)
}

/// The work no one holds a lease on, once it includes `order` (waiting at most 5 s): a saga gives
/// its lease back in the background as it ends.
async fn until_unleased(orders: &dyn OrderRepo, order: OrderId) -> Vec<OrderId> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let work = orders.unleased_work().await.expect("work");
        if work.contains(&order) || std::time::Instant::now() > deadline {
            return work;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn student(id: &str) -> StudentId {
    StudentId::new(id)
}

/// An order of `s1` for a new course.
fn body() -> NewOrder {
    order_of("s1", CourseId::generate())
}

fn order_of(who: &str, course: CourseId) -> NewOrder {
    NewOrder {
        student: student(who),
        course,
        expected_price_cents: None,
    }
}

#[tokio::test]
async fn the_happy_path_holds_then_confirms_and_records_the_price() {
    let (saga, fake) = setup(1).await;
    let placed = saga.workflow.place(&body(), "req-1").await.expect("placed");
    assert_eq!(placed.settlement, Settlement::Confirmed);
    assert_eq!(placed.order.status, Status::Confirmed);
    assert_eq!(placed.order.price.map(|p| p.cents), Some(1000));
    assert_eq!(
        (
            fake.calls(Op::Reserve),
            fake.calls(Op::Confirm),
            fake.calls(Op::Get)
        ),
        (1, 1, 0)
    );
    assert_eq!(
        fake.status_of(placed.order.reservation),
        Some(ReservationStatus::Confirmed)
    );
}

#[tokio::test]
async fn a_refusal_fails_the_order_without_further_calls() {
    let (saga, fake) = setup(0).await;
    let placed = saga.workflow.place(&body(), "r").await.expect("placed");
    assert_eq!(placed.order.status, Status::Failed);
    assert_eq!(placed.order.failure, Some(Failure::SoldOut));
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
    let (saga, fake) = setup(1).await;
    fake.script(Op::Reserve, [Step::Fail(CourseError::NotDelivered)]);
    let placed = saga.workflow.place(&body(), "r").await.expect("placed");
    assert_eq!(
        placed.order.failure,
        Some(Failure::CourseServiceUnavailable)
    );
    assert!(matches!(
        placed.settlement,
        Settlement::Failed {
            failure: Failure::CourseServiceUnavailable,
            ..
        }
    ));
    assert_eq!(fake.calls(Op::Get), 0);
    assert_eq!(fake.taken(), 0);
}

#[tokio::test]
async fn a_hold_applied_but_unanswered_is_read_back_and_confirmed() {
    let (saga, fake) = setup(1).await;
    fake.script(Op::Reserve, [Step::ApplyThenFail(unknown())]);
    let placed = saga.workflow.place(&body(), "r").await.expect("placed");
    assert_eq!(placed.order.status, Status::Confirmed);
    assert_eq!(placed.order.price.map(|p| p.cents), Some(1000));
    assert_eq!(fake.calls(Op::Get), 1);
    assert_eq!(
        fake.status_of(placed.order.reservation),
        Some(ReservationStatus::Confirmed)
    );
}

#[tokio::test]
async fn a_hold_that_never_landed_is_tombstoned_so_a_late_one_cannot_take_a_seat() {
    let (saga, fake) = setup(1).await;
    fake.script(Op::Reserve, [Step::Fail(unknown())]);
    let placed = saga.workflow.place(&body(), "r").await.expect("placed");
    assert_eq!(placed.order.status, Status::Failed);
    assert_eq!(
        placed.order.failure,
        Some(Failure::CourseServiceUnavailable)
    );
    let rid = placed.order.reservation;
    assert_eq!(fake.status_of(rid), Some(ReservationStatus::Cancelled));
    let ctx = order_service::course_client::CallContext {
        course_id: placed.order.course,
        reservation_id: rid,
        request_id: "late".into(),
    };
    let late = order_service::course_client::CourseClient::reserve(
        fake.as_ref(),
        &ctx,
        &student("s1"),
        None,
    )
    .await;
    assert!(late.is_err_and(|e| e.is_refusal(ErrorCode::ReservationCancelled)));
    assert_eq!(fake.taken(), 0);
}

#[tokio::test]
async fn a_confirm_applied_but_unanswered_is_read_back_as_confirmed() {
    let (saga, fake) = setup(1).await;
    fake.script(Op::Confirm, [Step::ApplyThenFail(unknown())]);
    let placed = saga.workflow.place(&body(), "r").await.expect("placed");
    assert_eq!(placed.order.status, Status::Confirmed);
    assert_eq!((fake.calls(Op::Confirm), fake.calls(Op::Get)), (1, 1));
}

#[tokio::test]
async fn an_outcome_that_cannot_be_learned_stays_pending_until_the_reconciler_settles_it() {
    let (saga, fake) = setup(1).await;
    fake.script(Op::Confirm, [Step::Fail(unknown())]);
    fake.script(Op::Get, [Step::Fail(CourseError::NotDelivered)]);
    let placed = saga.workflow.place(&body(), "r").await.expect("placed");
    assert_eq!(placed.settlement, Settlement::Unsettled);
    assert_eq!(placed.order.status, Status::Pending);
    assert_eq!(
        until_unleased(saga.orders.as_ref(), placed.order.id).await,
        vec![placed.order.id]
    );
    assert_eq!(
        fake.status_of(placed.order.reservation),
        Some(ReservationStatus::Held)
    );
    let visited = saga.reconciler.run_once().await;
    assert_eq!(visited, 1);
    let order = saga
        .orders
        .get(placed.order.id)
        .await
        .expect("store")
        .expect("order");
    assert_eq!(order.status, Status::Confirmed);
    assert_eq!(saga.orders.work_count().await.expect("count"), 0);
    assert_eq!(
        fake.status_of(order.reservation),
        Some(ReservationStatus::Confirmed)
    );
}

#[tokio::test]
async fn a_saga_slower_than_the_deadline_answers_pending_and_settles_in_the_background() {
    let (saga, fake) = setup_with_deadline(1, Duration::from_millis(100)).await;
    fake.script(Op::Reserve, [Step::Delay(Duration::from_millis(400))]);
    let placed = saga.workflow.place(&body(), "r").await.expect("placed");
    assert_eq!(placed.order.status, Status::Pending);
    assert_eq!(
        saga.reconciler.run_once().await,
        0,
        "the saga still holds the lease"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        saga.orders
            .get(placed.order.id)
            .await
            .expect("store")
            .map(|o| o.status),
        Some(Status::Confirmed)
    );
}

#[tokio::test]
async fn a_second_live_order_for_the_same_course_is_refused() {
    let (saga, _) = setup(5).await;
    let body = body();
    saga.workflow.place(&body, "r").await.expect("placed");
    assert!(saga.workflow.place(&body, "r").await.is_err());
    let other = order_of("s2", body.course);
    assert!(saga.workflow.place(&other, "r").await.is_ok());
}

#[tokio::test]
async fn cancelling_a_confirmed_order_releases_its_seat_without_a_refused_cancel() {
    let (saga, fake) = setup(1).await;
    let placed = saga.workflow.place(&body(), "r").await.expect("placed");
    let order = saga
        .workflow
        .cancel(&student("s1"), placed.order.id, "r")
        .await
        .expect("cancelled");
    assert_eq!(order.status, Status::Cancelled);
    assert_eq!(
        fake.status_of(order.reservation),
        Some(ReservationStatus::Released)
    );
    assert_eq!(
        (fake.calls(Op::Cancel), fake.calls(Op::Release)),
        (0, 1),
        "a confirmed seat is released directly"
    );
    assert_eq!(
        saga.workflow
            .cancel(&student("s1"), order.id, "r")
            .await
            .map(|o| o.status),
        Ok(Status::Cancelled)
    );
    assert_eq!(
        (fake.calls(Op::Cancel), fake.calls(Op::Release)),
        (0, 1),
        "a second cancel changes nothing"
    );
}

#[tokio::test]
async fn a_cancellation_course_service_could_not_take_is_finished_by_the_reconciler() {
    let (saga, fake) = setup(1).await;
    let placed = saga.workflow.place(&body(), "r").await.expect("placed");
    fake.script(Op::Release, [Step::Fail(CourseError::NotDelivered)]);
    assert_eq!(
        saga.workflow
            .cancel(&student("s1"), placed.order.id, "r")
            .await,
        Err(CancelError::Unavailable)
    );
    assert_eq!(
        saga.orders
            .get(placed.order.id)
            .await
            .expect("store")
            .map(|o| o.status),
        Some(Status::Confirmed)
    );
    assert_eq!(
        fake.status_of(placed.order.reservation),
        Some(ReservationStatus::Confirmed)
    );
    assert_eq!(
        saga.orders
            .get(placed.order.id)
            .await
            .expect("store")
            .map(|o| o.step),
        Some(order_service::domain::Step::Cancelling),
        "the request is remembered"
    );
    until_unleased(saga.orders.as_ref(), placed.order.id).await;
    assert_eq!(saga.reconciler.run_once().await, 1);
    assert_eq!(
        saga.orders
            .get(placed.order.id)
            .await
            .expect("store")
            .map(|o| o.status),
        Some(Status::Cancelled)
    );
    assert_eq!(
        fake.status_of(placed.order.reservation),
        Some(ReservationStatus::Released)
    );
    assert_eq!(saga.orders.work_count().await.expect("count"), 0);
}

#[tokio::test]
async fn another_students_order_cannot_be_cancelled() {
    let (saga, fake) = setup(1).await;
    let placed = saga.workflow.place(&body(), "r").await.expect("placed");
    assert_eq!(
        saga.workflow
            .cancel(&student("s2"), placed.order.id, "r")
            .await,
        Err(CancelError::NotFound)
    );
    assert_eq!(fake.calls(Op::Cancel), 0);
}

#[tokio::test]
async fn a_pending_answer_waits_until_the_step_it_reports_is_durable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = storage_kit::journal::Faults::none();
    let store = storage_kit::journal::Store::open(dir.path(), "order-service").expect("store");
    let repo = EmbeddedRepo::restore(
        store,
        faults.clone(),
        Arc::new(SystemClock),
        repo::lease_for(Duration::from_secs(5)),
    )
    .expect("restore");
    let orders: Arc<dyn OrderRepo> = Arc::new(repo);
    let fake = Arc::new(FakeCourseClient::with_seats(1));
    fake.script(Op::Confirm, [Step::Fail(unknown())]);
    fake.script(Op::Get, [Step::Fail(CourseError::NotDelivered)]);
    let workflow = Workflow::new(Arc::clone(&orders), fake.clone(), Duration::from_secs(5));
    let commit = Duration::from_millis(300);
    faults.delay_commits(commit);
    let started = std::time::Instant::now();
    let placed = workflow.place(&body(), "r").await.expect("placed");
    assert_eq!(placed.order.step, order_service::domain::Step::FindingOut);
    assert_eq!(placed.order.price.map(|p| p.cents), Some(1000));
    // One commit for the recorded order, another for the steps after it: an answer given after
    // the first only would report steps still on their way to disk.
    assert!(
        started.elapsed() >= commit * 2,
        "answered after {:?}",
        started.elapsed()
    );
    orders.close().await.expect("close");
}

#[tokio::test]
async fn an_offers_order_waits_out_an_unreachable_course_service_and_confirms_its_held_seat() {
    use order_service::{
        course_client::{CallContext, CourseClient},
        domain::{Offer, ReservationId},
        workflow::OfferTaken,
    };
    let (saga, fake) = setup(1).await;
    // course-service made the offer: a hold for the waiting student.
    let offer = Offer {
        course: fake.course_id(),
        reservation: ReservationId::generate(),
        student: student("s1"),
    };
    let ctx = CallContext {
        course_id: offer.course,
        reservation_id: offer.reservation,
        request_id: "offer".into(),
    };
    fake.reserve(&ctx, &offer.student, None)
        .await
        .expect("the offer's hold");
    let outage = [
        Step::Fail(CourseError::NotDelivered),
        Step::Fail(CourseError::NotDelivered),
    ];
    fake.script(Op::Get, outage);
    let OfferTaken::New(order) = saga.workflow.take_offer(&offer, "r").await.expect("taken") else {
        panic!("a new order");
    };
    let id = order.id;
    assert_eq!(until_unleased(saga.orders.as_ref(), id).await, vec![id]);
    let stored = saga.orders.get(id).await.expect("store").expect("order");
    assert_eq!(stored.status, Status::Pending, "an outage fails no offer");
    assert_eq!(saga.reconciler.run_once().await, 1);
    let stored = saga.orders.get(id).await.expect("store").expect("order");
    assert_eq!(stored.status, Status::Pending, "still unreachable");
    assert_eq!(saga.reconciler.run_once().await, 1);
    let stored = saga.orders.get(id).await.expect("store").expect("order");
    assert_eq!(stored.status, Status::Confirmed);
    assert_eq!(stored.price.map(|p| p.cents), Some(1000));
    assert_eq!(
        fake.status_of(offer.reservation),
        Some(ReservationStatus::Confirmed)
    );
    // The offer's hold was never sent again: read three times, confirmed once.
    assert_eq!(
        (
            fake.calls(Op::Reserve),
            fake.calls(Op::Get),
            fake.calls(Op::Confirm)
        ),
        (1, 3, 1)
    );
}
