//! The storage settings every service (and the launcher) takes, flattened into its
//! configuration: written once, so `--help` says the same everywhere.

use crate::{
    journal::{Faults, StorageMode},
    postgres::DatabaseArgs,
};
use std::path::PathBuf;

/// Where a service keeps its state.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// Where state is kept: `embedded` (on disk under DATA_DIR) or `memory` (lost on restart).
    /// Ignored with DATABASE_URL.
    #[arg(
        long = "storage",
        env = "STORAGE",
        value_enum,
        default_value = "embedded"
    )]
    pub mode: StorageMode,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Directory of the embedded store (each service keeps its own subdirectory).
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// Storage faults to inject into the embedded store, for testing what a failing or slow disk
    /// does: comma-separated `commit-delay-ms=N`, `fail-after-commits=N`, `fail-next-write`.
    /// Empty (the default): none.
    #[arg(
        long = "storage-faults",
        env = "STORAGE_FAULTS",
        default_value = "",
        hide_default_value = true
    )]
    pub faults: Faults,
}

impl StorageArgs {
    /// State in memory only (tests and throwaway runs), no faults.
    pub fn memory() -> Self {
        StorageArgs {
            mode: StorageMode::Memory,
            database: DatabaseArgs::default(),
            data_dir: PathBuf::from("./data"),
            faults: Faults::none(),
        }
    }
}
