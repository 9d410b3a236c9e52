//! Idempotent requests as Stripe keeps them: the first request with an `Idempotency-Key` claims
//! it; once it has executed, its status and body are saved and replayed for the same key; a
//! different request with the key is an `idempotency_error`, and the key while its first request
//! is still executing is `idempotency_key_in_use`. Keys are kept 24 hours. A request that fails
//! validation gives its claim back, so nothing is saved for it.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::error::ApiError;

/// How long a key is kept, in seconds.
pub const KEEP_SECONDS: i64 = 24 * 60 * 60;
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// At most this many lapsed keys are forgotten per claim.
const PRUNE_PER_CLAIM: usize = 100;

/// What a request is compared on: its method and path, and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub endpoint: String,
    pub params: BTreeMap<String, String>,
}

/// A saved result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub status: u16,
    pub body: String,
    /// The `Request-Id` of the request that produced it (`Original-Request` on replays).
    pub request_id: String,
}

#[derive(Debug)]
struct Entry {
    fingerprint: Fingerprint,
    created: i64,
    saved: Option<Saved>,
}

/// What a request with a key is to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// First with this key: execute, then [`IdempotencyStore::save`] or
    /// [`IdempotencyStore::release`].
    Fresh,
    /// Answer this again.
    Replay(Saved),
    /// Refuse: the key is in use or was used for another request.
    Refuse(ApiError),
}

#[derive(Debug, Default)]
pub struct IdempotencyStore {
    entries: HashMap<String, Entry>,
    order: VecDeque<(i64, String)>,
}

impl IdempotencyStore {
    pub fn claim(&mut self, key: &str, fingerprint: Fingerprint, now: i64) -> Claim {
        self.prune(now);
        let Some(entry) = self.entries.get(key) else {
            self.entries.insert(
                key.to_owned(),
                Entry {
                    fingerprint,
                    created: now,
                    saved: None,
                },
            );
            self.order.push_back((now, key.to_owned()));
            return Claim::Fresh;
        };
        let Some(saved) = &entry.saved else {
            return Claim::Refuse(ApiError::key_in_use());
        };
        if entry.fingerprint.endpoint != fingerprint.endpoint {
            return Claim::Refuse(ApiError::idempotency(format!(
                "Keys for idempotent requests can only be used for the same endpoint they were \
                 first used for ('{}' vs '{}'). Try using a key other than '{key}' if you meant \
                 to execute a different request.",
                fingerprint.endpoint, entry.fingerprint.endpoint
            )));
        }
        if entry.fingerprint.params != fingerprint.params {
            return Claim::Refuse(ApiError::idempotency(format!(
                "Keys for idempotent requests can only be used with the same parameters they \
                 were first used with. Try using a key other than '{key}' if you meant to \
                 execute a different request."
            )));
        }
        Claim::Replay(saved.clone())
    }

    /// Saves the result of the request that claimed `key`.
    pub fn save(&mut self, key: &str, saved: Saved) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.saved = Some(saved);
        }
    }

    /// Gives back a claim whose request never started executing.
    pub fn release(&mut self, key: &str) {
        if self.entries.get(key).is_some_and(|e| e.saved.is_none()) {
            self.entries.remove(key);
        }
    }

    /// Forgets keys older than [`KEEP_SECONDS`], a bounded number at a time.
    fn prune(&mut self, now: i64) {
        for _ in 0..PRUNE_PER_CLAIM {
            match self.order.front() {
                Some((created, _)) if now - created >= KEEP_SECONDS => {}
                _ => return,
            }
            if let Some((created, key)) = self.order.pop_front()
                && self.entries.get(&key).is_some_and(|e| e.created == created)
            {
                self.entries.remove(&key);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(endpoint: &str, a: &str) -> Fingerprint {
        Fingerprint {
            endpoint: endpoint.into(),
            params: BTreeMap::from([("a".to_owned(), a.to_owned())]),
        }
    }

    fn saved() -> Saved {
        Saved {
            status: 200,
            body: "{}".into(),
            request_id: "req_1".into(),
        }
    }

    #[test]
    fn claim_save_replay_and_refusals() {
        let mut store = IdempotencyStore::default();
        let p = print("POST /v1/refunds", "1");
        assert_eq!(store.claim("k", p.clone(), 0), Claim::Fresh);
        match store.claim("k", p.clone(), 1) {
            Claim::Refuse(e) => assert_eq!(e.code, Some("idempotency_key_in_use")),
            other => panic!("expected in use, got {other:?}"),
        }
        store.save("k", saved());
        assert_eq!(store.claim("k", p.clone(), 2), Claim::Replay(saved()));
        match store.claim("k", print("POST /v1/refunds", "2"), 3) {
            Claim::Refuse(e) => assert_eq!((e.kind, e.status.as_u16()), ("idempotency_error", 400)),
            other => panic!("expected a mismatch, got {other:?}"),
        }
        match store.claim("k", print("POST /v1/checkout/sessions", "1"), 3) {
            Claim::Refuse(e) => assert!(e.message.contains("same endpoint")),
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }

    #[test]
    fn released_claims_and_old_keys_are_forgotten() {
        let mut store = IdempotencyStore::default();
        let p = print("POST /v1/refunds", "1");
        assert_eq!(store.claim("k", p.clone(), 0), Claim::Fresh);
        store.release("k");
        assert_eq!(
            store.claim("k", print("POST /v1/refunds", "2"), 0),
            Claim::Fresh
        );
        store.save("k", saved());
        store.release("k");
        assert!(matches!(
            store.claim("k", print("POST /v1/refunds", "2"), 10),
            Claim::Replay(_)
        ));
        assert_eq!(store.claim("k", p, KEEP_SECONDS + 1), Claim::Fresh);
        assert_eq!(store.len(), 1);
    }
}
