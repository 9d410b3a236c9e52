//! How far the journal has made its changes durable, and the tickets that wait for it.
//!
//! Every append gets the next sequence number; the writer thread publishes the highest number it
//! has committed (the *durable mark*) and whether a commit has failed. A [`Ticket`] names one
//! sequence number and resolves once the durable mark reaches it. The same ticket serves a change
//! (wait for its own append) and an answer that changed nothing (a replay, a repeat, a read: wait
//! for the last append that touched what it reports), so no answer gets ahead of the disk.
//!
//! Once a commit has failed every ticket fails, even one whose number was durable before: the
//! memory the service answers from may now hold changes the disk does not, so nothing it would
//! say can be trusted until a restart reloads the durable state.

use super::JournalError;
use tokio::sync::watch;

/// What the writer has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Progress {
    /// Every append numbered up to this one is durable.
    pub durable: u64,
    /// A commit failed: the journal refuses everything from now on.
    pub failed: bool,
}

/// Resolves once the changes it stands for are durable.
#[derive(Debug)]
#[must_use = "a change is durable only once its ticket resolves"]
pub struct Ticket(Inner);

#[derive(Debug)]
enum Inner {
    /// Nothing to wait for (state kept in memory only).
    Ready,
    /// Refused at once: the journal had already failed.
    Failed,
    After {
        seq: u64,
        progress: watch::Receiver<Progress>,
    },
}

impl Ticket {
    /// A ticket for nothing to wait on (no journal: state kept in memory only).
    pub fn ready() -> Ticket {
        Ticket(Inner::Ready)
    }

    pub(super) fn failed() -> Ticket {
        Ticket(Inner::Failed)
    }

    pub(super) fn after(seq: u64, progress: watch::Receiver<Progress>) -> Ticket {
        Ticket(Inner::After { seq, progress })
    }

    /// The later of two tickets: resolves once both would have.
    pub fn and(self, other: Ticket) -> Ticket {
        match (self.0, other.0) {
            (Inner::Failed, _) | (_, Inner::Failed) => Ticket::failed(),
            (Inner::Ready, t) | (t, Inner::Ready) => Ticket(t),
            (Inner::After { seq: a, progress }, Inner::After { seq: b, .. }) => {
                Ticket(Inner::After {
                    seq: a.max(b),
                    progress,
                })
            }
        }
    }

    /// The number of the append this ticket waits for (`None` when it waits for nothing or was
    /// refused).
    pub fn mark(&self) -> Option<u64> {
        match &self.0 {
            Inner::After { seq, .. } => Some(*seq),
            Inner::Ready | Inner::Failed => None,
        }
    }

    /// Whether waiting would return at once (durable, or failed).
    pub fn is_settled(&self) -> bool {
        match &self.0 {
            Inner::Ready | Inner::Failed => true,
            Inner::After { seq, progress } => {
                let p = *progress.borrow();
                p.failed || p.durable >= *seq
            }
        }
    }

    pub async fn wait(self) -> Result<(), JournalError> {
        match self.0 {
            Inner::Ready => Ok(()),
            Inner::Failed => Err(JournalError::Failed),
            Inner::After { seq, mut progress } => {
                let reached = progress
                    .wait_for(|p| p.failed || p.durable >= seq)
                    .await
                    .map(|p| !p.failed);
                match reached {
                    Ok(true) => Ok(()),
                    // Failed, or the writer stopped before reaching it.
                    _ => Err(JournalError::Failed),
                }
            }
        }
    }
}
