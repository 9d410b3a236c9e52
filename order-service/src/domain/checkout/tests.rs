//! The payment decisions' unit tests.

use super::*;
use crate::domain::{payment::SessionPayment, rules::Outcome};

fn session(status: SessionStatus, paid: bool) -> Session {
    let now = Utc::now();
    Session {
        id: "cs_test_1".into(),
        url: (status == SessionStatus::Open).then(|| "https://pay.example/cs_test_1".into()),
        status,
        payment_status: if paid {
            SessionPayment::Paid
        } else {
            SessionPayment::Unpaid
        },
        payment_intent: paid.then(|| "pi_1".into()),
        client_reference_id: Some("order".into()),
        order_id: Some("order".into()),
        amount_total: Some(900),
        currency: Some("usd".into()),
        expires_at: now + TimeDelta::minutes(31),
    }
}

fn open_payment(hold_end: DateTime<Utc>) -> Payment {
    Payment::opened(&session(SessionStatus::Open, false), hold_end)
}

#[test]
fn a_checkout_ends_no_later_than_the_hold() {
    let hold_end = Utc::now() + TimeDelta::minutes(5);
    let next = after_checkout(Ok(session(SessionStatus::Open, false)), hold_end);
    assert_eq!(next.decision, Decision::AwaitPayment);
    let payment = next.payment.expect("payment");
    assert_eq!(payment.expires_at, hold_end);
    assert_eq!(payment.status, PaymentStatus::Open);
    let failed = after_checkout(Err(PaymentError::Unknown("timeout".into())), hold_end);
    assert_eq!(failed.decision, Decision::MoveTo(Step::Abandoning));
}

#[test]
fn waiting_confirms_when_paid_and_closes_at_the_hold_end() {
    let now = Utc::now();
    let payment = open_payment(now + TimeDelta::seconds(60));
    let poll = TimeDelta::seconds(30);
    let paid = after_wait(
        Ok(session(SessionStatus::Complete, true)),
        &payment,
        now,
        poll,
    );
    assert_eq!(paid.decision, Decision::Paid);
    let seen = paid.payment.expect("payment");
    assert_eq!(
        (seen.status, seen.payment_intent.as_deref()),
        (PaymentStatus::Paid, Some("pi_1"))
    );
    let open = after_wait(Ok(session(SessionStatus::Open, false)), &payment, now, poll);
    assert_eq!(open.decision, Decision::Park(now + poll));
    let near_end = now + TimeDelta::seconds(45);
    let open = after_wait(
        Ok(session(SessionStatus::Open, false)),
        &payment,
        near_end,
        poll,
    );
    assert_eq!(open.decision, Decision::Park(payment.expires_at));
    let over = now + TimeDelta::seconds(61);
    let unknown = Err(PaymentError::NotDelivered);
    assert_eq!(
        after_wait(unknown, &payment, over, poll).decision,
        Decision::MoveTo(Step::Expiring)
    );
    let expired = after_wait(
        Ok(session(SessionStatus::Expired, false)),
        &payment,
        now,
        poll,
    );
    assert_eq!(expired.decision, Decision::MoveTo(Step::Expiring));
}

#[test]
fn closing_a_checkout_that_was_paid_meanwhile_finds_the_money() {
    let payment = open_payment(Utc::now());
    let refused = Err(PaymentError::Refused {
        status: 400,
        kind: "invalid_request_error".into(),
        code: None,
        message: "not open".into(),
    });
    assert_eq!(after_expire(refused, &payment), Closing::Read);
    let Closing::Paid(paid) =
        after_close_read(Ok(session(SessionStatus::Complete, true)), &payment)
    else {
        panic!("paid");
    };
    assert_eq!(paid.status, PaymentStatus::Paid);
    let Closing::Expired(expired) =
        after_expire(Ok(session(SessionStatus::Expired, false)), &payment)
    else {
        panic!("expired");
    };
    assert_eq!(expired.status, PaymentStatus::Expired);
    assert_eq!(
        after_expire(Err(PaymentError::Unknown("t".into())), &payment),
        Closing::Unknown
    );
}

#[test]
fn a_new_hold_confirms_or_refunds_for_its_reason() {
    let refusal = |code| CourseError::Refused {
        status: 409,
        code,
        price_cents: None,
    };
    assert_eq!(
        after_rehold(Err(refusal(shared_types::ErrorCode::SoldOut))).decision,
        Decision::Refund(Some(Failure::SoldOut))
    );
    assert_eq!(
        after_rehold(Err(CourseError::Unknown("t".into()))).decision,
        Decision::Wait
    );
}

#[test]
fn a_refund_already_made_counts_as_made() {
    let payment = Payment {
        status: PaymentStatus::Paid,
        ..open_payment(Utc::now())
    };
    let again = Err(PaymentError::Refused {
        status: 400,
        kind: "invalid_request_error".into(),
        code: Some("charge_already_refunded".into()),
        message: "already refunded".into(),
    });
    let next = after_refund(again, &payment);
    assert_eq!(next.decision, Decision::Settle(Outcome::Refunded));
    assert_eq!(
        next.payment.expect("payment").status,
        PaymentStatus::Refunded
    );
    assert_eq!(
        after_refund(Err(PaymentError::NotDelivered), &payment).decision,
        Decision::Wait
    );
    let made = Refund {
        id: "re_1".into(),
        payment_intent: Some("pi_1".into()),
        amount: 900,
        status: "succeeded".into(),
    };
    let next = after_refund(Ok(made), &payment);
    assert_eq!(
        next.payment.expect("payment").refund_id.as_deref(),
        Some("re_1")
    );
}
