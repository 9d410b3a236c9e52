//! What survives a restart, on every backend that keeps anything: each order's step, price,
//! expected price and pending cancellation, the work left, the live slots, and finished answers.
//! And orders recorded before steps were kept get the step the rule book derives for them.

use super::{Subject, request};
use order_service::{
    domain::{Failure, Order, Outcome, Price, Status, Step, StudentId, Transition, rules},
    idempotency::{Claim, IdempotencyKey, StoredReply},
    repo::{AlreadyLive, Note, OrderRepo},
};
use shared_types::{CreateOrder, ErrorCode};
use strum::IntoEnumIterator;
use uuid::Uuid;

async fn all(s: &Subject) -> Vec<Order> {
    let mut all = s.backend.inspect.all().await.expect("all");
    all.sort_by_key(|o| o.id);
    all
}

async fn begun(orders: &dyn OrderRepo, student: &str) -> Order {
    orders
        .begin(&request(student))
        .await
        .expect("begin")
        .expect("new")
}

pub async fn steps_prices_cancellations_and_answers_survive_a_reopen(s: Subject) {
    let orders = s.backend.orders.as_ref();
    let price = Price {
        cents: 4900,
        currency: "EUR".into(),
    };
    let confirming = begun(orders, "s1").await;
    let held = Transition::Advance {
        from: Step::Recorded,
        to: Step::Confirming,
    };
    orders
        .apply(confirming.id, held, Note::price(Some(price)))
        .await
        .expect("apply");
    let finding_out = begun(orders, "s2").await;
    let unknown = Transition::Advance {
        from: Step::Recorded,
        to: Step::FindingOut,
    };
    orders
        .apply(finding_out.id, unknown, Note::none())
        .await
        .expect("apply");
    let cancelling = begun(orders, "s3").await;
    let confirm = Transition::Settle {
        from: Step::Recorded,
        outcome: Outcome::Confirmed,
    };
    orders
        .apply(cancelling.id, confirm, Note::none())
        .await
        .expect("apply");
    orders.request_cancel(cancelling.id).await.expect("cancel");
    let failed = begun(orders, "s4").await;
    let refused = Transition::Settle {
        from: Step::Recorded,
        outcome: Outcome::Failed(Failure::PriceChanged),
    };
    orders
        .apply(failed.id, refused, Note::none())
        .await
        .expect("apply");
    for order in [&confirming, &finding_out, &cancelling, &failed] {
        orders.release_lease(order.id).await.expect("release");
    }
    let (student, key, body) = (
        StudentId::new("s1"),
        IdempotencyKey::parse("k").expect("key"),
        CreateOrder {
            course_id: Uuid::now_v7(),
            expected_price_cents: None,
        },
    );
    let reply = StoredReply::Problem {
        status: 409,
        code: ErrorCode::PriceChanged,
        detail: "the course price changed".into(),
        price_cents: Some(5900),
    };
    s.backend
        .keys
        .claim_key(&student, &key, &body)
        .await
        .expect("claim");
    s.backend
        .keys
        .complete_key(&student, &key, reply.clone())
        .await
        .expect("complete");
    let before = all(&s).await;

    let kind = s.kind;
    let Some(s) = s.reopen().await else {
        return;
    };
    let orders = s.backend.orders.as_ref();
    assert_eq!(all(&s).await, before, "{kind:?}: orders read back differ");
    let steps: Vec<(Status, Step)> = before.iter().map(|o| (o.status, o.step)).collect();
    assert_eq!(
        steps,
        [
            (Status::Pending, Step::Confirming),
            (Status::Pending, Step::FindingOut),
            (Status::Confirmed, Step::Cancelling),
            (Status::Failed, Step::Settled),
        ]
    );
    let mut work = orders.unleased_work().await.expect("work");
    work.sort();
    assert_eq!(work, [confirming.id, finding_out.id, cancelling.id]);
    assert_eq!(orders.work_count().await.expect("count"), 3);
    let again = NewOrderFor(&confirming);
    assert_eq!(
        orders.begin(&again.request()).await.expect("begin"),
        Err(AlreadyLive(confirming.id)),
        "{kind:?}: the live slot is back"
    );
    assert!(
        orders
            .begin(&NewOrderFor(&failed).request())
            .await
            .expect("begin")
            .is_ok()
    );
    assert_eq!(
        s.backend
            .keys
            .claim_key(&student, &key, &body)
            .await
            .expect("claim"),
        Claim::Replay(reply)
    );
}

/// A request for the same student and course as an order.
struct NewOrderFor<'a>(&'a Order);

