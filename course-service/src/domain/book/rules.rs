//! The rules of a reserve call that every backend applies alike: which refusal wins, and what a
//! repeated reservation id is answered with. Pure functions of what the backend read.

use super::{BookError, Held, HoldRequest};
use crate::domain::Reservation;

/// The first of a new hold's own rules: the price the caller expected, if it named one.
///
/// Every backend decides a reserve call in this order: an unknown course, an id already used
/// ([`replay`]), the student's hold limit across courses (a store-wide count), the expected price
/// (here), then [`check_seat`]. A backend learns the student's live reservation only after the
/// price passed, so a refusal for the price never expires anything on the way.
pub fn check_price(request: &HoldRequest, price_cents: i64) -> Result<(), BookError> {
    match request.expected_price_cents {
        Some(expected) if expected != price_cents => Err(BookError::PriceChanged { price_cents }),
        _ => Ok(()),
    }
}

/// The last of a new hold's rules: the student holds or bought no seat of this course (a lapsed
/// hold does not count), and a seat is free.
pub fn check_seat(student_live: bool, seats_available: u32) -> Result<(), BookError> {
    if student_live {
        Err(BookError::AlreadyHolding)
    } else if seats_available == 0 {
        Err(BookError::SoldOut)
    } else {
        Ok(())
    }
}

/// The seats a buyer may take: free seats no waiting student is owed. Freed seats go to the
/// waitlist first, so a buyer racing a waiting student never gets one.
pub fn seats_for_buyers(seats_available: u32, waiting: u32) -> u32 {
    seats_available.saturating_sub(waiting)
}

/// The answer to a reserve call for an id already used: the stored reservation for the same
/// student and body (whatever its status now), a conflict for a different body, a refusal for an
/// id cancelled before it was reserved. Every backend answers a repeated id with this.
pub fn replay(existing: &Reservation, request: &HoldRequest) -> Result<Held, BookError> {
    if existing.is_tombstone() {
        return Err(BookError::CancelledBeforeReserved);
    }
    let same_body = existing.student.as_deref() == Some(&*request.student)
        && existing.expected_price_cents == request.expected_price_cents;
    if same_body {
        Ok(Held {
            reservation: existing.clone(),
            created: false,
        })
    } else {
        Err(BookError::IdempotencyConflict)
    }
}
