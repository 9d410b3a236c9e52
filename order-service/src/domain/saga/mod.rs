//! The order saga's steps, and what each answer of course-service means for the step an order is
//! at: pure decisions, no calls. [`crate::workflow::advance`] makes the one call a step needs and
//! hands its answer to the decision here (or, for the payment steps, in [`super::checkout`]); the
//! workflow saves the result through the repository.
//!
//! ```text
//! Recorded ──hold──▶ Confirming ──confirm──▶ Settled (confirmed, or failed)
//!    │ outcome unknown   │ outcome unknown
//!    ▼                   ▼
//! FindingOut ──read: held──▶ Confirming (or Checkout, when a payment is due)
//!            ──read: confirmed, expired, cancelled, course gone──▶ Settled
//!            ──read: never reserved──▶ the id is cancelled (a tombstone) ──▶ Settled (failed)
//!
//! Recorded ──hold, price > 0, a provider──▶ Checkout ──session──▶ AwaitingPayment
//!                                               └──no session──▶ Abandoning ──hold cancelled──▶ Settled (failed)
//! AwaitingPayment ──paid──▶ Confirming ──confirm──▶ Settled (confirmed)
//!                                      └──hold gone──▶ Reholding ──new hold──▶ Confirming
//!                                                               └──no seat──▶ Refunding ──▶ Settled (refunded)
//! AwaitingPayment ──the hold's end, or the session expired──▶ Expiring ──session expired,
//!                                                            hold cancelled──▶ Settled (failed)
//! Settled (failed) ──paid late──▶ Reholding       Cancelled ──paid late──▶ Refunding
//!
//! any live step ──the student cancels──▶ Cancelling ──checkout closed, seat given back──▶ Cancelled
//!                                                   └──and it was paid──▶ Refunding ──▶ Settled (refunded)
//! ```
//!
//! Each step's call is idempotent under the order's reservation id (and, with the payment
//! provider, under keys derived from the order), so a driver that picks an order up at its saved
//! step (after a crash, or a lease that lapsed) may repeat the call the previous driver made: the
//! same reservation, session or refund answers.

use super::{
    course::CourseError,
    ids::ReservationId,
    order::{Failure, Payment, Price, Status},
    rules::Outcome,
};
use chrono::{DateTime, Utc};
use shared_types::{ErrorCode, Reservation, ReservationStatus};

/// The step an order's saga is at, saved with the order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Step {
    /// Recorded, the hold is next (it may already be on its way: holding again is safe).
    Recorded,
    /// A hold or a confirm was sent and its outcome is unknown: read the reservation.
    FindingOut,
    /// The seat is held at the locked price: confirm it.
    Confirming,
    /// Confirmed or failed: nothing left to do.
    Settled,
    /// The student asked for the cancellation: give the seat back.
    Cancelling,
    /// Cancelled and the seat is back: nothing left to do.
    Cancelled,
    /// The seat is held and a payment is due: open a checkout session.
    Checkout,
    /// The checkout is open: wait for the payment (a webhook, or a read when the order is due).
    AwaitingPayment,
    /// The hold's time is up (or the session expired) unpaid: close the checkout, cancel the hold.
    Expiring,
    /// No checkout could be opened: cancel the hold.
    Abandoning,
    /// Paid, but the hold is gone: hold a new seat under a new reservation id.
    Reholding,
    /// Money the order holds goes back to the student.
    Refunding,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether this is a step of the saga before it settles (not a cancellation's, not final).
    pub fn is_saga(self) -> bool {
        !matches!(self, Step::Settled | Step::Cancelling | Step::Cancelled)
    }
}

/// What an order does after a step's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go on to this step.
    MoveTo(Step),
    /// The order ends, confirmed or failed.
    Settle(Outcome),
    /// The seat is back: the cancellation is done.
    Cancelled,
    /// Nothing could be learned: stay at this step and try again later.
    Wait,
    /// A checkout is open (its session in [`Next::payment`]): wait for the payment.
    AwaitPayment,
    /// The payment arrived ([`Next::payment`] shows it paid).
    Paid,
    /// Give the money back, for this reason.
    Refund(Option<Failure>),
    /// Nothing to do before this time: the reconciler comes back then (a webhook sooner).
    Park(DateTime<Utc>),
}

