//! Taking a waitlist offer: the offer's order is recorded (once, under the offer's id), then
//! driven in the background like a placed order whose hold's outcome is unknown: it reads the
//! offer's reservation (the hold course-service made), and the saga goes on from there (confirmed
//! at once, or awaiting its payment). While course-service cannot be reached the order stays
//! pending and the reconciler asks again; it never fails for an outage, since its seat is held. An order that was recorded before is
//! left to whoever drives it (its request, or the reconciler once its lease lapses).

use super::{LeaseAfter, Workflow};
use crate::{
    domain::{Offer, Order, OrderId},
    repo::{AlreadyLive, Begun, RepoError},
};
use tracing::Instrument;

/// What taking an offer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferTaken {
    /// The offer's order was recorded now; its saga runs in the background.
    New(Order),
    /// The offer's order was recorded before; nothing changed.
    Existing(Order),
    /// The student has another live order for the course (this one): no order was recorded.
    StudentHasOrder(OrderId),
}

impl Workflow {
    /// Records `offer`'s order (durably, before this answers) and starts its saga.
    pub async fn take_offer(
        &self,
        offer: &Offer,
        request_id: &str,
    ) -> Result<OfferTaken, RepoError> {
        let order = match self.repo.begin_offer(offer).await? {
            Ok(Begun::New(order)) => order,
            Ok(Begun::Existing(order)) => return Ok(OfferTaken::Existing(order)),
            Err(AlreadyLive(other)) => return Ok(OfferTaken::StudentHasOrder(other)),
        };
        let saga = {
            let (this, order, request_id) = (self.clone(), order.clone(), request_id.to_owned());
            async move {
                let id = order.id;
                let driven = this.drive(order, &request_id).await;
                if let Err(e) = &driven {
                    tracing::warn!(error = %e, order_id = %id, "offer's order not moved on yet");
                }
                this.give_back_lease(id, LeaseAfter::of(&driven)).await;
            }
        };
        tokio::spawn(saga.in_current_span());
        Ok(OfferTaken::New(order))
    }
}
