//! Refunds of a paid session's PaymentIntent: any number of partial refunds up to what was
//! charged, each raising `refund.created` and `charge.refunded`.

use std::collections::BTreeMap;

use serde_json::json;

use super::State;
use crate::currency;
use crate::error::ApiError;
use crate::events::RequestInfo;
use crate::ids;
use crate::model::Refund;

/// What to refund, as validated from `POST /v1/refunds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefund {
    /// `payment_intent`, or else `charge`.
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    /// `None`: everything not yet refunded.
    pub amount: Option<i64>,
    pub reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

impl State {
    /// The PaymentIntent id a refund request names, checked to exist.
    fn refund_target(&self, new: &NewRefund) -> Result<String, ApiError> {
        if let Some(intent) = &new.payment_intent {
            if self.charges.contains_key(intent) {
                return Ok(intent.clone());
            }
            return Err(ApiError::no_such(
                "payment_intent",
                intent,
                "payment_intent",
            ));
        }
        let charge = new.charge.as_deref().unwrap_or_default();
        self.charges
            .iter()
            .find(|(_, (c, _))| c.id == charge)
            .map(|(intent, _)| intent.clone())
            .ok_or_else(|| ApiError::no_such("charge", charge, "charge"))
    }

    pub fn create_refund(
        &mut self,
        new: NewRefund,
        now: i64,
        request: &RequestInfo,
    ) -> Result<Refund, ApiError> {
        let intent = self.refund_target(&new)?;
        let Some((charge, _)) = self.charges.get_mut(&intent) else {
            return Err(ApiError::no_such(
                "payment_intent",
                &intent,
                "payment_intent",
            ));
        };
        if charge.refunded {
            return Err(ApiError::invalid(format!(
                "Charge {} has already been refunded.",
                charge.id
            ))
            .with_code("charge_already_refunded"));
        }
        let left = charge.refundable();
        let amount = new.amount.unwrap_or(left);
        if amount > left {
            return Err(ApiError::invalid_param(
                "amount",
                format!(
                    "Refund amount ({}) is greater than unrefunded amount on charge ({})",
                    currency::format(amount, &charge.currency),
                    currency::format(left, &charge.currency)
                ),
            )
            .with_code("amount_too_large"));
        }
        let previous = json!({
            "amount_refunded": charge.amount_refunded,
            "refunded": charge.refunded,
        });
        charge.amount_refunded += amount;
        charge.refunded = charge.amount_refunded >= charge.amount;
        let charge = charge.clone();
        let refund = Refund {
            id: ids::refund(),
            object: "refund",
            amount,
            charge: charge.id.clone(),
            created: now,
            currency: charge.currency.clone(),
            metadata: new.metadata,
            payment_intent: intent,
            reason: new.reason,
            status: "succeeded",
        };
        self.refunds.insert(refund.id.clone(), refund.clone());
        self.emit("refund.created", &refund, None, request, now);
        self.emit("charge.refunded", &charge, Some(previous), request, now);
        Ok(refund)
    }

    pub fn refund(&self, id: &str) -> Result<&Refund, ApiError> {
        self.refunds
            .get(id)
            .ok_or_else(|| ApiError::no_such("refund", id, "refund"))
    }

    /// Refunds, newest first, optionally only those of one PaymentIntent or Charge.
    pub fn list_refunds(
        &self,
        payment_intent: Option<&str>,
        charge: Option<&str>,
        page: &super::Page,
    ) -> Result<(Vec<Refund>, bool), ApiError> {
        let matching = self.refunds.values().rev().filter(|r| {
            payment_intent.is_none_or(|pi| r.payment_intent == pi)
                && charge.is_none_or(|ch| r.charge == ch)
        });
        page.take(matching, |r| &r.id, "refund")
    }
}
