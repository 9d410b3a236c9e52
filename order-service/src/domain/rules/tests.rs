//! The rules module's unit tests.
use super::*;

fn all_transitions() -> Vec<Transition> {
    let mut all = vec![
        Transition::RequestCancel,
        Transition::FinishCancel,
        Transition::AwaitPayment,
    ];
    for from in Step::iter() {
        for to in Step::iter() {
            all.push(Transition::Advance { from, to });
        }
        for outcome in [
            Outcome::Confirmed,
            Outcome::Failed(Failure::SoldOut),
            Outcome::Refunded,
        ] {
            all.push(Transition::Settle { from, outcome });
        }
    }
    for from in states() {
        all.push(Transition::Paid { from });
        all.push(Transition::Refund {
            from,
            failure: Some(Failure::SoldOut),
        });
    }
    all
}

#[test]
fn every_allowed_transition_leads_to_a_reachable_state() {
    for state in states() {
        for t in all_transitions() {
            if let Some((next, _)) = apply(state, None, t) {
                assert!(reachable(next), "{state:?} --{t:?}--> {next:?}");
            }
        }
    }
}

#[test]
fn final_orders_accept_only_a_cancellation_or_a_payment_that_came_late() {
    for state in states().filter(|s| !has_work(*s)) {
        for t in all_transitions() {
            let expected = match t {
                Transition::RequestCancel => state.status == Status::Confirmed,
                Transition::Paid { from } => {
                    from == state && matches!(state.status, Status::Failed | Status::Cancelled)
                }
                Transition::Refund { from, .. } => from == state && state.status == Status::Failed,
                _ => false,
            };
            assert_eq!(allows(state, t), expected, "{state:?} {t:?}");
        }
    }
}

#[test]
fn a_cancellation_takes_the_order_over_from_the_saga() {
    let cancelling = at(Status::Pending, Step::Cancelling);
    for t in all_transitions() {
        let expected = matches!(t, Transition::RequestCancel | Transition::FinishCancel)
            || matches!(t, Transition::Refund { from, .. } if from == cancelling);
        assert_eq!(allows(cancelling, t), expected, "{t:?}");
    }
    let (done, failure) = apply(cancelling, None, Transition::FinishCancel).expect("finish");
    assert_eq!(done, at(Status::Cancelled, Step::Cancelled));
    assert_eq!(failure, None);
}

#[test]
fn a_move_applies_only_from_the_step_its_driver_started_at() {
    let here = at(Status::Pending, Step::Confirming);
    let moved = Transition::Advance {
        from: Step::Recorded,
        to: Step::FindingOut,
    };
    assert!(!allows(here, moved));
    let settle = Transition::Settle {
        from: Step::Confirming,
        outcome: Outcome::Failed(Failure::ReservationExpired),
    };
    let (next, failure) = apply(here, None, settle).expect("settled");
    assert_eq!(next, at(Status::Failed, Step::Settled));
    assert_eq!(failure, Some(Failure::ReservationExpired));
}

#[test]
fn a_payment_confirms_a_waiting_order_and_a_late_one_finds_a_seat_or_goes_back() {
    let waiting = at(Status::AwaitingPayment, Step::AwaitingPayment);
    let paid = apply(waiting, None, Transition::Paid { from: waiting });
    assert_eq!(paid, Some((at(Status::Pending, Step::Confirming), None)));
    let lapsed = at(Status::Failed, Step::Settled);
    let late = apply(
        lapsed,
        Some(Failure::PaymentNotCompleted),
        Transition::Paid { from: lapsed },
    );
    assert_eq!(late, Some((at(Status::Pending, Step::Reholding), None)));
    // No seat for it: the money goes back and the order fails, sold out.
    let reholding = at(Status::Pending, Step::Reholding);
    let back = Transition::Refund {
        from: reholding,
        failure: Some(Failure::SoldOut),
    };
    let (refunding, failure) = apply(reholding, None, back).expect("refund");
    assert_eq!(refunding, at(Status::Failed, Step::Refunding));
    let refunded = Transition::Settle {
        from: Step::Refunding,
        outcome: Outcome::Refunded,
    };
    assert_eq!(
        apply(refunding, failure, refunded),
        Some((at(Status::Refunded, Step::Settled), Some(Failure::SoldOut)))
    );
    // A new hold never just fails: it refunds.
    let fail = Transition::Settle {
        from: Step::Reholding,
        outcome: Outcome::Failed(Failure::SoldOut),
    };
    assert!(!allows(reholding, fail));
    // A payment for a cancelled order is refunded; a known one changes nothing.
    let cancelled = at(Status::Cancelled, Step::Cancelled);
    assert_eq!(
        after_paid(cancelled),
        Some(at(Status::Cancelled, Step::Refunding))
    );
    assert_eq!(after_paid(at(Status::Confirmed, Step::Settled)), None);
    assert_eq!(after_paid(at(Status::Refunded, Step::Settled)), None);
}

#[test]
fn work_live_and_leases() {
    for state in states() {
        assert_eq!(
            has_work(state),
            !matches!(state.step, Step::Settled | Step::Cancelled)
        );
    }
    assert!(is_live(Status::Pending) && is_live(Status::Confirmed));
    assert!(is_live(Status::AwaitingPayment));
    assert!(!is_live(Status::Failed) && !is_live(Status::Cancelled));
    assert!(!is_live(Status::Refunded));
    let now = Utc::now();
    assert!(lease_free(None, now));
    assert!(lease_free(Some(now - chrono::TimeDelta::seconds(1)), now));
    assert!(!lease_free(Some(now), now));
}

#[test]
fn orders_from_before_steps_resume_where_they_can() {
    assert_eq!(legacy_step(Status::Pending, false), Step::FindingOut);
    assert_eq!(legacy_step(Status::Pending, true), Step::Cancelling);
    assert_eq!(legacy_step(Status::Confirmed, true), Step::Cancelling);
    assert_eq!(legacy_step(Status::Confirmed, false), Step::Settled);
    assert_eq!(legacy_step(Status::Failed, true), Step::Settled);
    assert_eq!(legacy_step(Status::Cancelled, true), Step::Cancelled);
    for status in Status::iter() {
        for cancel in [false, true] {
            let state = State {
                status,
                step: legacy_step(status, cancel),
            };
            assert!(reachable(state), "{state:?}");
        }
    }
}
