//! An answer of the embedded store together with the journal ticket it must wait for: nothing
//! is told to a caller before the state it reports is durable.

use storage_kit::journal::{JournalError, Ticket};

/// An answer whose state may still be on its way to disk: wait for [`Pending::durable`] before
/// telling the caller.
#[derive(Debug)]
#[must_use = "an answer may be given only once `durable` resolves"]
pub struct Pending<T> {
    pub(super) value: T,
    pub(super) ticket: Ticket,
}

impl<T> Pending<T> {
    /// The value, once every change it reports is durable.
    pub async fn durable(self) -> Result<T, JournalError> {
        self.ticket.wait().await?;
        Ok(self.value)
    }

    /// The value without waiting (benchmarks and tests of the in-memory rules only).
    pub fn unsynced(self) -> T {
        self.value
    }

    /// A value with nothing to wait for (an answer already durable).
    pub fn ready(value: T) -> Self {
        Pending {
            value,
            ticket: Ticket::ready(),
        }
    }

    /// The value and the ticket it must wait for, apart (for tests that decide when to wait).
    pub fn into_parts(self) -> (T, Ticket) {
        (self.value, self.ticket)
    }

    /// Whether [`Pending::durable`] would resolve at once.
    pub fn is_settled(&self) -> bool {
        self.ticket.is_settled()
    }
}
