//! The saga module's unit tests.
use super::*;
use chrono::Utc;
use uuid::Uuid;

fn reservation(status: ReservationStatus) -> Reservation {
    let now = Utc::now();
    Reservation {
        id: Uuid::now_v7(),
        course_id: Uuid::now_v7(),
        student_id: Some("s1".into()),
        unit_price_cents: 700,
        currency: "EUR".into(),
        status,
        expires_at: now,
        created_at: now,
        updated_at: now,
    }
}

fn refusal(code: ErrorCode) -> CourseError {
    CourseError::Refused {
        status: 409,
        code,
        price_cents: Some(900),
    }
}

#[test]
fn a_held_seat_is_confirmed_next_at_its_locked_price() {
    let next = after_hold(Ok(reservation(ReservationStatus::Held)), false);
    assert_eq!(next.decision, Decision::MoveTo(Step::Confirming));
    assert_eq!(
        next.price,
        Some(Price {
            cents: 700,
            currency: "EUR".into()
        })
    );
}

#[test]
fn refusals_fail_the_order_with_their_code_and_quote() {
    let next = after_hold(Err(refusal(ErrorCode::PriceChanged)), false);
    assert_eq!(
        next.decision,
        Decision::Settle(Outcome::Failed(Failure::PriceChanged))
    );
    assert_eq!(next.quoted_price_cents, Some(900));
    assert_eq!(
        after_hold(Err(refusal(ErrorCode::AlreadyHolding)), false).decision,
        Decision::Settle(Outcome::Failed(Failure::AlreadyEnrolled))
    );
    assert_eq!(
        after_hold(Err(refusal(ErrorCode::ValidationFailed)), false).decision,
        Decision::Settle(Outcome::Failed(Failure::CourseServiceUnavailable))
    );
    assert!(!expected_refusal(ErrorCode::ValidationFailed));
}

#[test]
fn unknown_outcomes_are_found_out_and_undelivered_holds_fail() {
    assert_eq!(
        after_hold(Err(CourseError::Unknown("t".into())), false).decision,
        Decision::MoveTo(Step::FindingOut)
    );
    assert_eq!(
        after_hold(Err(CourseError::NotDelivered), false).decision,
        Decision::Settle(Outcome::Failed(Failure::CourseServiceUnavailable))
    );
    assert_eq!(
        after_confirm(Err(refusal(ErrorCode::ReservationNotFound)), false).decision,
        Decision::MoveTo(Step::FindingOut)
    );
    assert_eq!(
        after_confirm(Err(refusal(ErrorCode::ReservationExpired)), false).decision,
        Decision::Settle(Outcome::Failed(Failure::ReservationExpired))
    );
}

#[test]
fn a_read_decides_or_asks_for_a_tombstone() {
    assert_eq!(
        after_read(Err(refusal(ErrorCode::ReservationNotFound)), false, false),
        Read::Tombstone
    );
    assert_eq!(
        after_read(Err(CourseError::NotDelivered), false, false),
        Read::Decided(Box::new(Next::to(Decision::Wait)))
    );
    let Read::Decided(next) = after_read(Ok(reservation(ReservationStatus::Expired)), false, false)
    else {
        panic!("decided");
    };
    assert_eq!(
        next.decision,
        Decision::Settle(Outcome::Failed(Failure::ReservationExpired))
    );
    assert_eq!(
        after_tombstone(Ok(reservation(ReservationStatus::Cancelled))).decision,
        Decision::Settle(Outcome::Failed(Failure::CourseServiceUnavailable))
    );
    assert_eq!(
        after_tombstone(Err(CourseError::Unknown("t".into()))).decision,
        Decision::Wait
    );
}

#[test]
fn a_seat_is_given_back_the_way_its_state_needs() {
    assert_eq!(GiveBack::first_for(Status::Confirmed), GiveBack::Release);
    assert_eq!(GiveBack::first_for(Status::Pending), GiveBack::Cancel);
    assert!(GiveBack::Cancel.try_other_after(&refusal(ErrorCode::ReservationConfirmed)));
    assert!(GiveBack::Release.try_other_after(&refusal(ErrorCode::ReservationNotConfirmed)));
    assert!(GiveBack::Cancel.holds_nothing_after(&refusal(ErrorCode::ReservationCancelled)));
    assert!(!GiveBack::Release.holds_nothing_after(&refusal(ErrorCode::ReservationCancelled)));
    assert!(GiveBack::Release.holds_nothing_after(&refusal(ErrorCode::CourseNotFound)));
}
