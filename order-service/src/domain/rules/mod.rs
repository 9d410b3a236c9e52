//! The order rule book: which changes an order's status and step may take, which orders have work
//! left (and so are worked on under a lease), which hold the student's one live order of a course,
//! when a lease has lapsed, and what step an order recorded before steps were kept is at. Pure
//! functions of values; no locks, no I/O, no time of their own.
//!
//! Every backend calls these: the embedded store applies them under its entry locks, and
//! PostgreSQL's conditional updates are built from [`sources`] (the states a change applies to) and
//! [`Target`] (what it writes). Where SQL keeps a predicate of its own for an index (the live and
//! work predicates), the repository contract suite checks it against these functions.
//!
//! # Status and step
//! ```text
//! pending          recorded, finding_out, checkout, abandoning, confirming, reholding, cancelling
//! awaiting_payment awaiting_payment, expiring, cancelling
//! confirmed        settled, cancelling
//! failed           settled, refunding
//! cancelled        cancelled, refunding
//! refunded         settled
//! ```
//! The saga moves an order through its steps and settles it from the step it is at; a move
//! applies only if the order is still at the step the mover started from, so two drivers of one
//! order (a saga that outlived its lease and the reconciler) cannot both move it. A cancellation
//! asked for takes the order over: it moves it to `cancelling` from any live step, after which the
//! saga's moves and settlements no longer apply, and only the cancellation finishes it (or hands
//! the money, if any was taken, to `refunding`). A payment that arrives moves an order that waited
//! for it to `confirming`, and one that came too late (the order failed or was cancelled) to a new
//! hold (`reholding`) or to `refunding`: money is never kept without a seat.

use super::{
    order::{Failure, Status},
    saga::Step,
};
use chrono::{DateTime, Utc};
use strum::IntoEnumIterator;

/// An order's status and step: what the rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct State {
    pub status: Status,
    pub step: Step,
}

/// How a saga ends an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Confirmed,
    Failed(Failure),
    /// The money went back (the failure, if any, stays).
    Refunded,
}

/// A change to an order's status and step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The saga moves a pending order from one of its steps to the next.
    Advance { from: Step, to: Step },
    /// The saga ends a pending order at the step it is at.
    Settle { from: Step, outcome: Outcome },
    /// The student asked for the cancellation.
    RequestCancel,
    /// The seat is back: the cancellation is done.
    FinishCancel,
    /// A checkout was opened for the held seat: the order waits for the payment.
    AwaitPayment,
    /// The payment of an order in state `from` arrived (see [`after_paid`]).
    Paid { from: State },
    /// Money the order holds goes back, from state `from` (see [`refund_from`]); `failure`, if
    /// given, says why.
    Refund {
        from: State,
        failure: Option<Failure>,
    },
}

const fn at(status: Status, step: Step) -> State {
    State { status, step }
}

/// Where a payment that arrived takes an order in `state`: one waiting for it is confirmed; a
/// failed one (the hold lapsed first) tries for a new seat; a cancelled one gives the money back.
/// `None`: the payment changes nothing (it was known already, or the order is being cancelled,
/// which refunds what it finds paid).
pub fn after_paid(state: State) -> Option<State> {
    use {Status as S, Step as T};
    match (state.status, state.step) {
        (S::Pending, T::Checkout)
        | (S::AwaitingPayment, T::AwaitingPayment)
        | (S::AwaitingPayment, T::Expiring) => Some(at(S::Pending, T::Confirming)),
        (S::Failed, T::Settled) => Some(at(S::Pending, T::Reholding)),
        (S::Cancelled, T::Cancelled) => Some(at(S::Cancelled, T::Refunding)),
        _ => None,
    }
}

/// Where giving the money back takes an order in `state`: a new hold that found no seat fails;
/// a failed order whose late payment could not take a seat (its student has another live order)
/// stays failed; a cancellation of a paid order ends cancelled, then refunded.
pub fn refund_from(state: State) -> Option<State> {
    use {Status as S, Step as T};
    match (state.status, state.step) {
        (S::Pending, T::Reholding) | (S::Failed, T::Settled) => Some(at(S::Failed, T::Refunding)),
        (_, T::Cancelling) => Some(at(S::Cancelled, T::Refunding)),
        _ => None,
    }
}

/// Whether `transition` applies to an order in `state`.
pub fn allows(state: State, transition: Transition) -> bool {
    let saga_at = |from: Step| state.step == from && from.is_saga();
    match transition {
        Transition::Advance { from, to } => {
            saga_at(from)
                && to.is_saga()
                && from != to
                && reachable(State {
                    status: state.status,
                    step: to,
                })
        }
        Transition::Settle { from, outcome } => {
            saga_at(from)
                && match outcome {
                    Outcome::Confirmed => state.status == Status::Pending,
                    Outcome::Failed(_) => {
                        matches!(state.status, Status::Pending | Status::AwaitingPayment)
                            && from != Step::Reholding
                    }
                    Outcome::Refunded => from == Step::Refunding,
                }
        }
        Transition::RequestCancel => is_live(state.status) && state.step != Step::Cancelled,
        Transition::FinishCancel => state.step == Step::Cancelling,
        Transition::AwaitPayment => state == at(Status::Pending, Step::Checkout),
        Transition::Paid { from } => state == from && after_paid(from).is_some(),
        Transition::Refund { from, .. } => state == from && refund_from(from).is_some(),
    }
}

