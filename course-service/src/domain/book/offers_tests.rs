//! Unit tests of the waitlist rules on one ledger: who gets freed seats and when, offers that
//! lapse, joining and leaving, and what the feed is told.

use super::{BookError, CourseBook, HoldRequest, LedgerEvent};
use crate::domain::{
    CourseId, NewCourse, ReservationId, Status,
    course::{CourseDetails, Currency},
    feed::{self, EventType},
    waitlist::EntryStatus,
};
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;

const TTL: i64 = 300;
const OFFER: i64 = 3600;

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
    let mut b = CourseBook::new(CourseId::new_v7(), course, t(0));
    b.set_offer_lifetime(TimeDelta::seconds(OFFER));
    b
}

fn student(name: &str) -> Arc<str> {
    Arc::from(name)
}

/// A sold-out course of `seats` seats (held by b0, b1, ...) with `waiting` students (w0, w1, ...)
/// on its waitlist; returns the buyers' reservation ids.
fn sold_out(seats: u32, waiting: u32) -> (CourseBook, Vec<ReservationId>) {
    let mut b = book(seats);
    let ids: Vec<ReservationId> = (0..seats)
        .map(|i| {
            let id = ReservationId::new_v7();
            let ask = HoldRequest {
                student: student(&format!("b{i}")),
                expected_price_cents: None,
            };
            b.hold(id, &ask, t(0), t(TTL)).expect("held");
            id
        })
        .collect();
    for i in 0..waiting {
        let (entry, created) = b
            .join_waitlist(&student(&format!("w{i}")), t(1))
            .expect("joined");
        assert!(created);
        assert_eq!(b.waitlist().position(entry.id), Some(i + 1));
    }
    b.offer_freed_seats(t(1));
    b.take_events();
    (b, ids)
}

/// Who holds an offer now, in join order.
fn offered(b: &CourseBook) -> Vec<String> {
    let mut entries: Vec<_> = b
        .waitlist()
        .entries()
        .filter(|e| e.status == EntryStatus::Offered)
        .collect();
    entries.sort_by_key(|e| e.joined);
    entries.iter().map(|e| e.student.to_string()).collect()
}

fn waiting(b: &CourseBook) -> Vec<(String, u32)> {
    let mut entries: Vec<_> = b
        .waitlist()
        .entries()
        .filter(|e| e.status == EntryStatus::Waiting)
        .collect();
    entries.sort_by_key(|e| e.joined);
    entries
        .iter()
        .map(|e| (e.student.to_string(), b.waitlist().position(e.id).unwrap()))
        .collect()
}

