//! What the embedded backend writes to disk, and rebuilding its state from it at start-up: orders
//! (keyed by id), finished idempotency keys (keyed by student and key), the payment events
//! applied and the feed follower's cursor, as JSON. The order
//! record is its own type, converted to and from the entity here; it keeps the field names of
//! earlier releases (which wrote the wire order plus `cancel_requested`), so their records read
//! back, with the step the rule book derives for them. Orders with work left come back unleased,
//! so the reconciler finishes them.

use super::{EmbeddedRepo, Shared, keys::KeyState};
use crate::{
    clock::Clock,
    domain::{
        CourseId, Failure, Order, OrderId, Payment, Price, ReservationId, Status, Step, StudentId,
        rules,
    },
    idempotency::StoredReply,
};
use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use shared_types::CreateOrder;
use std::sync::Arc;
use storage_kit::journal::{Change, Faults, Put, Store};
use uuid::Uuid;

const ORDERS: &str = "orders";
const KEYS: &str = "idempotency_keys";
const EVENTS: &str = "payment_events";
const FEED: &str = "feed";
/// The one key of [`FEED`].
const FEED_CURSOR: &[u8] = b"cursor";

/// One change to make durable.
#[derive(Debug)]
pub enum OrderChange {
    /// The order as it stands.
    Order(Order),
    Key {
        student: StudentId,
        key: String,
        body: CreateOrder,
        reply: StoredReply,
        completed_at: DateTime<Utc>,
    },
    /// A key aged out, or made room under its student's cap.
    KeyRemoved { student: StudentId, key: String },
    /// A payment provider's event was applied.
    Event { id: String, at: DateTime<Utc> },
    /// The feed follower recorded the orders of every event up to this cursor.
    FeedCursor(String),
}

/// An order as written to disk.
#[derive(Debug, Serialize, Deserialize)]
struct StoredOrder {
    id: Uuid,
    student_id: String,
    course_id: Uuid,
    reservation_id: Uuid,
    unit_price_cents: Option<i64>,
    currency: Option<String>,
    status: Status,
    failure_code: Option<Failure>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Kept beside the step for releases that read only this.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    cancel_requested: bool,
    /// Absent in records of releases before steps were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    step: Option<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expected_price_cents: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hold_expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment: Option<Payment>,
}

impl From<&Order> for StoredOrder {
    fn from(order: &Order) -> Self {
        StoredOrder {
            id: order.id.as_uuid(),
            student_id: order.student.as_str().to_owned(),
            course_id: order.course.as_uuid(),
            reservation_id: order.reservation.as_uuid(),
            unit_price_cents: order.price.as_ref().map(|p| p.cents),
            currency: order.price.as_ref().map(|p| p.currency.clone()),
            status: order.status,
            failure_code: order.failure,
            created_at: order.created_at,
            updated_at: order.updated_at,
            cancel_requested: order.step == Step::Cancelling,
            step: Some(order.step),
            expected_price_cents: order.expected_price_cents,
            hold_expires_at: order.hold_expires_at,
            payment: order.payment.clone(),
        }
    }
}