/// What a transition writes: the status (`None`: unchanged), the step, and the failure (`None`:
/// unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub status: Option<Status>,
    pub step: Step,
    pub failure: Option<Option<Failure>>,
}

pub fn target(transition: Transition) -> Target {
    let to = |state: State, failure: Option<Option<Failure>>| Target {
        status: Some(state.status),
        step: state.step,
        failure,
    };
    match transition {
        Transition::Advance { to, .. } => Target {
            status: None,
            step: to,
            failure: None,
        },
        Transition::Settle { outcome, .. } => {
            let (status, failure) = match outcome {
                Outcome::Confirmed => (Status::Confirmed, Some(None)),
                Outcome::Failed(failure) => (Status::Failed, Some(Some(failure))),
                Outcome::Refunded => (Status::Refunded, None),
            };
            Target {
                status: Some(status),
                step: Step::Settled,
                failure,
            }
        }
        Transition::RequestCancel => Target {
            status: None,
            step: Step::Cancelling,
            failure: None,
        },
        Transition::FinishCancel => to(at(Status::Cancelled, Step::Cancelled), None),
        Transition::AwaitPayment => to(at(Status::AwaitingPayment, Step::AwaitingPayment), None),
        Transition::Paid { from } => {
            let next = after_paid(from).unwrap_or(from);
            // A failed order trying again for a seat is no longer failed.
            let failure = (next.status == Status::Pending).then_some(None);
            to(next, failure)
        }
        Transition::Refund { from, failure } => {
            to(refund_from(from).unwrap_or(from), failure.map(Some))
        }
    }
}

/// The order's state and failure after `transition`, or `None` when the rules refuse it.
pub fn apply(
    state: State,
    failure: Option<Failure>,
    transition: Transition,
) -> Option<(State, Option<Failure>)> {
    if !allows(state, transition) {
        return None;
    }
    let target = target(transition);
    let next = State {
        status: target.status.unwrap_or(state.status),
        step: target.step,
    };
    Some((next, target.failure.unwrap_or(failure)))
}

/// Every status and step combination an order can be in.
pub fn states() -> impl Iterator<Item = State> {
    Status::iter().flat_map(|status| {
        Step::iter()
            .map(move |step| State { status, step })
            .filter(|s| reachable(*s))
    })
}

/// Whether an order can ever be in `state` (the table in the module docs).
pub fn reachable(state: State) -> bool {
    use {Status as S, Step as T};
    match state.status {
        S::Pending => !matches!(
            state.step,
            T::AwaitingPayment | T::Expiring | T::Settled | T::Cancelled | T::Refunding
        ),
        S::AwaitingPayment => {
            matches!(state.step, T::AwaitingPayment | T::Expiring | T::Cancelling)
        }
        S::Confirmed => matches!(state.step, T::Settled | T::Cancelling),
        S::Failed => matches!(state.step, T::Settled | T::Refunding),
        S::Cancelled => matches!(state.step, T::Cancelled | T::Refunding),
        S::Refunded => state.step == T::Settled,
    }
}

/// The states `transition` applies to (for a conditional update in SQL).
pub fn sources(transition: Transition) -> Vec<State> {
    states().filter(|s| allows(*s, transition)).collect()
}

/// Whether the order is the student's one live order of its course: a second order of the same
/// student and course is refused while this holds.
pub fn is_live(status: Status) -> bool {
    matches!(
        status,
        Status::Pending | Status::AwaitingPayment | Status::Confirmed
    )
}

/// Whether the order has work left (its saga is not settled, its cancellation not finished, or
/// its money not given back).
/// Only such orders are leased, listed for the reconciler and counted in its backlog.
pub fn has_work(state: State) -> bool {
    step_has_work(state.step)
}

/// Whether an order at `step` has work left (see [`has_work`]).
pub fn step_has_work(step: Step) -> bool {
    !matches!(step, Step::Settled | Step::Cancelled)
}

/// Whether a lease held until `until` (`None`: never taken or given back) is free at `now`: a
/// lease that is never given back (its holder stopped) lapses.
pub fn lease_free(until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    until.is_none_or(|until| until < now)
}

/// The step of an order recorded before steps were kept: a pending one may have got anywhere, so
/// its next driver finds out; a cancellation asked for and not finished goes on.
pub fn legacy_step(status: Status, cancel_requested: bool) -> Step {
    match status {
        Status::Cancelled => Step::Cancelled,
        status if cancel_requested && is_live(status) => Step::Cancelling,
        Status::Pending => Step::FindingOut,
        Status::AwaitingPayment => Step::AwaitingPayment,
        Status::Confirmed | Status::Failed | Status::Refunded => Step::Settled,
    }
}

#[cfg(test)]
mod tests;
