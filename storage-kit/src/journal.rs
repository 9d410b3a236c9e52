//! Durable state on local disk: a fjall store per service, written through a group-commit journal.
//!
//! # Why fjall
//! An embedded, crash-safe, transactional key-value store in pure Rust (no C toolchain, no
//! server), built as a log-structured merge tree: a write batch is appended to its journal and made
//! durable with one `fdatasync`, so a commit costs one sequential write whatever keys it touches.
//! The services keep their state in memory and only need every change made durable, in order, and
//! read back whole at start-up; they never query the store, so a write-optimised store fits better
//! than a B-tree one. (redb was measured first: its copy-on-write commits wrote about twenty pages
//! and synced twice per commit, and durable orders ran at under half the in-memory rate.)
//!
//! # Group commit
//! A request appends its changes with [`Journal::append`] and waits on the returned [`Ticket`]
//! before answering. One writer thread takes everything appended since its last commit, writes it
//! as one atomic batch and syncs it to disk ([`PersistMode::SyncAll`]), then
//! moves the durable mark past the batch, which releases every ticket of it. An answer that
//! changed nothing waits the same way for the last append it reports on ([`Journal::after`],
//! [`Journal::barrier`]), so a replay or a read never reports a change still on its way to disk. Under load, batches grow by themselves, so durable
//! throughput stays close to in-memory throughput. Changes are applied in append order; callers
//! append while holding the lock that orders the change, so disk order matches memory order.
//!
//! # Failure
//! If a commit fails, every waiting request is told so (and answers 503), and the journal refuses
//! all later changes and fails every later ticket, reads included: memory may now hold changes the
//! disk does not, so the service reports itself not live and must be restarted, which reloads the
//! durable state. [`Faults`] injects such failures (and slow commits) for tests.

use fjall::PersistMode;
use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    thread::JoinHandle,
};
use tokio::sync::watch;

mod faults;
mod progress;
mod store;

pub use faults::{Faults, FaultsParseError};
use progress::Progress;
pub use progress::Ticket;
pub use store::{Store, TableReader};

/// Where a service keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageMode {
    /// On local disk under `DATA_DIR`, every acknowledged change durable.
    Embedded,
    /// In memory only: lost on restart. For benchmarks and throwaway runs.
    Memory,
}

/// The schema this build writes and understands.
pub const SCHEMA_VERSION: u64 = 1;

const META: &str = "meta";
const SCHEMA_KEY: &[u8] = b"schema_version";

/// A key and its value, as stored.
pub type Row = (Vec<u8>, Vec<u8>);

/// One key written (or, with `value: None`, deleted) in one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    pub table: &'static str,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// A state change a service records; encoded on the writer thread, off the request path.
pub trait Change: Send + 'static {
    fn encode(&self, out: &mut Vec<Put>);
}

pub use crate::store_error::StoreError;

/// Why a change could not be made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("the store failed; the service must be restarted")]
    Failed,
}

impl Store {
    /// Starts the writer thread.
    pub fn into_journal<C: Change>(self) -> Journal<C> {
        self.into_journal_with(Faults::none())
    }

    /// Starts the writer thread, with `faults` injected before each commit.
    pub fn into_journal_with<C: Change>(self, faults: Faults) -> Journal<C> {
        if faults.armed() {
            tracing::warn!(store = %self.path.display(), ?faults, "storage faults are injected (STORAGE_FAULTS)");
        }
        let (sender, receiver) = mpsc::channel::<Entry<C>>();
        let (progress, watching) = watch::channel(Progress::default());
        let shared = Arc::new(Shared {
            stats: JournalStats::default(),
            progress,
        });
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || write_loop(self, receiver, &writer_shared, &faults))
            .unwrap_or_else(|e| panic!("cannot start the journal thread: {e}"));
        Journal {
            sender: Mutex::new(Some(sender)),
            appended: AtomicU64::new(0),
            watching,
            shared,
            writer: Mutex::new(Some(writer)),
        }
    }
}

struct Entry<C> {
    seq: u64,
    changes: Vec<C>,
}

/// Counters of the journal, for operators.
#[derive(Debug, Default)]
pub struct JournalStats {
    pub commits: AtomicU64,
    pub changes: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    stats: JournalStats,
    progress: watch::Sender<Progress>,
}