impl From<StoredOrder> for Order {
    fn from(stored: StoredOrder) -> Self {
        let price = match (stored.unit_price_cents, stored.currency) {
            (Some(cents), Some(currency)) => Some(Price { cents, currency }),
            _ => None,
        };
        Order {
            id: OrderId::from_uuid(stored.id),
            student: StudentId::new(stored.student_id),
            course: CourseId::from_uuid(stored.course_id),
            reservation: ReservationId::from_uuid(stored.reservation_id),
            expected_price_cents: stored.expected_price_cents,
            price,
            hold_expires_at: stored.hold_expires_at,
            payment: stored.payment,
            status: stored.status,
            failure: stored.failure_code,
            step: stored
                .step
                .unwrap_or_else(|| rules::legacy_step(stored.status, stored.cancel_requested)),
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredKey {
    student: String,
    key: String,
    body: CreateOrder,
    reply: StoredReply,
    completed_at: DateTime<Utc>,
}

fn key_of(student: &StudentId, key: &str) -> Vec<u8> {
    // The student id cannot contain a NUL (ids are printable), so this key is unambiguous.
    [student.as_str().as_bytes(), &[0], key.as_bytes()].concat()
}

fn json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| unreachable!("records serialize: {e}"))
}

impl Change for OrderChange {
    fn encode(&self, out: &mut Vec<Put>) {
        let put = match self {
            OrderChange::Order(order) => Put {
                table: ORDERS,
                key: order.id.as_uuid().as_bytes().to_vec(),
                value: Some(json(&StoredOrder::from(order))),
            },
            OrderChange::Event { id, at } => Put {
                table: EVENTS,
                key: id.as_bytes().to_vec(),
                value: Some(json(at)),
            },
            OrderChange::FeedCursor(cursor) => Put {
                table: FEED,
                key: FEED_CURSOR.to_vec(),
                value: Some(json(cursor)),
            },
            OrderChange::KeyRemoved { student, key } => Put {
                table: KEYS,
                key: key_of(student, key),
                value: None,
            },
            OrderChange::Key {
                student,
                key,
                body,
                reply,
                completed_at,
            } => Put {
                table: KEYS,
                key: key_of(student, key),
                value: Some(json(&StoredKey {
                    student: student.as_str().to_owned(),
                    key: key.clone(),
                    body: body.clone(),
                    reply: reply.clone(),
                    completed_at: *completed_at,
                })),
            },
        };
        out.push(put);
    }
}

impl EmbeddedRepo {
    /// Rebuilds the state from `store` and writes every later change through it, with `faults`
    /// injected (none in production).
    pub fn restore(
        store: Store,
        faults: Faults,
        clock: Arc<dyn Clock>,
        lease: TimeDelta,
    ) -> anyhow::Result<EmbeddedRepo> {
        let loading = EmbeddedRepo::in_memory(Arc::clone(&clock), lease);
        for (key, value) in store.read_all(ORDERS)? {
            let stored: StoredOrder = serde_json::from_slice(&value)
                .with_context(|| format!("unreadable order under key {key:02x?}"))?;
            loading.restore_order(Order::from(stored))?;
        }
        for (key, value) in store.read_all(KEYS)? {
            let k: StoredKey = serde_json::from_slice(&value)
                .with_context(|| format!("unreadable idempotency key under {key:02x?}"))?;
            let state = KeyState::Done(k.body, k.reply, k.completed_at);
            loading.restore_key(StudentId::new(k.student), k.key, state);
        }
        for (key, _) in store.read_all(EVENTS)? {
            let id = String::from_utf8(key).context("unreadable payment event id")?;
            loading.shared.events.insert(id, ());
        }
        for (key, value) in store.read_all(FEED)? {
            if key == FEED_CURSOR {
                let cursor: String =
                    serde_json::from_slice(&value).context("unreadable feed cursor")?;
                loading.shared.feed.lock().cursor = Some(cursor);
            }
        }
        let shared = Arc::try_unwrap(loading.shared)
            .unwrap_or_else(|_| unreachable!("the loading store is not shared"));
        let shared = Shared {
            journal: Some(store.into_journal_with(faults)),
            ..shared
        };
        Ok(EmbeddedRepo {
            shared: Arc::new(shared),
            clock,
            lease,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An order as an earlier release wrote it: the wire order plus `cancel_requested`.
    fn legacy(status: &str, cancel_requested: bool) -> Vec<u8> {
        let mut record = serde_json::json!({
            "id": Uuid::now_v7(), "student_id": "s1", "course_id": Uuid::now_v7(),
            "reservation_id": Uuid::now_v7(), "unit_price_cents": 4900, "currency": "USD",
            "status": status, "failure_code": null,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:01Z"
        });
        if cancel_requested {
            record["cancel_requested"] = true.into();
        }
        serde_json::to_vec(&record).expect("json")
    }

    fn read(bytes: &[u8]) -> Order {
        Order::from(serde_json::from_slice::<StoredOrder>(bytes).expect("readable"))
    }

    #[test]
    fn records_of_earlier_releases_read_back_with_the_rule_books_step() {
        for (status, cancel, step) in [
            ("pending", false, Step::FindingOut),
            ("pending", true, Step::Cancelling),
            ("confirmed", true, Step::Cancelling),
            ("confirmed", false, Step::Settled),
            ("cancelled", false, Step::Cancelled),
        ] {
            let order = read(&legacy(status, cancel));
            assert_eq!(order.step, step, "{status} {cancel}");
            assert_eq!(order.price.as_ref().map(|p| p.cents), Some(4900));
        }
        let failed = serde_json::json!({
            "id": Uuid::now_v7(), "student_id": "s1", "course_id": Uuid::now_v7(),
            "reservation_id": Uuid::now_v7(), "unit_price_cents": null, "currency": null,
            "status": "failed", "failure_code": "course_service_unavailable",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:01Z"
        });
        let order = read(&serde_json::to_vec(&failed).expect("json"));
        assert_eq!(order.failure, Some(Failure::CourseServiceUnavailable));
        assert_eq!(order.step, Step::Settled);
    }

    #[test]
    fn an_order_reads_back_as_written_and_keeps_the_fields_earlier_releases_read() {
        let request = crate::domain::NewOrder {
            student: StudentId::new("s1"),
            course: CourseId::generate(),
            expected_price_cents: Some(4900),
        };
        let mut order = Order::new(&request, Utc::now());
        order.step = Step::Cancelling;
        let bytes = json(&StoredOrder::from(&order));
        assert_eq!(read(&bytes), order);
        let wire: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(wire["cancel_requested"], true);
        assert_eq!(wire["status"], "pending");
        assert!(serde_json::from_value::<shared_types::Order>(wire).is_ok());
    }
}
