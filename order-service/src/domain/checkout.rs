//! What the payment provider's answers mean for an order at a payment step: pure decisions, no
//! calls (the saga's other steps are in [`super::saga`]). [`crate::workflow::advance`] makes the
//! call and hands its answer here.
//!
//! The provider is the truth about money: a session the provider reports paid is paid, whatever
//! order-service saved before; one it reports expired can never be paid. So every step that
//! closes a checkout (the hold's end, a cancellation) first makes the provider close it, and reads
//! it when the provider refuses (it was paid meanwhile).

use super::{
    course::CourseError,
    order::{Failure, Payment},
    payment::{PaymentError, Refund, Session, SessionStatus},
    saga::{Decision, Next, Step, failure_for},
};
use chrono::{DateTime, TimeDelta, Utc};
use shared_types::{PaymentStatus, Reservation, ReservationStatus};

/// How long a checkout session is asked to outlive its hold. Stripe takes an `expires_at` 30
/// minutes to 24 hours after it receives the request, so a session cannot end with a short hold;
/// the saga closes it when the hold ends instead (see [`after_wait`]). Asking for the hold's end
/// plus this asks for the same time on every attempt sent while the hold lives: a create re-sent
/// after a restart carries the same parameters under its idempotency key, and the provider
/// answers with the session it made the first time instead of refusing the key.
pub const SESSION_GRACE: TimeDelta = TimeDelta::minutes(31);

/// The `expires_at` to ask for a checkout of a hold ending at `hold_end`.
pub fn session_end(hold_end: DateTime<Utc>) -> DateTime<Utc> {
    hold_end + SESSION_GRACE
}

impl Payment {
    /// A checkout just opened for a hold that ends at `hold_end`.
    pub fn opened(session: &Session, hold_end: DateTime<Utc>) -> Payment {
        Payment {
            session_id: session.id.clone(),
            url: session.url.clone(),
            status: PaymentStatus::Open,
            expires_at: hold_end.min(session.expires_at),
            payment_intent: session.payment_intent.clone(),
            refund_id: None,
        }
    }

    /// This payment as `session` now shows it (paid, expired, or still open). A payment known
    /// refunded stays refunded.
    pub fn seen(&self, session: &Session) -> Payment {
        let status = match self.status {
            PaymentStatus::Refunded => PaymentStatus::Refunded,
            _ if session.is_paid() => PaymentStatus::Paid,
            _ if session.status == SessionStatus::Expired => PaymentStatus::Expired,
            status => status,
        };
        Payment {
            session_id: session.id.clone(),
            url: session.url.clone().or_else(|| self.url.clone()),
            status,
            payment_intent: session
                .payment_intent
                .clone()
                .or_else(|| self.payment_intent.clone()),
            ..self.clone()
        }
    }

    /// A payment learned from the provider for an order that saved none (the checkout opened, and
    /// the process stopped before saving it): it ends when the session does.
    pub fn from_session(session: &Session) -> Payment {
        Payment::opened(session, session.expires_at).seen(session)
    }

    fn refunded(&self, refund: Option<&Refund>) -> Payment {
        Payment {
            status: PaymentStatus::Refunded,
            refund_id: refund
                .map(|r| r.id.clone())
                .or_else(|| self.refund_id.clone()),
            ..self.clone()
        }
    }
}

/// `Checkout`: the session's answer. Without a session (refused, unreachable, unknown) the hold
/// is given back and the order fails: the student was never sent anywhere to pay.
pub fn after_checkout(answer: Result<Session, PaymentError>, hold_end: DateTime<Utc>) -> Next {
    match answer {
        Ok(session) => {
            Next::to(Decision::AwaitPayment).with_payment(Payment::opened(&session, hold_end))
        }
        Err(_) => Next::to(Decision::MoveTo(Step::Abandoning)),
    }
}

/// `AwaitingPayment`: the session as read at `now`. Paid: on to the confirm. Expired, or the
/// hold's end reached: close it. Otherwise look again after `poll`, or at the hold's end.
pub fn after_wait(
    answer: Result<Session, PaymentError>,
    payment: &Payment,
    now: DateTime<Utc>,
    poll: TimeDelta,
) -> Next {
    match answer {
        Ok(session) if session.is_paid() => {
            Next::to(Decision::Paid).with_payment(payment.seen(&session))
        }
        Ok(session) if session.status == SessionStatus::Expired => {
            Next::to(Decision::MoveTo(Step::Expiring)).with_payment(payment.seen(&session))
        }
        _ if now >= payment.expires_at => Next::to(Decision::MoveTo(Step::Expiring)),
        _ => Next::to(Decision::Park((now + poll).min(payment.expires_at))),
    }
}

/// What closing a checkout taught.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closing {
    /// The session is expired: it can never be paid.
    Expired(Payment),
    /// It was paid before it could be closed.
    Paid(Payment),
    /// The provider refused to close it (it is not open): read it, then [`after_close_read`].
    Read,
    /// Nothing could be learned: try again later.
    Unknown,
}

/// The expire call's answer.
pub fn after_expire(answer: Result<Session, PaymentError>, payment: &Payment) -> Closing {
    match answer {
        Ok(session) => after_close_read(Ok(session), payment),
        Err(PaymentError::Refused { .. }) => Closing::Read,
        Err(_) => Closing::Unknown,
    }
}

/// The session as read after the provider refused to close it.
pub fn after_close_read(answer: Result<Session, PaymentError>, payment: &Payment) -> Closing {
    match answer {
        Ok(session) if session.is_paid() => Closing::Paid(payment.seen(&session)),
        Ok(session) if session.status == SessionStatus::Expired => {
            Closing::Expired(payment.seen(&session))
        }
        _ => Closing::Unknown,
    }
}

/// `Expiring`, once the checkout is closed unpaid and the hold cancelled: the order fails.
pub fn expired_unpaid(payment: Payment) -> Next {
    Next::to(Decision::Settle(super::rules::Outcome::Failed(
        Failure::PaymentNotCompleted,
    )))
    .with_payment(payment)
}

/// `Reholding`: the new hold's answer. Held: confirm it. Refused (no seat, another price, the
/// student holds one already): the money goes back, for that reason. Otherwise try again later.
pub fn after_rehold(answer: Result<Reservation, CourseError>) -> Next {
    match answer {
        Ok(r) if r.status == ReservationStatus::Held => Next {
            hold_expires_at: Some(r.expires_at),
            ..Next::to(Decision::MoveTo(Step::Confirming))
        },
        Ok(r) if r.status == ReservationStatus::Confirmed => {
            Next::to(Decision::Settle(super::rules::Outcome::Confirmed))
        }
        Ok(_) => Next::to(Decision::Refund(Some(Failure::SoldOut))),
        Err(CourseError::Refused { code, .. }) => {
            Next::to(Decision::Refund(Some(failure_for(code))))
        }
        Err(_) => Next::to(Decision::Wait),
    }
}

/// `Refunding`: the refund's answer. A payment already refunded counts as refunded.
pub fn after_refund(answer: Result<Refund, PaymentError>, payment: &Payment) -> Next {
    let refunded = |refund: Option<&Refund>| {
        Next::to(Decision::Settle(super::rules::Outcome::Refunded))
            .with_payment(payment.refunded(refund))
    };
    match answer {
        Ok(refund) if refund.status != "failed" && refund.status != "canceled" => {
            refunded(Some(&refund))
        }
        Err(e) if e.is_code("charge_already_refunded") => refunded(None),
        _ => Next::to(Decision::Wait),
    }
}

#[cfg(test)]
mod tests;