impl NewOrderFor<'_> {
    fn request(&self) -> order_service::domain::NewOrder {
        order_service::domain::NewOrder {
            student: self.0.student.clone(),
            course: self.0.course,
            expected_price_cents: None,
        }
    }
}

/// PostgreSQL: the migration that adds steps derives each existing order's step as
/// `rules::legacy_step` does.
#[tokio::test]
async fn postgres_orders_from_before_steps_get_the_rule_books_step() {
    if !storage_kit::postgres::testing_postgres() {
        return;
    }
    let url = storage_kit::postgres::test_schema_url().await;
    let pool = sqlx::PgPool::connect(&url).await.expect("pool");
    let migrations = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let first = std::fs::read_to_string(format!("{migrations}/0001_orders.sql")).expect("0001");
    sqlx::raw_sql(sqlx::AssertSqlSafe(first))
        .execute(&pool)
        .await
        .expect("0001");
    let mut expected = Vec::new();
    // The statuses there were before payments.
    let legacy =
        Status::iter().filter(|s| !matches!(s, Status::AwaitingPayment | Status::Refunded));
    for status in legacy {
        for cancel in [false, true] {
            let id = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO orders (id, student_id, course_id, reservation_id, status, \
                 cancel_requested, created_at, updated_at) \
                 VALUES ($1, 's1', $2, $3, $4, $5, now(), now())",
            )
            .bind(id)
            .bind(Uuid::now_v7())
            .bind(Uuid::now_v7())
            .bind(status.as_str())
            .bind(cancel)
            .execute(&pool)
            .await
            .expect("legacy row");
            expected.push((id, rules::legacy_step(status, cancel).as_str()));
        }
    }
    let second =
        std::fs::read_to_string(format!("{migrations}/0002_order_steps.sql")).expect("0002");
    sqlx::raw_sql(sqlx::AssertSqlSafe(second))
        .execute(&pool)
        .await
        .expect("0002");
    for (id, step) in expected {
        let (found,): (String,) = sqlx::query_as("SELECT step FROM orders WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("row");
        assert_eq!(found, step, "order {id}");
    }
}

/// The saga over a subject's backend, with a scripted course-service.
fn saga_over(
    s: &Subject,
    fake: &std::sync::Arc<crate::fake::FakeCourseClient>,
) -> (
    order_service::workflow::Workflow,
    order_service::reconciler::Reconciler,
) {
    let workflow = order_service::workflow::Workflow::new(
        s.backend.orders.clone(),
        fake.clone(),
        std::time::Duration::from_secs(5),
    );
    let reconciler = order_service::reconciler::Reconciler {
        workflow: workflow.clone(),
        orders: s.backend.orders.clone(),
        keys: s.backend.keys.clone(),
    };
    (workflow, reconciler)
}

pub async fn a_saga_cut_off_resumes_at_its_saved_step_after_a_restart(s: Subject) {
    use crate::fake::{FakeCourseClient, Op, Step as Script, unknown};
    let fake = std::sync::Arc::new(FakeCourseClient::with_seats(2));
    // One order learns nothing after its confirm: it rests at finding out.
    fake.script(Op::Confirm, [Script::Fail(unknown())]);
    fake.script(
        Op::Get,
        [Script::Fail(
            order_service::course_client::CourseError::NotDelivered,
        )],
    );
    let (workflow, _) = saga_over(&s, &fake);
    let cut_off = workflow.place(&request("s1"), "r").await.expect("placed");
    assert_eq!(cut_off.order.step, Step::FindingOut);
    // Another is recorded and its process stops before the hold is sent (its lease is never
    // given back).
    let recorded = begun(s.backend.orders.as_ref(), "s2").await;
    let kind = s.kind;
    let Some(s) = s.reopen().await else {
        return;
    };
    s.clock
        .advance(super::LEASE + chrono::TimeDelta::seconds(1));
    let (_, reconciler) = saga_over(&s, &fake);
    assert_eq!(reconciler.run_once().await, 2, "{kind:?}");
    for id in [cut_off.order.id, recorded.id] {
        let order = s.backend.orders.get(id).await.expect("get").expect("order");
        assert_eq!(
            (order.status, order.step),
            (Status::Confirmed, Step::Settled)
        );
    }
    assert_eq!(
        (
            fake.calls(Op::Reserve),
            fake.calls(Op::Get),
            fake.calls(Op::Confirm)
        ),
        (2, 2, 3),
        "{kind:?}: the order cut off at finding out is read, not held again; the recorded one \
         is held from its first step"
    );
    assert_eq!(fake.taken(), 2);
}
