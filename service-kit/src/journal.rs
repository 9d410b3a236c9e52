//! Durable state on local disk: a redb file per service, written through a group-commit journal.
//!
//! # Why redb
//! An embedded, ACID, crash-safe key-value store in pure Rust (copy-on-write B-trees, checksummed
//! commits): no C toolchain, no server, and a stable file format. The services keep their state in
//! memory and only need the durable copy to be written in order and read back whole at start-up,
//! which is exactly what a transactional key-value store gives; SQLite's query engine would go
//! unused.
//!
//! # Group commit
//! A request appends its changes with [`Journal::append`] and waits on the returned [`Ticket`]
//! before answering. One writer thread takes everything appended since its last commit, applies it
//! in one write transaction and commits it with one fsync ([`Durability::Immediate`]), then
//! releases every ticket of the batch. Under load, batches grow by themselves, so durable
//! throughput stays close to in-memory throughput. Changes are applied in append order; callers
//! append while holding the lock that orders the change, so disk order matches memory order.
//!
//! # Failure
//! If a commit fails, every waiting request is told so (and answers 503), and the journal refuses
//! all later changes: memory may now hold changes the disk does not, so the service reports itself
//! not live and must be restarted, which reloads the durable state.

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc,
    },
    thread::JoinHandle,
};
use tokio::sync::oneshot;

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

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
type Table = TableDefinition<'static, &'static [u8], &'static [u8]>;

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

/// Why the store could not be opened or read. Every variant stops the service at start-up.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot open the store {path}: {source} (the file is left untouched; fix or move it, never delete it to start over unless its data may be lost)"
    )]
    Open {
        path: PathBuf,
        source: redb::DatabaseError,
    },
    #[error(
        "the store {path} has schema version {found}, newer than this build's {SCHEMA_VERSION}: run a newer release"
    )]
    NewerSchema { path: PathBuf, found: u64 },
    #[error("{path} holds data but no schema version: it was not written by this service")]
    Unrecognized { path: PathBuf },
    #[error("cannot read the store {path}: {source}")]
    Read { path: PathBuf, source: redb::Error },
}

/// Why a change could not be made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("the store failed; the service must be restarted")]
    Failed,
}

/// An opened store, before its journal starts.
#[derive(Debug)]
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) `dir/file`, checking that its schema is one this build understands.
    pub fn open(dir: &Path, file: &str) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(file);
        let db = Database::create(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let store = Store { db, path };
        store.check_schema()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_err(&self) -> impl Fn(redb::Error) -> StoreError + '_ {
        move |source| StoreError::Read {
            path: self.path.clone(),
            source,
        }
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let err = self.read_err();
        let read = self.db.begin_read().map_err(|e| err(e.into()))?;
        let version = match read.open_table(META) {
            Ok(meta) => meta
                .get("schema_version")
                .map_err(|e| err(e.into()))?
                .map(|v| v.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(err(e.into())),
        };
        let has_tables = read
            .list_tables()
            .map_err(|e| err(e.into()))?
            .next()
            .is_some();
        drop(read);
        match version {
            Some(found) if found > SCHEMA_VERSION => Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found,
            }),
            Some(_) => Ok(()),
            None if has_tables => Err(StoreError::Unrecognized {
                path: self.path.clone(),
            }),
            None => {
                let write = self.db.begin_write().map_err(|e| err(e.into()))?;
                {
                    let mut meta = write.open_table(META).map_err(|e| err(e.into()))?;
                    meta.insert("schema_version", SCHEMA_VERSION)
                        .map_err(|e| err(e.into()))?;
                }
                write.commit().map_err(|e| err(e.into()))
            }
        }
    }

    /// Every key and value of `table` (empty when the table was never written).
    pub fn read_all(&self, table: &'static str) -> Result<Vec<Row>, StoreError> {
        let err = self.read_err();
        let read = self.db.begin_read().map_err(|e| err(e.into()))?;
        let table = match read.open_table(Table::new(table)) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(err(e.into())),
        };
        let mut rows = Vec::new();
        for row in table.iter().map_err(|e| err(e.into()))? {
            let (k, v) = row.map_err(|e| err(e.into()))?;
            rows.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(rows)
    }

    /// Starts the writer thread.
    pub fn into_journal<C: Change>(self) -> Journal<C> {
        let (sender, receiver) = mpsc::channel::<Entry<C>>();
        let shared = Arc::new(Shared::default());
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || write_loop(self, receiver, &writer_shared))
            .unwrap_or_else(|e| panic!("cannot start the journal thread: {e}"));
        Journal {
            sender: Some(sender),
            shared,
            writer: Some(writer),
        }
    }
}

