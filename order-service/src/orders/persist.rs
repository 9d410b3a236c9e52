//! order-service's durable records: orders (keyed by id) and finished idempotency keys (keyed by
//! student and key), as JSON, and rebuilding the store from them at start-up. Orders still pending,
//! or whose cancellation was asked for and not finished, come back as unleased work, so the
//! reconciler finishes them.

use super::{KeyState, OrderStore, Shared, StoredReply, Work};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::journal::{Change, Put, Store};
use shared_types::{CreateOrder, Order, OrderStatus};
use std::sync::Arc;

const ORDERS: &str = "orders";
const KEYS: &str = "idempotency_keys";

/// One change to make durable.
#[derive(Debug)]
pub enum OrderChange {
    /// The order as it stands, and whether its cancellation was asked for and is not finished.
    Order(Order, bool),
    Key {
        student: String,
        key: String,
        body: CreateOrder,
        reply: StoredReply,
        completed_at: DateTime<Utc>,
    },
    /// A key aged out.
    KeyRemoved { student: String, key: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredOrder {
    #[serde(flatten)]
    order: Order,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    cancel_requested: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredKey {
    student: String,
    key: String,
    body: CreateOrder,
    reply: StoredReply,
    completed_at: DateTime<Utc>,
}

fn key_of(student: &str, key: &str) -> Vec<u8> {
    // The student id cannot contain a NUL (ids are printable), so this key is unambiguous.
    [student.as_bytes(), &[0], key.as_bytes()].concat()
}

impl Change for OrderChange {
    fn encode(&self, out: &mut Vec<Put>) {
        let put = match self {
            OrderChange::Order(order, cancel_requested) => {
                let stored = StoredOrder {
                    order: order.clone(),
                    cancel_requested: *cancel_requested,
                };
                Put {
                    table: ORDERS,
                    key: order.id.as_bytes().to_vec(),
                    value: Some(
                        serde_json::to_vec(&stored)
                            .unwrap_or_else(|e| unreachable!("orders serialize: {e}")),
                    ),
                }
            }
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
            } => {
                let stored = StoredKey {
                    student: student.clone(),
                    key: key.clone(),
                    body: body.clone(),
                    reply: reply.clone(),
                    completed_at: *completed_at,
                };
                Put {
                    table: KEYS,
                    key: key_of(student, key),
                    value: Some(
                        serde_json::to_vec(&stored)
                            .unwrap_or_else(|e| unreachable!("keys serialize: {e}")),
                    ),
                }
            }
        };
        out.push(put);
    }
}

impl OrderStore {
    /// Rebuilds the store from `store` and writes every later change through it.
    pub fn restore(store: Store) -> anyhow::Result<OrderStore> {
        let shared = Shared::default();
        for (key, value) in store.read_all(ORDERS)? {
            let StoredOrder {
                order,
                cancel_requested,
            } = serde_json::from_slice(&value)
                .with_context(|| format!("unreadable order under key {key:02x?}"))?;
            let student: Arc<str> = Arc::from(order.student_id.as_str());
            if matches!(order.status, OrderStatus::Pending | OrderStatus::Confirmed)
                && let Some(other) = shared
                    .live
                    .insert((Arc::clone(&student), order.course_id), order.id)
            {
                anyhow::bail!(
                    "student {student} has two live orders for course {}: {other} and {}",
                    order.course_id,
                    order.id
                );
            }
            let cancelling = cancel_requested && order.status == OrderStatus::Confirmed;
            if order.status == OrderStatus::Pending || cancelling {
                shared
                    .work
                    .insert(order.id, Work::new(false, cancel_requested));
            }
            shared
                .by_student
                .entry(student)
                .or_default()
                .insert(order.id);
            shared.orders.insert(order.id, order);
        }
        for (key, value) in store.read_all(KEYS)? {
            let k: StoredKey = serde_json::from_slice(&value)
                .with_context(|| format!("unreadable idempotency key under {key:02x?}"))?;
            shared.keys.insert(
                (Arc::from(k.student.as_str()), k.key),
                KeyState::Done(k.body, k.reply, k.completed_at),
            );
        }
        let shared = Shared {
            journal: Some(store.into_journal()),
            ..shared
        };
        Ok(OrderStore {
            shared: Arc::new(shared),
        })
    }
}
