//! order-service's durable records: orders (keyed by id) and finished idempotency keys (keyed by
//! student and key), as JSON, and rebuilding the store from them at start-up. Orders still pending
//! come back unleased, so the reconciler settles them.

use super::{KeyState, Lease, OrderStore, Shared, StoredReply};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use service_kit::journal::{Change, Put, Store};
use shared_types::{CreateOrder, Order, OrderStatus};
use std::sync::{Arc, atomic::AtomicBool};

const ORDERS: &str = "orders";
const KEYS: &str = "idempotency_keys";

/// One change to make durable.
#[derive(Debug)]
pub enum OrderChange {
    Order(Order),
    Key {
        student: String,
        key: String,
        body: CreateOrder,
        reply: StoredReply,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredKey {
    student: String,
    key: String,
    body: CreateOrder,
    reply: StoredReply,
}

fn key_of(student: &str, key: &str) -> Vec<u8> {
    // The student id cannot contain a NUL (ids are printable), so this key is unambiguous.
    [student.as_bytes(), &[0], key.as_bytes()].concat()
}

impl Change for OrderChange {
    fn encode(&self, out: &mut Vec<Put>) {
        let put = match self {
            OrderChange::Order(order) => Put {
                table: ORDERS,
                key: order.id.as_bytes().to_vec(),
                value: Some(
                    serde_json::to_vec(order)
                        .unwrap_or_else(|e| unreachable!("orders serialize: {e}")),
                ),
            },
            OrderChange::Key {
                student,
                key,
                body,
                reply,
            } => {
                let stored = StoredKey {
                    student: student.clone(),
                    key: key.clone(),
                    body: body.clone(),
                    reply: reply.clone(),
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
            let order: Order = serde_json::from_slice(&value)
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
            if order.status == OrderStatus::Pending {
                shared
                    .pending
                    .insert(order.id, Lease(AtomicBool::new(false)));
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
                KeyState::Done(k.body, k.reply),
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
