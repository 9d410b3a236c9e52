//! Tokens verified recently, so that a caller presenting the same token again pays for its
//! signature check once: order-service sends one service token for minutes, and a student's client
//! sends theirs with every request. Verifying (base64, HMAC-SHA256, two JSON documents) was about
//! an eighth of course-service's CPU per request.
//!
//! Safe because an entry is added only after the full check passed, is found only by the whole
//! token string, and is used only while the token's `exp` is still ahead; the checks that depend
//! on the current time (a service token's lifetime) run on every use. The secret never changes
//! while the process runs; a provider's token is used from here only while none of the
//! provider's keys was removed or changed since it was verified. Bounded: once full, the cache is emptied and refills with tokens in use.

use crate::auth::Identity;
use dashmap::DashMap;
use std::sync::Arc;

/// Most tokens kept.
pub const CAPACITY: usize = 16_384;

#[derive(Debug, Default)]
pub struct VerifiedTokens {
    map: DashMap<Box<str>, Arc<Identity>, foldhash::fast::RandomState>,
}

impl VerifiedTokens {
    /// The claims of `token` if it was verified before and has not expired at `now`.
    pub fn get(&self, token: &str, now: i64) -> Option<Arc<Identity>> {
        let identity = Arc::clone(self.map.get(token)?.value());
        if identity.exp > now {
            Some(identity)
        } else {
            self.map.remove(token);
            None
        }
    }

    pub fn insert(&self, token: &str, claims: Arc<Identity>) {
        if self.map.len() >= CAPACITY {
            self.map.clear();
        }
        self.map.insert(token.into(), claims);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}