/// The write-through journal of one service.
///
/// Appends are numbered in the order they reach the writer (the number is taken and the entry
/// sent under one short lock), so "everything up to number n is durable" is one watermark.
#[derive(Debug)]
pub struct Journal<C: Change> {
    sender: Mutex<Option<mpsc::Sender<Entry<C>>>>,
    /// The number of the last append.
    appended: AtomicU64,
    watching: watch::Receiver<Progress>,
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl<C: Change> Journal<C> {
    /// Queues `changes` for the next commit; the ticket resolves once they are durable. Never
    /// blocks on the disk; call it under the lock that orders the changes.
    pub fn append(&self, changes: Vec<C>) -> Ticket {
        if changes.is_empty() {
            return self.barrier();
        }
        self.append_with(|_| changes)
    }

    /// Like [`Journal::append`], but `build` makes the changes under the journal's ordering lock
    /// and is told the number their append gets: whatever `build` numbers or records is in append
    /// order across every caller. Keep it short; it must not block.
    pub fn append_with(&self, build: impl FnOnce(u64) -> Vec<C>) -> Ticket {
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(sender) = sender.as_ref().filter(|_| self.healthy()) else {
            return Ticket::failed();
        };
        let seq = self.appended.load(Ordering::Relaxed) + 1;
        let changes = build(seq);
        if sender.send(Entry { seq, changes }).is_err() {
            return Ticket::failed();
        }
        self.appended.store(seq, Ordering::Release);
        Ticket::after(seq, self.watching.clone())
    }

    /// Every append numbered up to this one is durable.
    pub fn durable(&self) -> u64 {
        self.watching.borrow().durable
    }

    /// A watcher that wakes whenever the durable mark moves (or the journal fails).
    pub fn watch(&self) -> DurableWatch {
        DurableWatch(self.watching.clone())
    }

    /// The number of the last append so far: a state observed now is durable once
    /// [`Journal::after`] this mark resolves.
    pub fn mark(&self) -> u64 {
        self.appended.load(Ordering::Acquire)
    }

    /// A ticket that resolves once every append up to `mark` is durable (at once if it already
    /// is), and fails if the journal has failed.
    pub fn after(&self, mark: u64) -> Ticket {
        Ticket::after(mark, self.watching.clone())
    }

    /// A ticket for everything appended so far: what an answer that changed nothing waits for
    /// before it reports state.
    pub fn barrier(&self) -> Ticket {
        self.after(self.mark())
    }

    /// Resolves once everything appended before it is durable.
    pub fn flush(&self) -> Ticket {
        self.barrier()
    }

    /// False once a commit has failed.
    pub fn healthy(&self) -> bool {
        !self.watching.borrow().failed
    }

    pub fn stats(&self) -> &JournalStats {
        &self.shared.stats
    }

    /// Commits what is queued, stops the writer and lets go of the store (its lock included).
    /// Every later append is refused.
    pub fn close(&self) {
        self.shutdown();
    }

    fn shutdown(&self) {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }
}

impl<C: Change> Drop for Journal<C> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Follows a journal's durable mark.
#[derive(Debug, Clone)]
pub struct DurableWatch(watch::Receiver<Progress>);

impl DurableWatch {
    /// Every append numbered up to this one is durable.
    pub fn durable(&self) -> u64 {
        self.0.borrow().durable
    }

    /// Resolves once the durable mark moved since this watcher last looked, or the journal
    /// failed or stopped.
    pub async fn changed(&mut self) -> Result<(), JournalError> {
        match self.0.changed().await {
            Ok(()) if !self.0.borrow().failed => Ok(()),
            _ => Err(JournalError::Failed),
        }
    }
}

/// Most entries (requests) in one transaction.
const MAX_BATCH: usize = 4096;

fn drain<C>(receiver: &mpsc::Receiver<Entry<C>>, batch: &mut Vec<Entry<C>>) {
    while batch.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(entry) => batch.push(entry),
            Err(_) => return,
        }
    }
}

fn write_loop<C: Change>(
    store: Store,
    receiver: mpsc::Receiver<Entry<C>>,
    shared: &Shared,
    faults: &Faults,
) {
    let mut batch = Vec::new();
    while let Ok(first) = receiver.recv() {
        batch.clear();
        batch.push(first);
        // No lingering for more: whatever arrives while this batch commits forms the next one.
        // (Waiting for more was measured to lower throughput and raise latency.)
        drain(&receiver, &mut batch);
        if shared.progress.borrow().failed {
            continue;
        }
        let last = batch.last().map_or(0, |e| e.seq);
        match commit(&store, &batch, faults) {
            Ok(()) => {
                shared.stats.commits.fetch_add(1, Ordering::Relaxed);
                shared.stats.changes.fetch_add(
                    batch.iter().map(|e| e.changes.len() as u64).sum(),
                    Ordering::Relaxed,
                );
                shared.progress.send_modify(|p| p.durable = last);
            }
            Err(e) => {
                tracing::error!(error = %e, store = %store.path.display(), "commit failed; refusing all further changes until restarted");
                shared.progress.send_modify(|p| p.failed = true);
            }
        }
    }
}

/// Why a commit failed.
#[derive(Debug, thiserror::Error)]
enum CommitError {
    #[error(transparent)]
    Store(#[from] fjall::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn commit<C: Change>(
    store: &Store,
    batch: &[Entry<C>],
    faults: &Faults,
) -> Result<(), CommitError> {
    faults.before_commit()?;
    let mut write = store.db.batch();
    let mut puts = Vec::new();
    for entry in batch {
        for change in &entry.changes {
            puts.clear();
            change.encode(&mut puts);
            for put in puts.drain(..) {
                let table = store.table(put.table)?;
                match put.value {
                    Some(value) => write.insert(&table, put.key, value),
                    None => write.remove(&table, put.key),
                }
            }
        }
    }
    write.commit()?;
    Ok(store.db.persist(PersistMode::SyncAll)?)
}
