//! The `Idempotency-Key` a client sends with `POST /api/orders`, parsed at the edge: 1..=255
//! visible ASCII characters (spaces inside allowed). Owns the key's shape, not what is stored
//! under it.

use std::fmt;

/// A valid idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(Box<str>);

/// A header value that is not a valid key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Idempotency-Key must be 1..=255 printable ASCII characters")]
pub struct InvalidKey;

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<Self, InvalidKey> {
        let valid = (1..=255).contains(&value.len())
            && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if valid {
            Ok(IdempotencyKey(value.into()))
        } else {
            Err(InvalidKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_1_to_255_printable_ascii_characters() {
        assert!(IdempotencyKey::parse("k").is_ok());
        assert!(IdempotencyKey::parse("a key with spaces").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert_eq!(IdempotencyKey::parse(""), Err(InvalidKey));
        assert_eq!(IdempotencyKey::parse(&"k".repeat(256)), Err(InvalidKey));
        assert_eq!(IdempotencyKey::parse("tab\there"), Err(InvalidKey));
        assert_eq!(IdempotencyKey::parse("ключ"), Err(InvalidKey));
    }
}
