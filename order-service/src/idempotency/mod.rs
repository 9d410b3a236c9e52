//! Idempotency of `POST /api/orders`: the key type and its parsing ([`key`]), the key store half
//! of the storage port ([`store`]), the stored answers ([`reply`]) and the run-once protocol
//! ([`run_once`](mod@run_once)). It does not place orders, choose statuses for outcomes or know the backends:
//! the workflow places, [`crate::error::ApiError`] maps outcomes, the repository implements
//! [`KeyStore`]. The key rules (lifetimes, the cap) are in [`crate::domain::keys`].

pub mod key;
pub mod reply;
pub mod run_once;
pub mod store;

pub use key::{IdempotencyKey, InvalidKey};
pub use reply::{Answer, AnsweredOrder, StoredReply};
pub use run_once::{Keyed, ReadOrder, run_once};
pub use store::{Claim, KeyStore, KeyStoreError};