/// A decision and what the answer taught besides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    pub decision: Decision,
    /// The price course-service locked for the hold, when the answer showed it.
    pub price: Option<Price>,
    /// The current price a `price_changed` refusal quoted.
    pub quoted_price_cents: Option<i64>,
    /// When the hold ends, when the answer showed a held seat.
    pub hold_expires_at: Option<DateTime<Utc>>,
    /// The checkout as learned now, to save with the move.
    pub payment: Option<Payment>,
    /// The reservation the order uses from now on (a new hold after a late payment).
    pub reservation: Option<ReservationId>,
}

impl Next {
    /// Nothing to do at a final step.
    pub fn nothing() -> Self {
        Next::to(Decision::Wait)
    }

    pub fn to(decision: Decision) -> Self {
        Next {
            decision,
            price: None,
            quoted_price_cents: None,
            hold_expires_at: None,
            payment: None,
            reservation: None,
        }
    }

    /// The same decision, saving `payment` with it.
    pub fn with_payment(mut self, payment: Payment) -> Self {
        self.payment = Some(payment);
        self
    }

    fn with_price_of(mut self, reservation: &Reservation) -> Self {
        self.price = Some(Price {
            cents: reservation.unit_price_cents,
            currency: reservation.currency.clone(),
        });
        if reservation.status == ReservationStatus::Held {
            self.hold_expires_at = Some(reservation.expires_at);
        }
        self
    }
}

/// The failure of an order that course-service refused with `code`.
pub fn failure_for(code: ErrorCode) -> Failure {
    match code {
        ErrorCode::SoldOut => Failure::SoldOut,
        ErrorCode::PriceChanged => Failure::PriceChanged,
        ErrorCode::HoldLimitReached => Failure::HoldLimitReached,
        ErrorCode::CourseNotFound => Failure::CourseNotFound,
        ErrorCode::AlreadyHolding => Failure::AlreadyEnrolled,
        ErrorCode::ReservationExpired => Failure::ReservationExpired,
        ErrorCode::ReservationCancelled => Failure::ReservationCancelled,
        _ => Failure::CourseServiceUnavailable,
    }
}

/// Whether course-service may refuse a hold or a confirm with `code` (any other refusal is a bug
/// somewhere, and fails the order as unavailable).
pub fn expected_refusal(code: ErrorCode) -> bool {
    failure_for(code) != Failure::CourseServiceUnavailable
}

/// How an order ends for a reservation in a final state.
pub fn outcome_of(status: ReservationStatus) -> Outcome {
    match status {
        ReservationStatus::Confirmed => Outcome::Confirmed,
        ReservationStatus::Expired => Outcome::Failed(Failure::ReservationExpired),
        _ => Outcome::Failed(Failure::ReservationCancelled),
    }
}

fn refused(code: ErrorCode, price_cents: Option<i64>) -> Next {
    Next {
        quoted_price_cents: price_cents,
        ..Next::to(Decision::Settle(Outcome::Failed(failure_for(code))))
    }
}

/// What a held seat needs next: a checkout when `collect` (a provider is configured and the
/// order has not paid) and the locked price is above zero, else the confirm.
fn after_held(r: &Reservation, collect: bool) -> Next {
    let step = if collect && r.unit_price_cents > 0 {
        Step::Checkout
    } else {
        Step::Confirming
    };
    Next::to(Decision::MoveTo(step)).with_price_of(r)
}

/// `Recorded`: the hold's answer. A refusal fails the order; a hold that reached no one fails it
/// as unavailable (nothing can be held); an unknown outcome is found out. `collect`: see
/// [`after_held`].
pub fn after_hold(answer: Result<Reservation, CourseError>, collect: bool) -> Next {
    match answer {
        Ok(r) if r.status == ReservationStatus::Held => after_held(&r, collect),
        Ok(r) => Next::to(Decision::Settle(outcome_of(r.status))).with_price_of(&r),
        Err(CourseError::Refused {
            code, price_cents, ..
        }) => refused(code, price_cents),
        Err(CourseError::NotDelivered) => Next::to(Decision::Settle(Outcome::Failed(
            Failure::CourseServiceUnavailable,
        ))),
        Err(CourseError::Unknown(_)) => Next::to(Decision::MoveTo(Step::FindingOut)),
    }
}

/// How an order that `paid` ends for a reservation in a final state: a paid order whose hold
/// lapsed or was cancelled holds a new seat instead of failing.
fn settle_or_rehold(status: ReservationStatus, paid: bool) -> Next {
    match outcome_of(status) {
        Outcome::Failed(_) if paid => Next::to(Decision::MoveTo(Step::Reholding)),
        outcome => Next::to(Decision::Settle(outcome)),
    }
}

