//! The feed follower against the fake course-service's feed: every offer becomes exactly one
//! order named by its reservation (confirmed at once without payments, awaiting a checkout that
//! ends with the hold with them), whatever is told twice; a restart reads on from the stored
//! cursor and misses nothing told meanwhile; a forgotten cursor reads again from the oldest event
//! kept; and of two replicas on one database one follows.

use crate::{
    app::{Options, TestApp, eventually},
    fake::{FakeCourseClient, Op, Step, unknown},
    fake_feed::OFFER_SECS,
};
use chrono::{TimeDelta, Utc};
use order_service::course_client::CourseError;
use order_service::domain::{Order, Status};
use reqwest::Method;
use serde_json::json;
use shared_types::PaymentStatus;
use std::sync::Arc;

/// The order of `student` once `done` holds for it (there must be exactly one).
async fn order_of(app: &TestApp, student: &str, done: impl Fn(&Order) -> bool) -> Order {
    let what = format!("the order of {student}");
    eventually(&what, || async {
        let orders = app.orders_of(student).await;
        assert!(orders.len() <= 1, "{student} has {} orders", orders.len());
        orders.into_iter().find(|o| done(o))
    })
    .await
}

/// The value of the metric sample `sample` (name and labels as printed), or 0 when not printed.
async fn metric(app: &TestApp, sample: &str) -> f64 {
    let text = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Gives `s0`'s seat back through its order, so the seat is offered to the first student waiting.
async fn free_the_seat_of_s0(app: &TestApp) {
    let bought = app.orders_of("s0").await;
    let cancelled = app.cancel("s0", &json!(bought[0].id.to_string())).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
}

/// The cursor of the feed's last event, once the follower reads on from it (its batch handled
/// and the cursor stored).
async fn caught_up(app: &TestApp) -> String {
    eventually("the follower caught up", || async {
        let last = app.course.last_cursor();
        (app.course.feed_reads().last() == Some(&last)).then_some(last)
    })
    .await
    .expect("events")
}

#[tokio::test]
async fn a_freed_seat_becomes_one_confirmed_order_of_the_first_student_waiting() {
    let app = TestApp::spawn(Arc::new(FakeCourseClient::with_seats(1))).await;
    assert_eq!(app.buy("s0").await.status, 201);
    app.join("s1").await;
    app.join("s2").await;
    free_the_seat_of_s0(&app).await;
    let order = order_of(&app, "s1", |o| o.status == Status::Confirmed).await;
    let offers = app.course.events_of("reservation.offered");
    assert_eq!(offers.len(), 1);
    let reservation = offers[0].reservation_id.expect("reservation");
    assert_eq!(
        order.id.as_uuid(),
        reservation,
        "the order is named by the offer"
    );
    assert_eq!(order.reservation.as_uuid(), reservation);
    assert_eq!(order.course, app.course.course_id());
    assert_eq!(order.expected_price_cents, None);
    assert_eq!(order.price.as_ref().map(|p| p.cents), Some(1000));
    let entries = app.entries("s1").await.body;
    assert_eq!(entries["items"][0]["status"], "enrolled");
    assert_eq!(entries["items"][0]["order_id"], json!(reservation));
    assert_eq!(app.entries("s2").await.body["items"][0]["position"], 1);
    assert!(app.orders_of("s2").await.is_empty());
    caught_up(&app).await;
    let new = r#"order_waitlist_offers_taken_total{outcome="new"}"#;
    assert_eq!(metric(&app, new).await, 1.0);
    // s0's hold and confirm, its release and the offer, the offer's confirm: each read once.
    let read = metric(&app, "order_feed_events_read_total").await;
    assert_eq!((read, app.course.event_count()), (5.0, 5));
    assert_eq!(metric(&app, "order_feed_lag_seconds").await, 0.0);
}

#[tokio::test]
async fn a_feed_that_fails_is_read_again_after_a_pause_and_nothing_is_lost() {
    let course = Arc::new(FakeCourseClient::with_seats(1));
    let failures = [
        Step::Fail(CourseError::NotDelivered),
        Step::Fail(unknown()),
        Step::Fail(CourseError::Refused {
            status: 403,
            code: shared_types::ErrorCode::Forbidden,
            price_cents: None,
        }),
    ];
    course.script(Op::Events, failures);
    let started = std::time::Instant::now();
    let app = TestApp::spawn(course).await;
    app.buy("s0").await;
    app.join("s1").await;
    free_the_seat_of_s0(&app).await;
    order_of(&app, "s1", |o| o.status == Status::Confirmed).await;
    // Three failed reads, each followed by a pause of 100, 200 and 400 ms.
    assert!(app.course.calls(Op::Events) >= 4);
    assert!(started.elapsed() >= std::time::Duration::from_millis(700));
    assert_eq!(
        app.course.feed_reads().first(),
        Some(&None),
        "from the oldest event"
    );
}

#[tokio::test]
async fn an_offer_told_again_makes_no_second_order() {
    let app = TestApp::spawn(Arc::new(FakeCourseClient::with_seats(2))).await;
    app.buy("s0").await;
    app.buy("s9").await;
    app.join("s1").await;
    app.join("s2").await;
    app.course.set_seats(4);
    let first = order_of(&app, "s1", |o| o.status == Status::Confirmed).await;
    let second = order_of(&app, "s2", |o| o.status == Status::Confirmed).await;
    caught_up(&app).await;
    app.course.redeliver_offers();
    caught_up(&app).await;
    let duplicate = r#"order_waitlist_offers_taken_total{outcome="duplicate"}"#;
    assert_eq!(metric(&app, duplicate).await, 2.0);
    assert_eq!(app.orders_of("s1").await, vec![first]);
    assert_eq!(app.orders_of("s2").await, vec![second]);
    assert_eq!(app.course.taken(), 4);
}

#[tokio::test]
async fn a_restart_reads_on_from_the_stored_cursor_and_misses_no_offer_told_meanwhile() {
    let app = TestApp::spawn(Arc::new(FakeCourseClient::with_seats(1))).await;
    app.buy("s0").await;
    app.join("s1").await;
    app.join("s2").await;
    free_the_seat_of_s0(&app).await;
    let first = order_of(&app, "s1", |o| o.status == Status::Confirmed).await;
    let stored = caught_up(&app).await;
    let reads_before = app.course.feed_reads().len();
    let app = app
        .restart_after(|course| {
            // While the service is down, a seat is added: it is offered to s2.
            course.set_seats(2);
        })
        .await;
    let second = order_of(&app, "s2", |o| o.status == Status::Confirmed).await;
    let reads = app.course.feed_reads();
    let after_restart = &reads[reads_before..];
    assert_eq!(after_restart.first(), Some(&Some(stored)), "{reads:?}");
    assert!(
        after_restart.iter().all(Option::is_some),
        "never from the start again: {reads:?}"
    );
    assert_eq!(app.orders_of("s1").await, vec![first]);
    let offers = app.course.events_of("reservation.offered");
    assert_eq!(Some(second.id.as_uuid()), offers[1].reservation_id);
}

#[tokio::test]
async fn a_cursor_whose_events_were_forgotten_reads_again_from_the_oldest_event_kept() {
    let app = TestApp::spawn(Arc::new(FakeCourseClient::with_seats(1))).await;
    app.buy("s0").await;
    app.join("s1").await;
    app.join("s2").await;
    app.join("s3").await;
    free_the_seat_of_s0(&app).await;
    order_of(&app, "s1", |o| o.status == Status::Confirmed).await;
    let stored = caught_up(&app).await;
    let app = app
        .restart_after(|course| {
            // While down: s2 is offered a seat, and that event is forgotten; then s3 is offered one.
            course.set_seats(2);
            course.forget_events();
            course.set_seats(3);
        })
        .await;
    let third = order_of(&app, "s3", |o| o.status == Status::Confirmed).await;
    let reads = app.course.feed_reads();
    let expired = reads
        .iter()
        .rposition(|r| r.as_ref() == Some(&stored))
        .expect("read");
    assert_eq!(
        reads.get(expired + 1),
        Some(&None),
        "then from the oldest kept: {reads:?}"
    );
    assert!(
        app.orders_of("s2").await.is_empty(),
        "its offer was never told"
    );
    assert_eq!(third.course, app.course.course_id());
}

#[tokio::test]
async fn with_payments_an_offer_awaits_its_payment_with_a_checkout_ending_with_the_hold() {
    let options = Options {
        payments: true,
        ..Options::default()
    };
    let app = TestApp::spawn_with(Arc::new(FakeCourseClient::with_seats(1)), options).await;
    let bought = app.buy("s0").await;
    assert_eq!(bought.body["status"], "awaiting_payment");
    app.join("s1").await;
    free_the_seat_of_s0(&app).await;
    let order = order_of(&app, "s1", |o| o.status == Status::AwaitingPayment).await;
    let payment = order.payment.clone().expect("a checkout");
    assert_eq!(payment.status, PaymentStatus::Open);
    assert!(payment.url.is_some());
    let hold_end = order.hold_expires_at.expect("the hold's end");
    let offered_for = hold_end - Utc::now();
    assert!(
        offered_for > TimeDelta::seconds(OFFER_SECS - 60)
            && offered_for <= TimeDelta::seconds(OFFER_SECS),
        "the offer's hold: {offered_for}"
    );
    assert!(
        payment.expires_at <= hold_end,
        "the checkout ends no later than the hold"
    );
    let wire = app
        .student(
            "s1",
            Method::GET,
            &format!("/api/orders/{}", order.id),
            None,
        )
        .await;
    assert_eq!(wire.body["status"], "awaiting_payment");
    assert!(wire.body["payment"]["checkout_url"].is_string());
    assert_eq!(app.payments.as_ref().expect("payments").creates(), 2);
}

#[tokio::test]
async fn with_payments_an_offer_of_a_free_course_is_confirmed_without_a_checkout() {
    let options = Options {
        payments: true,
        ..Options::default()
    };
    let course = Arc::new(FakeCourseClient::with_seats(1));
    course.set_price(0);
    let app = TestApp::spawn_with(course, options).await;
    assert_eq!(app.buy("s0").await.body["status"], "confirmed");
    app.join("s1").await;
    free_the_seat_of_s0(&app).await;
    let order = order_of(&app, "s1", |o| o.status == Status::Confirmed).await;
    assert_eq!(order.payment, None);
    assert_eq!(app.payments.as_ref().expect("payments").creates(), 0);
}

#[tokio::test]
async fn of_two_replicas_on_one_database_one_follows_and_each_offer_makes_one_order() {
    if !storage_kit::postgres::testing_postgres() {
        return; // One embedded store cannot be shared by two processes.
    }
    let app = TestApp::spawn(Arc::new(FakeCourseClient::with_seats(1))).await;
    let replica = app.replica().await;
    app.buy("s0").await;
    for student in ["s1", "s2", "s3"] {
        app.join(student).await;
    }
    app.course.set_seats(4);
    for student in ["s1", "s2", "s3"] {
        order_of(&app, student, |o| o.status == Status::Confirmed).await;
    }
    caught_up(&app).await;
    let read = [
        metric(&app, "order_feed_events_read_total").await,
        metric(&replica, "order_feed_events_read_total").await,
    ];
    assert!(
        read.contains(&0.0) && read.iter().any(|n| *n > 0.0),
        "{read:?}"
    );
    let new = r#"order_waitlist_offers_taken_total{outcome="new"}"#;
    let taken = metric(&app, new).await + metric(&replica, new).await;
    assert_eq!(taken, 3.0);
}
