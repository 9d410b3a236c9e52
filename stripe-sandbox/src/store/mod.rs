//! Everything the sandbox remembers, in memory behind one lock: sessions, charges, refunds,
//! events and their deliveries, idempotency keys, the injected faults and the webhook settings.
//! Changes that raise events record them here and queue their deliveries in an outbox, which
//! the caller hands to the senders once the lock is released ([`crate::webhooks`]).

mod list;
mod refunds;
mod sessions;

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use list::Page;
pub use refunds::NewRefund;
pub use sessions::PayOutcome;

use crate::events::{self, Disposition, EventRecord, RequestInfo};
use crate::idempotency::IdempotencyStore;
use crate::ids;
use crate::model::{Charge, Refund, Session};

/// How session creation misbehaves, until cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CreateFault {
    #[default]
    None,
    /// Answer 500 `api_error` without creating anything.
    Error500,
    /// Say nothing for this long, then carry on (the session is created), like a slow Stripe.
    Hang(Duration),
}

/// What happens to new events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookMode {
    #[default]
    Deliver,
    Hold,
    Drop,
}

#[derive(Debug, Clone, Default)]
pub struct WebhookSettings {
    pub urls: Vec<String>,
    pub mode: WebhookMode,
    /// Extra copies of each event sent to each endpoint.
    pub duplicate: u32,
    /// Wait before an event's first attempt.
    pub delay: Duration,
    /// Held event ids, oldest first.
    pub held: VecDeque<String>,
}

/// One delivery to make: a copy of an event to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub event_id: String,
    pub url: String,
    pub copy: u32,
    pub delay: Duration,
}

#[derive(Debug, Default)]
pub struct State {
    pub sessions: IndexMap<String, Session>,
    /// Open sessions by `expires_at`, for the expirer.
    pub open_by_expiry: BTreeSet<(i64, String)>,
    /// Charges by PaymentIntent id, and the session each paid.
    pub charges: IndexMap<String, (Charge, String)>,
    pub refunds: IndexMap<String, Refund>,
    pub events: IndexMap<String, EventRecord>,
    pub idempotency: IdempotencyStore,
    pub create_fault: CreateFault,
    pub webhooks: WebhookSettings,
    pub outbox: Vec<Outgoing>,
    /// How many copies were ever queued of each event (numbers the next copy).
    copies: IndexMap<String, u32>,
}

impl State {
    /// Forgets every object, event, key and fault; the webhook endpoints stay.
    pub fn reset(&mut self) {
        let urls = std::mem::take(&mut self.webhooks.urls);
        *self = State::default();
        self.webhooks.urls = urls;
    }

    /// Records an event about `object` and queues it as the webhook mode says.
    pub fn emit<T: Serialize>(
        &mut self,
        kind: &str,
        object: &T,
        previous_attributes: Option<Value>,
        request: &RequestInfo,
        now: i64,
    ) {
        let id = ids::event();
        let urls = self.webhooks.urls.len();
        let body = events::body(&id, kind, object, previous_attributes, request, now, urls);
        let disposition = match (urls, self.webhooks.mode) {
            (0, _) => Disposition::NoEndpoints,
            (_, WebhookMode::Drop) => Disposition::Dropped,
            (_, WebhookMode::Hold) => Disposition::Held,
            (_, WebhookMode::Deliver) => Disposition::Sent,
        };
        tracing::debug!(event = %id, kind, ?disposition, "event");
        self.events.insert(
            id.clone(),
            EventRecord {
                id: id.clone(),
                kind: kind.to_owned(),
                created: now,
                body,
                disposition,
                endpoints: Vec::new(),
            },
        );
        match disposition {
            Disposition::Held => self.webhooks.held.push_back(id),
            Disposition::Sent => {
                let copies = 1 + self.webhooks.duplicate;
                self.queue(&id, copies, self.webhooks.delay);
            }
            Disposition::NoEndpoints | Disposition::Dropped => {}
        }
    }

    /// Queues `copies` more copies of event `id` to every endpoint. False if there is no such
    /// event.
    pub fn queue(&mut self, id: &str, copies: u32, delay: Duration) -> bool {
        let Some(record) = self.events.get_mut(id) else {
            return false;
        };
        record.disposition = Disposition::Sent;
        let first = self.copies.get(id).copied().unwrap_or(0);
        self.copies.insert(id.to_owned(), first + copies);
        for url in &self.webhooks.urls {
            record.endpoint_mut(url).status = events::EndpointStatus::Pending;
            for copy in first..first + copies {
                self.outbox.push(Outgoing {
                    event_id: id.to_owned(),
                    url: url.clone(),
                    copy,
                    delay,
                });
            }
        }
        true
    }

    /// Queues every held event, oldest first or newest first; answers how many.
    pub fn release(&mut self, reverse: bool) -> usize {
        let mut held: Vec<String> = std::mem::take(&mut self.webhooks.held).into();
        if reverse {
            held.reverse();
        }
        let (copies, delay) = (1 + self.webhooks.duplicate, self.webhooks.delay);
        held.iter()
            .filter(|id| self.queue(id, copies, delay))
            .count()
    }

    /// Takes the deliveries queued so far.
    pub fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }
}
