//! `FakePayments`: a payment provider in memory with Stripe's rules for sessions (one per
//! idempotency key, expire only while open, paid only while open) and refunds (one per payment),
//! plus scripted failures.

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use order_service::payment_client::{
    CheckoutRequest, PaymentClient, PaymentError, Refund, Session, SessionPayment, SessionStatus,
};
use parking_lot::Mutex;
use std::collections::HashMap;

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, Session>,
    /// Session id by order id (the idempotency key of a create).
    by_order: HashMap<String, String>,
    refunds: HashMap<String, Refund>,
    fail_creates: usize,
    creates: usize,
}

#[derive(Debug, Default)]
pub struct FakePayments {
    state: Mutex<State>,
}

fn refused(code: Option<&str>, message: &str) -> PaymentError {
    PaymentError::Refused {
        status: 400,
        kind: "invalid_request_error".into(),
        code: code.map(str::to_owned),
        message: message.into(),
    }
}

impl FakePayments {
    /// The next `n` creations fail as unknown (a timeout).
    pub fn fail_creates(&self, n: usize) {
        self.state.lock().fail_creates = n;
    }

    pub fn creates(&self) -> usize {
        self.state.lock().creates
    }

    /// The student pays (the hosted page's button): only an open session can be paid.
    pub fn pay(&self, session_id: &str) -> Option<Session> {
        let mut state = self.state.lock();
        let session = state.sessions.get_mut(session_id)?;
        if session.status != SessionStatus::Open {
            return None;
        }
        session.status = SessionStatus::Complete;
        session.payment_status = SessionPayment::Paid;
        session.payment_intent = Some(format!("pi_{session_id}"));
        session.url = None;
        Some(session.clone())
    }

    pub fn session(&self, id: &str) -> Option<Session> {
        self.state.lock().sessions.get(id).cloned()
    }

    /// Refunds made, by payment.
    pub fn refunds(&self) -> usize {
        self.state.lock().refunds.len()
    }
}

#[async_trait]
impl PaymentClient for FakePayments {
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Session, PaymentError> {
        let mut state = self.state.lock();
        state.creates += 1;
        if state.fail_creates > 0 {
            state.fail_creates -= 1;
            return Err(PaymentError::Unknown("scripted timeout".into()));
        }
        if let Some(id) = state.by_order.get(&request.order_id) {
            return Ok(state.sessions[id].clone());
        }
        let id = format!("cs_test_{}", state.sessions.len() + 1);
        let session = Session {
            id: id.clone(),
            url: Some(format!("https://pay.example/{id}")),
            status: SessionStatus::Open,
            payment_status: SessionPayment::Unpaid,
            payment_intent: None,
            client_reference_id: Some(request.order_id.clone()),
            order_id: Some(request.order_id.clone()),
            amount_total: Some(request.amount_cents),
            currency: Some(request.currency.to_lowercase()),
            expires_at: Utc::now() + TimeDelta::minutes(31),
        };
        state.by_order.insert(request.order_id.clone(), id.clone());
        state.sessions.insert(id, session.clone());
        Ok(session)
    }

    async fn get_checkout(&self, id: &str, _: &str) -> Result<Session, PaymentError> {
        self.session(id)
            .ok_or_else(|| refused(Some("resource_missing"), "No such checkout.session"))
    }

    async fn expire_checkout(&self, id: &str, _: &str) -> Result<Session, PaymentError> {
        let mut state = self.state.lock();
        let session = state
            .sessions
            .get_mut(id)
            .ok_or_else(|| refused(Some("resource_missing"), "No such checkout.session"))?;
        if session.status != SessionStatus::Open {
            return Err(refused(None, "Only open sessions can be expired"));
        }
        session.status = SessionStatus::Expired;
        session.url = None;
        Ok(session.clone())
    }

    async fn refund(&self, intent: &str, _: &str, _: &str) -> Result<Refund, PaymentError> {
        let mut state = self.state.lock();
        if state.refunds.contains_key(intent) {
            return Err(refused(
                Some("charge_already_refunded"),
                "Charge has already been refunded",
            ));
        }
        let amount = state
            .sessions
            .values()
            .find(|s| s.payment_intent.as_deref() == Some(intent))
            .and_then(|s| s.amount_total)
            .ok_or_else(|| refused(Some("resource_missing"), "No such payment_intent"))?;
        let refund = Refund {
            id: format!("re_{intent}"),
            payment_intent: Some(intent.to_owned()),
            amount,
            status: "succeeded".into(),
        };
        state.refunds.insert(intent.to_owned(), refund.clone());
        Ok(refund)
    }
}