/// `Confirming`: the confirm's answer; anything but an answer or a refusal is found out. A paid
/// order whose hold is gone holds a new seat.
pub fn after_confirm(answer: Result<Reservation, CourseError>, paid: bool) -> Next {
    match answer {
        Ok(r) => settle_or_rehold(r.status, paid),
        Err(CourseError::Refused {
            code: ErrorCode::ReservationExpired | ErrorCode::ReservationCancelled,
            ..
        }) if paid => Next::to(Decision::MoveTo(Step::Reholding)),
        Err(CourseError::Refused {
            code, price_cents, ..
        }) if code != ErrorCode::ReservationNotFound => refused(code, price_cents),
        Err(_) => Next::to(Decision::MoveTo(Step::FindingOut)),
    }
}

/// What reading the reservation taught (`FindingOut`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    Decided(Box<Next>),
    /// It was never reserved: cancel the id first, so that a hold still travelling the network
    /// cannot land later, then decide with [`after_tombstone`].
    Tombstone,
}

/// `FindingOut`: the read's answer. `paid`: the order's payment arrived (a held seat is confirmed,
/// a lapsed one held anew); `collect`: see [`after_held`].
pub fn after_read(answer: Result<Reservation, CourseError>, paid: bool, collect: bool) -> Read {
    match answer {
        Ok(r) if r.status == ReservationStatus::Held => {
            Read::Decided(Box::new(after_held(&r, collect && !paid)))
        }
        Ok(r) => Read::Decided(Box::new(settle_or_rehold(r.status, paid).with_price_of(&r))),
        Err(e) if e.is_refusal(ErrorCode::ReservationNotFound) => Read::Tombstone,
        Err(e) if e.is_refusal(ErrorCode::CourseNotFound) => Read::Decided(Box::new(Next::to(
            Decision::Settle(Outcome::Failed(Failure::CourseNotFound)),
        ))),
        Err(_) => Read::Decided(Box::new(Next::to(Decision::Wait))),
    }
}

/// `FindingOut`, after cancelling an id that was never reserved: the tombstone is down, so the
/// order fails as unavailable (it could hold nothing); if a hold landed first, its state decides.
pub fn after_tombstone(answer: Result<Reservation, CourseError>) -> Next {
    match answer {
        Ok(r) if r.status == ReservationStatus::Cancelled => Next::to(Decision::Settle(
            Outcome::Failed(Failure::CourseServiceUnavailable),
        )),
        Ok(r) => Next::to(Decision::Settle(outcome_of(r.status))),
        Err(e) if e.is_refusal(ErrorCode::CourseNotFound) => {
            Next::to(Decision::Settle(Outcome::Failed(Failure::CourseNotFound)))
        }
        Err(_) => Next::to(Decision::Wait),
    }
}

/// How a seat is given back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveBack {
    /// Release a confirmed seat.
    Release,
    /// Cancel a hold (or tombstone an id never reserved).
    Cancel,
}

impl GiveBack {
    /// The first way to try for an order in `status`: a confirmed order's seat is released
    /// directly, any other order's hold is cancelled.
    pub fn first_for(status: Status) -> GiveBack {
        if status == Status::Confirmed {
            GiveBack::Release
        } else {
            GiveBack::Cancel
        }
    }

    pub fn other(self) -> GiveBack {
        match self {
            GiveBack::Release => GiveBack::Cancel,
            GiveBack::Cancel => GiveBack::Release,
        }
    }

    /// Whether `refusal` says the reservation is in the state the other way handles.
    pub fn try_other_after(self, refusal: &CourseError) -> bool {
        refusal.is_refusal(match self {
            GiveBack::Release => ErrorCode::ReservationNotConfirmed,
            GiveBack::Cancel => ErrorCode::ReservationConfirmed,
        })
    }

    /// Whether `refusal` still means no seat is held: the course is gone, or (when cancelling)
    /// the reservation is already cancelled or released (a release whose answer was lost, or a
    /// write reported failed that reached the disk after all).
    pub fn holds_nothing_after(self, refusal: &CourseError) -> bool {
        refusal.is_refusal(ErrorCode::CourseNotFound)
            || (self == GiveBack::Cancel && refusal.is_refusal(ErrorCode::ReservationCancelled))
    }
}

/// `Cancelling`: whether the seat is back.
pub fn after_give_back(answer: Result<(), CourseError>) -> Next {
    match answer {
        Ok(()) => Next::to(Decision::Cancelled),
        Err(_) => Next::to(Decision::Wait),
    }
}

#[cfg(test)]
mod tests;
