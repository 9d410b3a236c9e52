//! A Checkout Session's life: created open, then paid (`complete`, with a PaymentIntent and its
//! Charge) or expired (by the API, or by the expirer once `expires_at` has passed), raising
//! `checkout.session.completed` and `checkout.session.expired`.

use super::State;
use crate::error::ApiError;
use crate::events::RequestInfo;
use crate::ids;
use crate::model::{Charge, PaymentStatus, Session, SessionStatus};

/// How paying a session went.
#[derive(Debug, Clone)]
pub enum PayOutcome {
    /// Paid now.
    Paid(Session),
    /// It had been paid before; nothing changed.
    AlreadyPaid(Session),
    /// It can no longer be paid.
    Expired(Session),
    Missing,
}

impl State {
    pub fn insert_session(&mut self, session: Session) {
        if session.status == SessionStatus::Open {
            self.open_by_expiry
                .insert((session.expires_at, session.id.clone()));
        }
        self.sessions.insert(session.id.clone(), session);
    }

    pub fn session(&self, id: &str) -> Result<&Session, ApiError> {
        self.sessions
            .get(id)
            .ok_or_else(|| ApiError::no_such("checkout.session", id, "session"))
    }

    /// `POST /v1/checkout/sessions/{id}/expire`: only an open session can be expired.
    pub fn expire_session(
        &mut self,
        id: &str,
        now: i64,
        request: &RequestInfo,
    ) -> Result<Session, ApiError> {
        let status = self.session(id)?.status;
        if status != SessionStatus::Open {
            return Err(ApiError::invalid(format!(
                "Only Checkout Sessions with a status in [\"open\"] can be expired. This \
                 Checkout Session has a status of `{}`.",
                status.as_str()
            )));
        }
        self.mark_expired(id, now, request)
            .ok_or_else(|| ApiError::no_such("checkout.session", id, "session"))
    }

    fn mark_expired(&mut self, id: &str, now: i64, request: &RequestInfo) -> Option<Session> {
        let session = self.sessions.get_mut(id)?;
        self.open_by_expiry
            .remove(&(session.expires_at, session.id.clone()));
        session.status = SessionStatus::Expired;
        session.url = None;
        let session = session.clone();
        self.emit("checkout.session.expired", &session, None, request, now);
        Some(session)
    }

    /// The customer pays: an open session becomes complete and paid, once.
    pub fn pay(&mut self, id: &str, now: i64) -> PayOutcome {
        let Some(session) = self.sessions.get(id) else {
            return PayOutcome::Missing;
        };
        match session.status {
            SessionStatus::Complete => return PayOutcome::AlreadyPaid(session.clone()),
            SessionStatus::Expired => return PayOutcome::Expired(session.clone()),
            SessionStatus::Open => {}
        }
        if session.expires_at <= now {
            return match self.mark_expired(id, now, &RequestInfo::default()) {
                Some(s) => PayOutcome::Expired(s),
                None => PayOutcome::Missing,
            };
        }
        let Some(session) = self.sessions.get_mut(id) else {
            return PayOutcome::Missing;
        };
        let intent = ids::payment_intent();
        let charge = Charge {
            id: ids::charge(),
            object: "charge",
            amount: session.amount_total,
            amount_captured: session.amount_total,
            amount_refunded: 0,
            captured: true,
            created: now,
            currency: session.currency.clone(),
            livemode: false,
            metadata: session.payment_intent_metadata.clone(),
            paid: true,
            payment_intent: intent.clone(),
            refunded: false,
            status: "succeeded",
        };
        self.open_by_expiry
            .remove(&(session.expires_at, session.id.clone()));
        session.status = SessionStatus::Complete;
        session.payment_status = PaymentStatus::Paid;
        session.payment_intent = Some(intent.clone());
        session.url = None;
        let session = session.clone();
        self.charges.insert(intent, (charge, session.id.clone()));
        let request = RequestInfo::default();
        self.emit("checkout.session.completed", &session, None, &request, now);
        PayOutcome::Paid(session)
    }

    /// Expires up to `max` open sessions whose `expires_at` has passed; answers how many.
    pub fn expire_lapsed(&mut self, now: i64, max: usize) -> usize {
        let due: Vec<String> = self
            .open_by_expiry
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(max)
            .map(|(_, id)| id.clone())
            .collect();
        let request = RequestInfo::default();
        due.iter()
            .filter(|id| self.mark_expired(id, now, &request).is_some())
            .count()
    }

    /// Sessions, newest first, optionally only those of one PaymentIntent or status.
    pub fn list_sessions(
        &self,
        payment_intent: Option<&str>,
        status: Option<SessionStatus>,
        page: &super::Page,
    ) -> Result<(Vec<Session>, bool), ApiError> {
        let matching = self.sessions.values().rev().filter(|s| {
            payment_intent.is_none_or(|pi| s.payment_intent.as_deref() == Some(pi))
                && status.is_none_or(|st| s.status == st)
        });
        page.take(matching, |s| &s.id, "checkout.session")
    }
}
