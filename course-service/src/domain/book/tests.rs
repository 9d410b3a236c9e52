//! Unit tests of one course's ledger: every reserve outcome, tombstones, lazy expiry and capacity.

use super::{BookError, CourseBook, HoldRequest};
use crate::domain::{
    CourseId, NewCourse, ReservationId, Status, TransitionError,
    course::{CourseDetails, Currency},
};
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;

const TTL: i64 = 300;

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(1_700_000_000 + secs)
}

fn book(seats: u32) -> CourseBook {
    let course = NewCourse {
        details: CourseDetails {
            title: Arc::from("Rust"),
            description: None,
            instructor_id: Arc::from("alice"),
            currency: Currency::USD,
        },
        price_cents: 1000,
        seats,
    };
    CourseBook::new(CourseId::new_v7(), course, t(0))
}

fn ask(student: &str) -> HoldRequest {
    HoldRequest {
        student: Arc::from(student),
        expected_price_cents: None,
    }
}

fn hold(
    book: &mut CourseBook,
    id: ReservationId,
    student: &str,
    at: i64,
) -> Result<Status, BookError> {
    book.hold(id, &ask(student), t(at), t(at + TTL))
        .map(|h| h.reservation.status)
}

fn counts(book: &CourseBook) -> (u32, u32, u32) {
    let s = book.snapshot();
    (s.seats_available(), s.seats_held, s.seats_sold)
}

#[test]
fn a_hold_takes_a_seat_at_the_current_price() {
    let mut b = book(2);
    let held = b
        .hold(ReservationId::new_v7(), &ask("s1"), t(0), t(TTL))
        .expect("held");
    assert!(held.created);
    assert_eq!(held.reservation.unit_price_cents, 1000);
    assert_eq!(held.reservation.expires_at, t(TTL));
    assert_eq!(counts(&b), (1, 1, 0));
    b.check_invariants().expect("invariants");
}

#[test]
fn the_same_id_and_body_replays_whatever_the_status_now() {
    let mut b = book(2);
    let id = ReservationId::new_v7();
    hold(&mut b, id, "s1", 0).expect("held");
    let again = b.hold(id, &ask("s1"), t(1), t(1 + TTL)).expect("replay");
    assert!(!again.created);
    assert_eq!(
        again.reservation.expires_at,
        t(TTL),
        "the replay does not extend the hold"
    );
    b.confirm(id, t(2)).expect("confirmed");
    assert_eq!(hold(&mut b, id, "s1", 3), Ok(Status::Confirmed));
    assert_eq!(counts(&b), (1, 0, 1));
}

#[test]
fn the_same_id_with_another_body_conflicts() {
    let mut b = book(2);
    let id = ReservationId::new_v7();
    hold(&mut b, id, "s1", 0).expect("held");
    assert_eq!(
        hold(&mut b, id, "s2", 1),
        Err(BookError::IdempotencyConflict)
    );
    let other_price = HoldRequest {
        student: Arc::from("s1"),
        expected_price_cents: Some(1000),
    };
    assert_eq!(
        b.hold(id, &other_price, t(1), t(TTL)).map(|_| ()),
        Err(BookError::IdempotencyConflict)
    );
    assert_eq!(counts(&b), (1, 1, 0));
}

#[test]
fn the_last_seat_goes_once_then_sold_out() {
    let mut b = book(1);
    hold(&mut b, ReservationId::new_v7(), "s1", 0).expect("held");
    assert_eq!(
        hold(&mut b, ReservationId::new_v7(), "s2", 0),
        Err(BookError::SoldOut)
    );
    assert_eq!(counts(&b), (0, 1, 0));
}

#[test]
fn a_changed_price_is_refused_with_the_current_one() {
    let mut b = book(1);
    b.set_price("alice", 1500, t(0)).expect("owner");
    let request = HoldRequest {
        student: Arc::from("s1"),
        expected_price_cents: Some(1000),
    };
    let refused = b
        .hold(ReservationId::new_v7(), &request, t(0), t(TTL))
        .map(|_| ());
    assert_eq!(refused, Err(BookError::PriceChanged { price_cents: 1500 }));
    assert_eq!(counts(&b), (1, 0, 0));
}

