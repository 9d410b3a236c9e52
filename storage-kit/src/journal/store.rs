//! Opening the embedded store: the directory, the schema version check, reading every row back
//! at start-up. Writing goes through the journal.

use super::{META, Row, SCHEMA_KEY, SCHEMA_VERSION, StoreError};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Mutex,
};

/// An opened store, before its journal starts.
pub struct Store {
    pub(super) db: Database,
    pub(super) path: PathBuf,
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
        std::fs::create_dir_all(dir).map_err(|e| StoreError::directory(dir, &e))?;
        let path = dir.join(name);
        if path.exists() && !path.is_dir() {
            return Err(StoreError::NotAStore {
                path: crate::store_error::absolute(&path),
            });
        }
        let db = Database::builder(&path)
            .manual_journal_persist(true)
            // One background thread for flushes and compaction: the services' write rate is
            // modest, and every extra thread competes with request handling for the cores.
            .worker_threads(1)
            .open()
            .map_err(|e| StoreError::open(&path, &e))?;
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
        move |e| StoreError::read(&self.path, &e)
    }

    pub(super) fn table(&self, name: &'static str) -> Result<Keyspace, fjall::Error> {
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
                path: crate::store_error::absolute(&self.path),
                found,
                known: SCHEMA_VERSION,
            }),
            Some(_) => Ok(()),
            None if had_tables => Err(StoreError::Unrecognized {
                path: crate::store_error::absolute(&self.path),
            }),
            None => {
                let mut batch = self.db.batch();
                batch.insert(&meta, SCHEMA_KEY, SCHEMA_VERSION.to_be_bytes().as_slice());
                batch.commit().map_err(&err)?;
                self.db.persist(PersistMode::SyncAll).map_err(&err)
            }
        }
    }

    /// A handle that reads `table` while the journal writes it. It sees committed rows, which
    /// may be ahead of the disk: read through it only what is known to be durable.
    pub fn reader(&self, table: &'static str) -> Result<TableReader, StoreError> {
        let keyspace = self.table(table).map_err(self.read_err())?;
        Ok(TableReader {
            keyspace,
            path: self.path.clone(),
        })
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
}

/// Reads one table of an opened store; cheap to clone.
#[derive(Clone)]
pub struct TableReader {
    keyspace: Keyspace,
    path: PathBuf,
}

impl std::fmt::Debug for TableReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableReader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl TableReader {
    /// Up to `limit` rows from `from` (inclusive) in key order.
    pub fn range_from(&self, from: &[u8], limit: usize) -> Result<Vec<Row>, StoreError> {
        let mut rows = Vec::with_capacity(limit.min(1024));
        for guard in self.keyspace.range(from.to_vec()..).take(limit) {
            let (k, v) = guard
                .into_inner()
                .map_err(|e| StoreError::read(&self.path, &e))?;
            rows.push((k.to_vec(), v.to_vec()));
        }
        Ok(rows)
    }

    /// Up to `limit` rows at the end of the table, in key order.
    pub fn last(&self, limit: usize) -> Result<Vec<Row>, StoreError> {
        let mut rows = Vec::with_capacity(limit.min(1024));
        for guard in self.keyspace.iter().rev().take(limit) {
            let (k, v) = guard
                .into_inner()
                .map_err(|e| StoreError::read(&self.path, &e))?;
            rows.push((k.to_vec(), v.to_vec()));
        }
        rows.reverse();
        Ok(rows)
    }
}