struct Entry<C> {
    changes: Vec<C>,
    done: oneshot::Sender<Result<(), JournalError>>,
}

/// Counters of the journal, for operators.
#[derive(Debug, Default)]
pub struct JournalStats {
    pub commits: AtomicU64,
    pub changes: AtomicU64,
    failed: AtomicBool,
}

type Shared = JournalStats;

/// The write-through journal of one service.
#[derive(Debug)]
pub struct Journal<C: Change> {
    sender: Option<mpsc::Sender<Entry<C>>>,
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

/// Resolves once the changes it was given for are durable.
#[derive(Debug)]
#[must_use = "a change is durable only once its ticket resolves"]
pub struct Ticket(Option<oneshot::Receiver<Result<(), JournalError>>>);

impl Ticket {
    /// A ticket for nothing to wait on (no changes, or no journal).
    pub fn ready() -> Ticket {
        Ticket(None)
    }

    pub async fn wait(self) -> Result<(), JournalError> {
        match self.0 {
            None => Ok(()),
            Some(receiver) => receiver.await.unwrap_or(Err(JournalError::Failed)),
        }
    }
}

impl<C: Change> Journal<C> {
    /// Queues `changes` for the next commit. Never blocks; call it under the lock that orders the
    /// changes.
    pub fn append(&self, changes: Vec<C>) -> Ticket {
        if changes.is_empty() {
            return Ticket::ready();
        }
        let (done, wait) = oneshot::channel();
        let entry = Entry { changes, done };
        let refused = match &self.sender {
            Some(sender) if self.healthy() => sender.send(entry).err().map(|e| e.0),
            _ => Some(entry),
        };
        if let Some(entry) = refused {
            let _ = entry.done.send(Err(JournalError::Failed));
        }
        Ticket(Some(wait))
    }

    /// Resolves once everything appended before it is durable.
    pub fn flush(&self) -> Ticket {
        let (done, wait) = oneshot::channel();
        let entry = Entry {
            changes: Vec::new(),
            done,
        };
        if let Some(Err(e)) = self.sender.as_ref().map(|s| s.send(entry)) {
            let _ = e.0.done.send(Err(JournalError::Failed));
        }
        Ticket(Some(wait))
    }

    /// False once a commit has failed.
    pub fn healthy(&self) -> bool {
        !self.shared.failed.load(Ordering::Acquire)
    }

    pub fn stats(&self) -> &JournalStats {
        &self.shared
    }

    /// Commits what is queued and stops the writer.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.sender.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl<C: Change> Drop for Journal<C> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Most entries (requests) in one transaction.
const MAX_BATCH: usize = 4096;

fn write_loop<C: Change>(store: Store, receiver: mpsc::Receiver<Entry<C>>, shared: &Shared) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(entry) => batch.push(entry),
                Err(_) => break,
            }
        }
        let outcome = if shared.failed.load(Ordering::Acquire) {
            Err(JournalError::Failed)
        } else {
            commit(&store, &batch).map_err(|e| {
                tracing::error!(error = %e, store = %store.path.display(), "commit failed; refusing all further changes");
                shared.failed.store(true, Ordering::Release);
                JournalError::Failed
            })
        };
        if outcome.is_ok() {
            shared.commits.fetch_add(1, Ordering::Relaxed);
            shared.changes.fetch_add(
                batch.iter().map(|e| e.changes.len() as u64).sum(),
                Ordering::Relaxed,
            );
        }
        for entry in batch {
            let _ = entry.done.send(outcome);
        }
    }
}

fn commit<C: Change>(store: &Store, batch: &[Entry<C>]) -> Result<(), redb::Error> {
    let mut write = store.db.begin_write()?;
    write.set_durability(Durability::Immediate)?;
    {
        let mut tables = HashMap::new();
        let mut puts = Vec::new();
        for entry in batch {
            for change in &entry.changes {
                puts.clear();
                change.encode(&mut puts);
                for put in puts.drain(..) {
                    if !tables.contains_key(put.table) {
                        tables.insert(put.table, write.open_table(Table::new(put.table))?);
                    }
                    let table = tables
                        .get_mut(put.table)
                        .unwrap_or_else(|| unreachable!("opened above"));
                    match &put.value {
                        Some(value) => {
                            table.insert(put.key.as_slice(), value.as_slice())?;
                        }
                        None => {
                            table.remove(put.key.as_slice())?;
                        }
                    }
                }
            }
        }
    }
    write.commit()?;
    Ok(())
}