#[test]
fn a_student_holds_or_owns_at_most_one_seat() {
    let mut b = book(5);
    let first = ReservationId::new_v7();
    hold(&mut b, first, "s1", 0).expect("held");
    assert_eq!(
        hold(&mut b, ReservationId::new_v7(), "s1", 1),
        Err(BookError::AlreadyHolding)
    );
    b.confirm(first, t(2)).expect("confirmed");
    assert_eq!(
        hold(&mut b, ReservationId::new_v7(), "s1", 3),
        Err(BookError::AlreadyHolding)
    );
    b.release(first, t(4)).expect("released");
    assert_eq!(
        hold(&mut b, ReservationId::new_v7(), "s1", 5),
        Ok(Status::Held),
        "after a release the student may buy again"
    );
    b.check_invariants().expect("invariants");
}

#[test]
fn a_students_lapsed_hold_does_not_block_a_new_one() {
    let mut b = book(1);
    let first = ReservationId::new_v7();
    hold(&mut b, first, "s1", 0).expect("held");
    assert_eq!(
        hold(&mut b, ReservationId::new_v7(), "s1", TTL),
        Ok(Status::Held)
    );
    assert_eq!(
        b.reservation(first, t(TTL)).map(|r| r.status),
        Ok(Status::Expired)
    );
    assert_eq!(counts(&b), (0, 1, 0));
    b.check_invariants().expect("invariants");
}

#[test]
fn cancelling_an_unknown_id_leaves_a_tombstone_that_blocks_a_late_hold() {
    let mut b = book(1);
    let id = ReservationId::new_v7();
    let tombstone = b.cancel(id, t(0)).expect("recorded");
    assert_eq!(tombstone.status, Status::Cancelled);
    assert!(tombstone.student.is_none());
    assert_eq!(
        hold(&mut b, id, "s1", 1),
        Err(BookError::CancelledBeforeReserved)
    );
    assert_eq!(counts(&b), (1, 0, 0));
    assert_eq!(b.cancel(id, t(2)).map(|r| r.status), Ok(Status::Cancelled));
}

#[test]
fn cancel_returns_the_seat_and_refuses_a_sale() {
    let mut b = book(2);
    let (a, c) = (ReservationId::new_v7(), ReservationId::new_v7());
    hold(&mut b, a, "s1", 0).expect("held");
    hold(&mut b, c, "s2", 0).expect("held");
    b.confirm(c, t(1)).expect("confirmed");
    assert_eq!(b.cancel(a, t(2)).map(|r| r.status), Ok(Status::Cancelled));
    assert_eq!(
        b.cancel(c, t(2)).map(|_| ()),
        Err(BookError::Transition(TransitionError::Confirmed))
    );
    assert_eq!(counts(&b), (1, 0, 1));
}

#[test]
fn confirm_after_the_deadline_expires_the_hold_on_the_spot() {
    let mut b = book(1);
    let id = ReservationId::new_v7();
    hold(&mut b, id, "s1", 0).expect("held");
    assert_eq!(
        b.confirm(id, t(TTL)).map(|_| ()),
        Err(BookError::Transition(TransitionError::Expired))
    );
    assert_eq!(counts(&b), (1, 0, 0), "the seat is back without a sweep");
    assert_eq!(
        b.confirm(id, t(TTL + 1)).map(|_| ()),
        Err(BookError::Transition(TransitionError::Expired))
    );
    assert_eq!(
        b.cancel(id, t(TTL + 2)).map(|r| r.status),
        Ok(Status::Expired),
        "cancel leaves it expired"
    );
}