fn names(prefix: &str, range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn freeing_k_seats_with_n_waiting_offers_min_k_n_holds_in_join_order() {
    for (k, n) in [(1, 3), (3, 3), (4, 2), (5, 0), (2, 7)] {
        let (mut b, ids) = sold_out(5, n);
        for id in &ids[..k as usize] {
            b.cancel(*id, t(10)).expect("cancelled");
        }
        let made = b.offer_freed_seats(t(10));
        let given = k.min(n);
        assert_eq!(made, given, "k={k} n={n}");
        assert_eq!(offered(&b), names("w", 0..given));
        let rest: Vec<(String, u32)> = names("w", given..n).into_iter().zip(1..).collect();
        assert_eq!(waiting(&b), rest);
        let s = b.snapshot();
        assert_eq!(s.seats_available(), k - given);
        assert_eq!(s.seats_held, 5 - k + given);
        assert_eq!(s.waitlist_length, n - given);
        b.check_invariants().expect("invariants");
    }
}

#[test]
fn an_offer_is_a_hold_of_its_own_lifetime_that_lapses_to_the_next_student() {
    let (mut b, ids) = sold_out(1, 2);
    b.cancel(ids[0], t(10)).expect("cancelled");
    b.offer_freed_seats(t(10));
    let first = b.waitlist().open_of("w0").cloned().expect("w0's entry");
    let hold = first.reservation.expect("offered a hold");
    let r = b.reservation(hold, t(10)).expect("the offer");
    assert_eq!(r.status, Status::Held);
    assert_eq!(r.expires_at, t(10 + OFFER));
    assert_eq!(r.expected_price_cents, None);
    // Not yet: a hold's usual lifetime passing changes nothing.
    assert!(!b.expire(hold, t(10 + TTL)));
    // It lapses: the seat passes to w1 in the same step.
    assert!(b.expire(hold, t(10 + OFFER)));
    assert_eq!(b.offer_freed_seats(t(10 + OFFER)), 1);
    assert_eq!(
        b.waitlist().get(first.id).map(|e| e.status),
        Some(EntryStatus::Lapsed)
    );
    assert_eq!(offered(&b), vec!["w1".to_owned()]);
    b.check_invariants().expect("invariants");
}

#[test]
fn a_confirmed_offer_enrols_the_student() {
    let (mut b, ids) = sold_out(1, 1);
    b.release_after_confirm(ids[0]);
    b.offer_freed_seats(t(20));
    let entry = b.waitlist().open_of("w0").cloned().expect("offered");
    b.confirm(entry.reservation.unwrap(), t(30))
        .expect("confirmed");
    assert_eq!(
        b.waitlist().get(entry.id).map(|e| e.status),
        Some(EntryStatus::Enrolled)
    );
    assert_eq!(b.snapshot().seats_sold, 1);
    b.check_invariants().expect("invariants");
}

impl CourseBook {
    /// Confirms and releases a buyer's hold (a refund): its seat comes back.
    fn release_after_confirm(&mut self, id: ReservationId) {
        self.confirm(id, t(5)).expect("confirmed");
        self.release(id, t(6)).expect("released");
    }
}

#[test]
fn capacity_raised_by_3_with_5_waiting_enrols_exactly_the_first_3() {
    let (mut b, _) = sold_out(2, 5);
    b.set_seats_total("alice", 5, t(10)).expect("resized");
    assert_eq!(b.offer_freed_seats(t(10)), 3);
    assert_eq!(offered(&b), names("w", 0..3));
    assert_eq!(
        waiting(&b),
        vec![("w3".to_owned(), 1), ("w4".to_owned(), 2)]
    );
    for name in names("w", 0..3) {
        let hold = b.waitlist().open_of(&name).unwrap().reservation.unwrap();
        b.confirm(hold, t(11)).expect("confirmed");
    }
    let enrolled = b
        .waitlist()
        .entries()
        .filter(|e| e.status == EntryStatus::Enrolled)
        .count();
    assert_eq!(enrolled, 3);
    let s = b.snapshot();
    assert_eq!((s.seats_available(), s.seats_held, s.seats_sold), (0, 2, 3));
    b.check_invariants().expect("invariants");
}

#[test]
fn a_buyer_never_takes_a_seat_a_student_waits_for() {
    let (mut b, ids) = sold_out(1, 1);
    // The buyer's own lapsed hold frees the seat on the way into the call; it is still not theirs.
    let late = HoldRequest {
        student: student("b0"),
        expected_price_cents: None,
    };
    let again = b.hold(ReservationId::new_v7(), &late, t(TTL), t(2 * TTL));
    assert_eq!(again.unwrap_err(), BookError::SoldOut);
    assert_eq!(b.offer_freed_seats(t(TTL)), 1);
    assert_eq!(offered(&b), vec!["w0".to_owned()]);
    assert_eq!(
        b.reservation(ids[0], t(TTL)).unwrap().status,
        Status::Expired
    );
    b.check_invariants().expect("invariants");
}

#[test]
fn joining_is_refused_while_seats_are_free_or_the_student_has_one() {
    let mut b = book(2);
    assert_eq!(
        b.join_waitlist(&student("s"), t(0)).unwrap_err(),
        BookError::SeatsAvailable
    );
    let (mut b, _) = sold_out(1, 0);
    assert_eq!(
        b.join_waitlist(&student("b0"), t(1)).unwrap_err(),
        BookError::AlreadyEnrolled
    );
    let (first, created) = b.join_waitlist(&student("s"), t(2)).unwrap();
    assert!(created);
    let (again, created) = b.join_waitlist(&student("s"), t(3)).unwrap();
    assert!(!created);
    assert_eq!(again, first);
}

#[test]
fn leaving_takes_the_entry_off_and_an_offered_seat_passes_on() {
    let (mut b, ids) = sold_out(1, 3);
    let w1 = b.waitlist().open_of("w1").unwrap().id;
    let left = b.leave_waitlist(w1, "w1", t(5)).expect("left");
    assert_eq!(left.status, EntryStatus::Left);
    assert_eq!(waiting(&b), vec![("w0".into(), 1), ("w2".into(), 2)]);
    // Someone else's entry reads as absent.
    let w0 = b.waitlist().open_of("w0").unwrap().id;
    assert_eq!(
        b.leave_waitlist(w0, "w2", t(5)).unwrap_err(),
        BookError::EntryNotFound
    );
    b.cancel(ids[0], t(6)).unwrap();
    b.offer_freed_seats(t(6));
    assert_eq!(offered(&b), vec!["w0".to_owned()]);
    // w0 gives the offer up: the seat goes to w2 once the ledger hands freed seats on.
    let left = b.leave_waitlist(w0, "w0", t(7)).unwrap();
    assert_eq!(left.status, EntryStatus::Left);
    b.offer_freed_seats(t(7));
    assert_eq!(offered(&b), vec!["w2".to_owned()]);
    // Leaving again answers the entry as it stands.
    assert_eq!(b.leave_waitlist(w0, "w0", t(8)).unwrap(), left);
    b.check_invariants().expect("invariants");
}

#[test]
fn the_feed_tells_offers_and_the_waitlist_length() {
    let (mut b, ids) = sold_out(1, 2);
    b.cancel(ids[0], t(10)).unwrap();
    b.offer_freed_seats(t(10));
    let events = b.take_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, LedgerEvent::Held { offer: true, .. }))
    );
    let told = feed::describe(&b.snapshot(), &events, t(10));
    let kinds: Vec<EventType> = told.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, vec![EventType::Cancelled, EventType::Offered]);
    let cancelled = told[0].course;
    assert_eq!(
        (
            cancelled.seats_available,
            cancelled.seats_held,
            cancelled.waitlist_length
        ),
        (1, 0, 2)
    );
    let offer = told[1].course;
    assert_eq!(
        (
            offer.seats_available,
            offer.seats_held,
            offer.waitlist_length
        ),
        (0, 1, 1)
    );
    assert_eq!(told[1].student_id.as_deref(), Some("w0"));
    // Joining is a course update carrying the new length.
    b.join_waitlist(&student("w9"), t(11)).unwrap();
    let told = feed::describe(&b.snapshot(), &b.take_events(), t(11));
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].kind, EventType::CourseUpdated);
    assert_eq!(told[0].course.waitlist_length, 2);
}

#[test]
fn a_ledger_restored_from_its_records_keeps_the_queue() {
    let (mut b, ids) = sold_out(2, 3);
    b.cancel(ids[0], t(10)).unwrap();
    b.offer_freed_seats(t(10));
    let reservations: Vec<_> = ids
        .iter()
        .chain(
            b.waitlist()
                .entries()
                .filter_map(|e| e.reservation.as_ref()),
        )
        .map(|id| (*id, b.stored(*id).unwrap().clone()))
        .collect();
    let entries: Vec<_> = b.waitlist().entries().cloned().collect();
    let back = CourseBook::restore(b.snapshot(), reservations, entries).expect("restored");
    back.check_invariants().expect("invariants");
    assert_eq!(offered(&back), offered(&b));
    assert_eq!(waiting(&back), waiting(&b));
    assert_eq!(back.snapshot(), b.snapshot());
}
