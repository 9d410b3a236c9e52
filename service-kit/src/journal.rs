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
//! releases every ticket of the batch. Under load, batches grow by themselves, so durable
//! throughput stays close to in-memory throughput. Changes are applied in append order; callers
//! append while holding the lock that orders the change, so disk order matches memory order.
//!
//! # Failure
//! If a commit fails, every waiting request is told so (and answers 503), and the journal refuses
//! all later changes: memory may now hold changes the disk does not, so the service reports itself
//! not live and must be restarted, which reloads the durable state.

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
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

/// Why the store could not be opened or read. Every variant stops the service at start-up.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot open the store {path}: {source} (its files are left untouched; fix or move them, and delete them only if their data may be lost)"
    )]
    Open { path: PathBuf, source: fjall::Error },
    #[error(
        "the store {path} has schema version {found}, newer than this build's {SCHEMA_VERSION}: run a newer release"
    )]
    NewerSchema { path: PathBuf, found: u64 },
    #[error("{path} holds data but no schema version: it was not written by this service")]
    Unrecognized { path: PathBuf },
    #[error("cannot read the store {path}: {source}")]
    Read { path: PathBuf, source: fjall::Error },
    #[error("the store {path} is not a directory this service wrote")]
    NotAStore { path: PathBuf },
}

/// Why a change could not be made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("the store failed; the service must be restarted")]
    Failed,
}

/// An opened store, before its journal starts.
pub struct Store {
    db: Database,
    path: PathBuf,
    tables: Mutex<HashMap<&'static str, Keyspace>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store directory `dir/name`, checking that its schema is one this
    /// build understands.
    pub fn open(dir: &Path, name: &str) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(name);
        if path.exists() && !path.is_dir() {
            return Err(StoreError::NotAStore { path });
        }
        let db = Database::builder(&path)
            .manual_journal_persist(true)
            // One background thread for flushes and compaction: the services' write rate is
            // modest, and every extra thread competes with request handling for the cores.
            .worker_threads(1)
            .open()
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        let store = Store {
            db,
            path,
            tables: Mutex::new(HashMap::new()),
        };
        store.check_schema()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_err(&self) -> impl Fn(fjall::Error) -> StoreError + '_ {
        move |source| StoreError::Read {
            path: self.path.clone(),
            source,
        }
    }

    fn table(&self, name: &'static str) -> Result<Keyspace, fjall::Error> {
        let mut tables = self
            .tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(table) = tables.get(name) {
            return Ok(table.clone());
        }
        let table = self.db.keyspace(name, KeyspaceCreateOptions::default)?;
        tables.insert(name, table.clone());
        Ok(table)
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let err = self.read_err();
        let had_tables = self.db.list_keyspace_names().iter().any(|n| &**n != META);
        let meta = self.table(META).map_err(&err)?;
        let version = meta.get(SCHEMA_KEY).map_err(&err)?.map(|v| {
            let bytes: [u8; 8] = v.as_ref().try_into().unwrap_or([0xff; 8]);
            u64::from_be_bytes(bytes)
        });
        match version {
            Some(found) if found > SCHEMA_VERSION => Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found,
            }),
            Some(_) => Ok(()),
            None if had_tables => Err(StoreError::Unrecognized {
                path: self.path.clone(),
            }),
            None => {
                let mut batch = self.db.batch();
                batch.insert(&meta, SCHEMA_KEY, SCHEMA_VERSION.to_be_bytes().as_slice());
                batch.commit().map_err(&err)?;
                self.db.persist(PersistMode::SyncAll).map_err(&err)
            }
        }
    }

    /// Every key and value of `table` (empty when the table was never written).
    pub fn read_all(&self, table: &'static str) -> Result<Vec<Row>, StoreError> {
        let err = self.read_err();
        let table = self.table(table).map_err(&err)?;
        let mut rows = Vec::new();
        for guard in table.iter() {
            let (k, v) = guard.into_inner().map_err(&err)?;
            rows.push((k.to_vec(), v.to_vec()));
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

fn drain<C>(receiver: &mpsc::Receiver<Entry<C>>, batch: &mut Vec<Entry<C>>) {
    while batch.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(entry) => batch.push(entry),
            Err(_) => return,
        }
    }
}

fn write_loop<C: Change>(store: Store, receiver: mpsc::Receiver<Entry<C>>, shared: &Shared) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        // No lingering for more: whatever arrives while this batch commits forms the next one.
        // (Waiting for more was measured to lower throughput and raise latency.)
        drain(&receiver, &mut batch);
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

fn commit<C: Change>(store: &Store, batch: &[Entry<C>]) -> Result<(), fjall::Error> {
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
    store.db.persist(PersistMode::SyncAll)
}