#[test]
fn expire_frees_only_lapsed_holds() {
    let mut b = book(3);
    let (early, late, sold) = (
        ReservationId::new_v7(),
        ReservationId::new_v7(),
        ReservationId::new_v7(),
    );
    hold(&mut b, early, "s1", 0).expect("held");
    hold(&mut b, late, "s2", 100).expect("held");
    hold(&mut b, sold, "s3", 0).expect("held");
    b.confirm(sold, t(1)).expect("confirmed");
    assert!(b.expire(early, t(TTL)));
    assert!(!b.expire(late, t(TTL)));
    assert!(!b.expire(sold, t(TTL)));
    assert!(!b.expire(early, t(TTL)), "a second expiry changes nothing");
    assert_eq!(counts(&b), (1, 1, 1));
    b.check_invariants().expect("invariants");
}

#[test]
fn operations_on_unknown_ids_are_not_found() {
    let mut b = book(1);
    let id = ReservationId::new_v7();
    assert_eq!(
        b.confirm(id, t(0)).map(|_| ()),
        Err(BookError::ReservationNotFound)
    );
    assert_eq!(
        b.release(id, t(0)).map(|_| ()),
        Err(BookError::ReservationNotFound)
    );
    assert_eq!(
        b.reservation(id, t(0)).map(|_| ()),
        Err(BookError::ReservationNotFound)
    );
}

#[test]
fn capacity_cannot_drop_below_held_plus_sold() {
    let mut b = book(3);
    let (a, c) = (ReservationId::new_v7(), ReservationId::new_v7());
    hold(&mut b, a, "s1", 0).expect("held");
    hold(&mut b, c, "s2", 0).expect("held");
    b.confirm(c, t(1)).expect("confirmed");
    assert_eq!(
        b.set_seats_total("alice", 1, t(2)).map(|_| ()),
        Err(BookError::SeatsBelowCommitted { committed: 2 })
    );
    let s = b
        .set_seats_total("alice", 2, t(2))
        .expect("exactly committed");
    assert_eq!(s.seats_available(), 0);
    let s = b.set_seats_total("alice", 10, t(3)).expect("grow");
    assert_eq!(s.seats_available(), 8);
}

#[test]
fn only_the_owner_changes_price_and_capacity() {
    let mut b = book(3);
    assert_eq!(
        b.set_price("bob", 1, t(0)).map(|_| ()),
        Err(BookError::NotOwner)
    );
    assert_eq!(
        b.set_seats_total("bob", 9, t(0)).map(|_| ()),
        Err(BookError::NotOwner)
    );
    let s = b.snapshot();
    assert_eq!(
        (s.price_cents, s.seats_total, s.updated_at),
        (1000, 3, t(0))
    );
}

#[test]
fn holds_keep_their_locked_price_after_a_price_change() {
    let mut b = book(2);
    let id = ReservationId::new_v7();
    hold(&mut b, id, "s1", 0).expect("held");
    b.set_price("alice", 2000, t(1)).expect("owner");
    let confirmed = b.confirm(id, t(2)).expect("confirmed");
    assert_eq!(confirmed.unit_price_cents, 1000);
}

#[test]
fn sales_count_confirmed_seats_at_the_price_each_was_held_at() {
    let mut b = book(5);
    let (a, c, d) = (
        ReservationId::new_v7(),
        ReservationId::new_v7(),
        ReservationId::new_v7(),
    );
    hold(&mut b, a, "s1", 0).expect("held");
    b.confirm(a, t(1)).expect("confirmed");
    b.set_price("alice", 1500, t(2)).expect("owner");
    hold(&mut b, c, "s2", 3).expect("held");
    b.confirm(c, t(4)).expect("confirmed");
    hold(&mut b, d, "s3", 5).expect("held at 1500, not confirmed");
    let sales = b.sales();
    assert_eq!((sales.seats_sold, sales.revenue_cents), (2, 2500));
    assert_eq!(&*sales.instructor_id, "alice");
    assert_eq!(sales.clone().for_owner("bob"), Err(BookError::NotOwner));
    assert!(sales.for_owner("alice").is_ok());
    // A sold seat given back (a refund, an order cancelled) no longer counts.
    b.release(a, t(6)).expect("released");
    assert_eq!((b.sales().seats_sold, b.sales().revenue_cents), (1, 1500));
}
