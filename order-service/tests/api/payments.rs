//! The payment steps of the saga against a scripted course-service and a payment provider in
//! memory: paid, never paid, no checkout, cancelled before and after paying, paid late with and
//! without a seat, events repeated. In every case the seat and the money agree.

use crate::{fake::FakeCourseClient, fake_payments::FakePayments};
use chrono::TimeDelta;
use order_service::{
    clock::{Clock, ManualClock},
    domain::{CourseId, Failure, NewOrder, Order, OrderId, Status, StudentId},
    repo::{self, Backend, OrderRepo, embedded::EmbeddedRepo, postgres::PgRepo},
    workflow::{EventApplied, Payments, Settlement, Workflow},
};
use shared_types::{PaymentStatus, ReservationStatus};
use std::{sync::Arc, time::Duration};
use storage_kit::postgres::PgSettings;

struct Shop {
    workflow: Workflow,
    orders: Arc<dyn OrderRepo>,
    course: Arc<FakeCourseClient>,
    pay: Arc<FakePayments>,
    clock: Arc<ManualClock>,
}

async fn shop(seats: u32) -> Shop {
    let deadline = Duration::from_secs(5);
    let clock = Arc::new(ManualClock::starting_now());
    let lease = repo::lease_for(deadline);
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let backend = if storage_kit::postgres::testing_postgres() {
        let settings = PgSettings {
            url: storage_kit::postgres::test_schema_url().await,
            max_connections: 4,
            statement_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(10),
        };
        let repo = PgRepo::connect(&settings, Arc::clone(&dyn_clock), lease);
        Backend::of(repo.await.expect("PostgreSQL"))
    } else {
        Backend::of(EmbeddedRepo::in_memory(Arc::clone(&dyn_clock), lease))
    };
    let course = Arc::new(FakeCourseClient::with_seats(seats));
    let pay = Arc::new(FakePayments::default());
    let workflow = Workflow::new(Arc::clone(&backend.orders), course.clone(), deadline)
        .with_clock(dyn_clock)
        .with_payments(Payments {
            client: pay.clone(),
            poll: TimeDelta::seconds(30),
        });
    Shop {
        workflow,
        orders: backend.orders,
        course,
        pay,
        clock,
    }
}

fn request(who: &str) -> NewOrder {
    NewOrder {
        student: StudentId::new(who),
        course: CourseId::generate(),
        expected_price_cents: None,
    }
}

impl Shop {
    async fn order(&self, id: OrderId) -> Order {
        self.orders.get(id).await.expect("get").expect("order")
    }

