//! The reservation state machine.
//!
//! ```text
//! held ──confirm──▶ confirmed ──release──▶ released
//!   │ ──cancel───▶ cancelled
//!   └ ──lapse────▶ expired
//! ```
//! A hold lapses at `expires_at`: from that instant it can only become `expired`, whether or not a
//! sweep has run. Repeating a transition that already happened is not an error (retries are
//! safe); every other move out of a final state is. Each transition reports its [`SeatEffect`] so
//! the ledger can move exactly one seat between its counters.

use super::course::Currency;
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub use shared_types::ReservationStatus as Status;

/// How a transition moves one seat between the course's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatEffect {
    /// Nothing moves (a repeated transition).
    None,
    /// A held seat is sold.
    HeldToSold,
    /// A held seat becomes available again (cancel or expiry).
    HeldToAvailable,
    /// A sold seat becomes available again (release).
    SoldToAvailable,
}

/// A transition that the current status forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the hold expired")]
    Expired,
    #[error("the reservation was cancelled")]
    Cancelled,
    #[error("the reservation was released")]
    Released,
    #[error("the reservation is confirmed; release it instead")]
    Confirmed,
    #[error("the reservation is not confirmed")]
    NotConfirmed,
}

/// One reservation. `student` is `None` for a tombstone: an id cancelled before it was reserved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub student: Option<Arc<str>>,
    pub unit_price_cents: i64,
    pub currency: Currency,
    /// The `expected_price_cents` of the creating request, kept to recognise a replay.
    pub expected_price_cents: Option<i64>,
    pub status: Status,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Reservation {
    /// A new hold at `price`, lapsing at `expires_at`.
    pub fn hold(
        student: Arc<str>,
        (unit_price_cents, currency): (i64, Currency),
        expected_price_cents: Option<i64>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Reservation {
            student: Some(student),
            unit_price_cents,
            currency,
            expected_price_cents,
            status: Status::Held,
            expires_at,
            created_at: now,
            updated_at: now,
        }
    }

    /// A cancelled id that was never reserved, so a late reserve of it cannot take a seat. It is
    /// kept until `keep_until`, long after any retry of the reserve call could still arrive.
    pub fn tombstone(
        (unit_price_cents, currency): (i64, Currency),
        now: DateTime<Utc>,
        keep_until: DateTime<Utc>,
    ) -> Self {
        Reservation {
            student: None,
            unit_price_cents,
            currency,
            expected_price_cents: None,
            status: Status::Cancelled,
            expires_at: keep_until,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn is_tombstone(&self) -> bool {
        self.student.is_none()
    }

    /// Whether this reservation occupies a seat (held or sold).
    pub fn is_live(&self) -> bool {
        matches!(self.status, Status::Held | Status::Confirmed)
    }

    /// Whether a hold's time is up at `now`.
    pub fn is_lapsed(&self, now: DateTime<Utc>) -> bool {
        self.status == Status::Held && now >= self.expires_at
    }

    /// `held` past its deadline becomes `expired`; anything else is unchanged.
    pub fn expire(&mut self, now: DateTime<Utc>) -> SeatEffect {
        if self.is_lapsed(now) {
            self.move_to(Status::Expired, now);
            SeatEffect::HeldToAvailable
        } else {
            SeatEffect::None
        }
    }

    /// `held` (in time) becomes `confirmed`.
    pub fn confirm(&mut self, now: DateTime<Utc>) -> Result<SeatEffect, TransitionError> {
        if self.is_lapsed(now) {
            return Err(TransitionError::Expired);
        }
        match self.status {
            Status::Held => {
                self.move_to(Status::Confirmed, now);
                Ok(SeatEffect::HeldToSold)
            }
            Status::Confirmed => Ok(SeatEffect::None),
            Status::Expired => Err(TransitionError::Expired),
            Status::Cancelled => Err(TransitionError::Cancelled),
            Status::Released => Err(TransitionError::Released),
        }
    }

    /// `held` becomes `cancelled`; a reservation that holds no seat any more stays as it is.
    pub fn cancel(&mut self, now: DateTime<Utc>) -> Result<SeatEffect, TransitionError> {
        match self.status {
            Status::Held if self.is_lapsed(now) => Ok(SeatEffect::None),
            Status::Held => {
                self.move_to(Status::Cancelled, now);
                Ok(SeatEffect::HeldToAvailable)
            }
            Status::Confirmed => Err(TransitionError::Confirmed),
            Status::Cancelled | Status::Expired | Status::Released => Ok(SeatEffect::None),
        }
    }

    /// `confirmed` becomes `released`: the sold seat is given back.
    pub fn release(&mut self, now: DateTime<Utc>) -> Result<SeatEffect, TransitionError> {
        match self.status {
            Status::Confirmed => {
                self.move_to(Status::Released, now);
                Ok(SeatEffect::SoldToAvailable)
            }
            Status::Released => Ok(SeatEffect::None),
            Status::Held | Status::Cancelled | Status::Expired => {
                Err(TransitionError::NotConfirmed)
            }
        }
    }

    fn move_to(&mut self, status: Status, now: DateTime<Utc>) {
        self.status = status;
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(1_700_000_000 + secs)
    }

    fn held() -> Reservation {
        Reservation::hold(Arc::from("s1"), (1000, Currency::USD), None, t(0), t(300))
    }

    fn in_status(status: Status) -> Reservation {
        let mut r = held();
        r.status = status;
        r
    }

    #[test]
    fn a_hold_confirms_within_its_time() {
        let mut r = held();
        assert_eq!(r.confirm(t(299)), Ok(SeatEffect::HeldToSold));
        assert_eq!(r.status, Status::Confirmed);
        assert_eq!(r.updated_at, t(299));
    }

    #[test]
    fn a_lapsed_hold_cannot_be_confirmed_even_before_a_sweep() {
        let mut r = held();
        assert_eq!(r.confirm(t(300)), Err(TransitionError::Expired));
        assert_eq!(
            r.status,
            Status::Held,
            "confirm does not move it; expire does"
        );
        assert_eq!(r.expire(t(300)), SeatEffect::HeldToAvailable);
        assert_eq!(r.status, Status::Expired);
    }

    #[test]
    fn confirming_twice_is_a_no_op() {
        let mut r = in_status(Status::Confirmed);
        assert_eq!(r.confirm(t(1000)), Ok(SeatEffect::None));
        assert_eq!(r.status, Status::Confirmed);
    }

    #[test]
    fn confirm_refuses_every_final_state() {
        assert_eq!(
            in_status(Status::Expired).confirm(t(1)),
            Err(TransitionError::Expired)
        );
        assert_eq!(
            in_status(Status::Cancelled).confirm(t(1)),
            Err(TransitionError::Cancelled)
        );
        assert_eq!(
            in_status(Status::Released).confirm(t(1)),
            Err(TransitionError::Released)
        );
    }

    #[test]
    fn a_hold_cancels_and_cancelling_again_is_a_no_op() {
        let mut r = held();
        assert_eq!(r.cancel(t(10)), Ok(SeatEffect::HeldToAvailable));
        assert_eq!(r.status, Status::Cancelled);
        assert_eq!(r.cancel(t(11)), Ok(SeatEffect::None));
    }

    #[test]
    fn cancel_leaves_seatless_states_alone_and_refuses_a_sale() {
        for status in [Status::Expired, Status::Released] {
            let mut r = in_status(status);
            assert_eq!(r.cancel(t(1)), Ok(SeatEffect::None));
            assert_eq!(r.status, status);
        }
        let mut sold = in_status(Status::Confirmed);
        assert_eq!(sold.cancel(t(1)), Err(TransitionError::Confirmed));
        assert_eq!(sold.status, Status::Confirmed);
    }

    #[test]
    fn cancelling_a_lapsed_hold_does_not_move_a_seat_twice() {
        let mut r = held();
        assert_eq!(r.cancel(t(300)), Ok(SeatEffect::None));
        assert_eq!(
            r.status,
            Status::Held,
            "the lapse is the expiry's to record"
        );
    }

    #[test]
    fn a_sale_releases_once() {
        let mut r = in_status(Status::Confirmed);
        assert_eq!(r.release(t(5)), Ok(SeatEffect::SoldToAvailable));
        assert_eq!(r.status, Status::Released);
        assert_eq!(r.release(t(6)), Ok(SeatEffect::None));
    }

    #[test]
    fn release_refuses_anything_not_sold() {
        for status in [Status::Held, Status::Cancelled, Status::Expired] {
            let mut r = in_status(status);
            assert_eq!(r.release(t(1)), Err(TransitionError::NotConfirmed));
            assert_eq!(r.status, status);
        }
    }

    #[test]
    fn expire_touches_only_lapsed_holds() {
        let mut early = held();
        assert_eq!(early.expire(t(299)), SeatEffect::None);
        assert_eq!(early.status, Status::Held);
        for status in [
            Status::Confirmed,
            Status::Cancelled,
            Status::Expired,
            Status::Released,
        ] {
            let mut r = in_status(status);
            assert_eq!(r.expire(t(10_000)), SeatEffect::None);
            assert_eq!(r.status, status);
        }
    }

    #[test]
    fn a_tombstone_is_cancelled_and_holds_no_seat() {
        let r = Reservation::tombstone((500, Currency::USD), t(0), t(3600));
        assert!(r.is_tombstone());
        assert_eq!(r.status, Status::Cancelled);
        assert!(!r.is_live());
    }
}