    /// The order once `done` holds for it (the drive after a webhook runs in the background).
    async fn until(&self, id: OrderId, done: impl Fn(&Order) -> bool) -> Order {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let order = self.order(id).await;
            if done(&order) || std::time::Instant::now() > deadline {
                return order;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A placed order awaiting its payment, and its session id.
    async fn awaiting(&self, who: &str) -> (Order, String) {
        let placed = self
            .workflow
            .place(&request(who), "req")
            .await
            .expect("placed");
        assert_eq!(placed.settlement, Settlement::AwaitingPayment);
        let order = placed.order;
        assert_eq!(order.status, Status::AwaitingPayment);
        let payment = order.payment.clone().expect("a checkout");
        assert_eq!(payment.status, PaymentStatus::Open);
        assert!(payment.url.is_some());
        assert!(
            Some(payment.expires_at) <= order.hold_expires_at,
            "the checkout ends no later than the hold"
        );
        (order, payment.session_id)
    }

    /// The student pays and the webhook arrives.
    async fn pay_and_notify(&self, session: &str, event: &str) -> EventApplied {
        let paid = self.pay.pay(session).expect("payable");
        self.workflow
            .payment_arrived(event, &paid, "webhook")
            .await
            .expect("applied")
    }

    fn reservation(&self, order: &Order) -> Option<ReservationStatus> {
        self.course.status_of(order.reservation)
    }
}

#[tokio::test]
async fn a_paid_checkout_confirms_the_seat_and_a_repeated_event_changes_nothing() {
    let shop = shop(1).await;
    let (order, session) = shop.awaiting("s1").await;
    assert_eq!(shop.reservation(&order), Some(ReservationStatus::Held));
    assert_eq!(
        shop.pay_and_notify(&session, "evt_1").await,
        EventApplied::Applied
    );
    let done = shop
        .until(order.id, |o| o.status == Status::Confirmed)
        .await;
    assert_eq!(done.status, Status::Confirmed);
    assert_eq!(
        done.payment.as_ref().expect("payment").status,
        PaymentStatus::Paid
    );
    assert_eq!(shop.reservation(&done), Some(ReservationStatus::Confirmed));
    let again = shop.pay.session(&session).expect("session");
    let repeat = shop
        .workflow
        .payment_arrived("evt_1", &again, "webhook")
        .await;
    assert_eq!(repeat.expect("applied"), EventApplied::Duplicate);
    // Another event about the same payment (async_payment_succeeded after completed).
    let other = shop
        .workflow
        .payment_arrived("evt_2", &again, "webhook")
        .await;
    assert_eq!(other.expect("applied"), EventApplied::Applied);
    let after = shop.order(order.id).await;
    assert_eq!((after.status, shop.pay.refunds()), (Status::Confirmed, 0));
    assert_eq!(shop.course.taken(), 1);
}

#[tokio::test]
async fn a_checkout_never_paid_closes_at_the_hold_end_and_the_seat_goes_back() {
    let shop = shop(1).await;
    let (order, session) = shop.awaiting("s1").await;
    // Before the hold ends a visit only looks.
    shop.clock.advance(TimeDelta::seconds(31));
    shop.workflow.visit(order.id).await;
    assert_eq!(shop.order(order.id).await.status, Status::AwaitingPayment);
    shop.clock.advance(TimeDelta::seconds(300));
    shop.workflow.visit(order.id).await;
    let done = shop.order(order.id).await;
    assert_eq!(
        (done.status, done.failure),
        (Status::Failed, Some(Failure::PaymentNotCompleted))
    );
    assert_eq!(
        done.payment.as_ref().expect("payment").status,
        PaymentStatus::Expired
    );
    assert_eq!(
        shop.pay.session(&session).expect("session").status,
        order_service::payment_client::SessionStatus::Expired
    );
    assert_eq!(shop.reservation(&order), Some(ReservationStatus::Cancelled));
    assert_eq!(shop.course.taken(), 0);
}

#[tokio::test]
async fn no_checkout_means_nothing_stays_held() {
    let shop = shop(1).await;
    shop.pay.fail_creates(10);
    let placed = shop
        .workflow
        .place(&request("s1"), "req")
        .await
        .expect("placed");
    assert_eq!(
        placed.settlement,
        Settlement::Failed {
            failure: Failure::PaymentProviderUnavailable,
            price_cents: None
        }
    );
    assert_eq!(
        shop.reservation(&placed.order),
        Some(ReservationStatus::Cancelled)
    );
    assert_eq!(shop.course.taken(), 0);
    assert_eq!(
        shop.pay.creates(),
        1,
        "one attempt per drive: the client retries inside"
    );
}

#[tokio::test]
async fn cancelling_before_paying_closes_the_checkout_and_after_paying_refunds() {
    let shop = shop(2).await;
    let (unpaid, session) = shop.awaiting("s1").await;
    let cancelled = shop
        .workflow
        .cancel(&StudentId::new("s1"), unpaid.id, "req")
        .await
        .expect("cancelled");
    assert_eq!(cancelled.status, Status::Cancelled);
    assert_eq!(
        shop.pay.session(&session).expect("session").status,
        order_service::payment_client::SessionStatus::Expired
    );
    assert_eq!(
        shop.reservation(&unpaid),
        Some(ReservationStatus::Cancelled)
    );
    assert!(
        shop.pay.pay(&session).is_none(),
        "an expired checkout cannot be paid"
    );

    let (paid, session) = shop.awaiting("s2").await;
    shop.pay_and_notify(&session, "evt_3").await;
    shop.until(paid.id, |o| o.status == Status::Confirmed).await;
    let refunded = shop
        .workflow
        .cancel(&StudentId::new("s2"), paid.id, "req")
        .await
        .expect("refunded");
    assert_eq!(refunded.status, Status::Refunded);
    assert_eq!(
        refunded.payment.as_ref().expect("payment").status,
        PaymentStatus::Refunded
    );
    assert_eq!(shop.reservation(&paid), Some(ReservationStatus::Released));
    assert_eq!((shop.pay.refunds(), shop.course.taken()), (1, 0));
    let again = shop
        .workflow
        .cancel(&StudentId::new("s2"), paid.id, "req")
        .await;
    assert_eq!(again.expect("again").status, Status::Refunded);
    assert_eq!(
        shop.pay.refunds(),
        1,
        "one refund, however often it is asked for"
    );
}

#[tokio::test]
async fn a_payment_found_after_the_hold_lapsed_takes_a_new_seat() {
    let shop = shop(1).await;
    let (order, session) = shop.awaiting("s1").await;
    // The hold lapses at course-service while the student pays; the webhook is lost.
    shop.course.expire(order.reservation);
    shop.pay.pay(&session).expect("paid");
    shop.clock.advance(TimeDelta::seconds(301));
    shop.workflow.visit(order.id).await;
    let done = shop.order(order.id).await;
    assert_eq!(done.status, Status::Confirmed);
    assert_eq!(done.reservation, order.reservation.successor());
    assert_eq!(shop.reservation(&done), Some(ReservationStatus::Confirmed));
    assert_eq!((shop.course.taken(), shop.pay.refunds()), (1, 0));
}

#[tokio::test]
async fn a_payment_with_no_seat_left_is_refunded_as_sold_out() {
    let shop = shop(1).await;
    let (order, session) = shop.awaiting("s1").await;
    shop.course.expire(order.reservation);
    shop.course.set_seats(0);
    shop.pay_and_notify(&session, "evt_4").await;
    let done = shop.until(order.id, |o| o.status == Status::Refunded).await;
    assert_eq!(
        (done.status, done.failure),
        (Status::Refunded, Some(Failure::SoldOut))
    );
    assert_eq!((shop.pay.refunds(), shop.course.taken()), (1, 0));
}

#[tokio::test]
async fn money_for_a_cancelled_order_goes_back() {
    let shop = shop(1).await;
    let (order, session) = shop.awaiting("s1").await;
    // Paid at the provider, and cancelled before anyone here heard of it: the cancellation's
    // expire is refused, so it finds the payment and refunds it.
    shop.pay.pay(&session).expect("paid");
    let cancelled = shop
        .workflow
        .cancel(&StudentId::new("s1"), order.id, "req")
        .await
        .expect("cancelled");
    assert_eq!(cancelled.status, Status::Refunded);
    assert_eq!((shop.pay.refunds(), shop.course.taken()), (1, 0));
    // The webhook, late: nothing more happens.
    let paid = shop.pay.session(&session).expect("session");
    let late = shop
        .workflow
        .payment_arrived("evt_5", &paid, "webhook")
        .await;
    assert_eq!(late.expect("applied"), EventApplied::Applied);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(shop.order(order.id).await.status, Status::Refunded);
    assert_eq!(shop.pay.refunds(), 1);
}
