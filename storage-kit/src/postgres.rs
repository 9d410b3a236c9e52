//! PostgreSQL plumbing both services share: the pool (with a statement timeout and a bounded
//! wait for a connection), embedded migrations that refuse a schema newer than the binary, URLs
//! without passwords for logs, and a fresh schema per test. Connection and migration errors are
//! put in words by [`errors`].

mod errors;

use sqlx::{
    Connection, PgConnection, PgPool,
    migrate::{MigrateError, Migrator},
    postgres::{PgConnectOptions, PgPoolOptions},
};
use std::{str::FromStr, time::Duration};

/// The database settings each service takes, flattened into its configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// PostgreSQL to keep the state in, e.g. `postgres://user:pass@host/db`; overrides STORAGE.
    /// Any number of replicas may share one database. Unset or empty: the embedded store.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Most connections this process opens to PostgreSQL.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,
    /// Longest one SQL statement may run before PostgreSQL cancels it, in milliseconds.
    #[arg(long, env = "DATABASE_STATEMENT_TIMEOUT_MS", default_value_t = 5000)]
    pub database_statement_timeout_ms: u64,
    /// Longest a request waits for a free database connection, in milliseconds.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_MS", default_value_t = 3000)]
    pub database_acquire_timeout_ms: u64,
}

impl Default for DatabaseArgs {
    /// No database (the embedded store), with the flags' defaults.
    fn default() -> Self {
        DatabaseArgs {
            database_url: None,
            database_max_connections: 16,
            database_statement_timeout_ms: 5000,
            database_acquire_timeout_ms: 3000,
        }
    }
}

impl DatabaseArgs {
    /// The connection settings, when DATABASE_URL is set and not empty (compose passes an unset
    /// variable through as empty).
    pub fn settings(&self) -> Option<PgSettings> {
        let url = self.database_url.as_deref().map(str::trim);
        url.filter(|url| !url.is_empty()).map(|url| PgSettings {
            url: url.to_owned(),
            max_connections: self.database_max_connections,
            statement_timeout: Duration::from_millis(self.database_statement_timeout_ms),
            acquire_timeout: Duration::from_millis(self.database_acquire_timeout_ms),
        })
    }
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct PgSettings {
    pub url: String,
    pub max_connections: u32,
    /// Longest any one statement may run (the server cancels it after).
    pub statement_timeout: Duration,
    /// Longest a request waits for a free connection.
    pub acquire_timeout: Duration,
}

/// Connects as `application` and brings the schema up to date with `migrator`. A database that
/// a newer release migrated further stops this one with a message saying so. Each application
/// records its migrations in a table of its own (`_course_service_migrations`, ...), so both
/// services may share one database. Every error says what is wrong and what to check.
pub async fn connect(
    settings: &PgSettings,
    application: &str,
    mut migrator: Migrator,
) -> anyhow::Result<PgPool> {
    migrator.dangerous_set_table_name(format!("_{}_migrations", application.replace('-', "_")));
    let timeout_ms = settings.statement_timeout.as_millis().to_string();
    let options = connect_options(&settings.url)?
        .options([("statement_timeout", timeout_ms.as_str())])
        .application_name(application);
    probe(&options, settings).await?;
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        // A connection is pinged before each use (sqlx's default), although that costs a round
        // trip: one opened by an HTTP worker's runtime is dead once that runtime stops (a worker
        // restarts, or the server stops while background tasks still need the database), and
        // the ping replaces it with a fresh one instead of failing the statement.
        .test_before_acquire(true)
        .connect_with(options.clone())
        .await
        .map_err(|e| connect_error(&options, settings, &e))?;
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    let migrated = migrate(&pool, &migrator).await;
    if migrated.is_err() {
        // Closing the connections also drops the migrator's lock, which a failed run keeps.
        pool.close().await;
    }
    match migrated {
        Ok(()) => Ok(pool),
        Err(MigrateError::VersionMissing(version)) => Err(anyhow::anyhow!(
            "refusing to start: the database schema is at version {version}, newer than this \
             {application} knows (up to {known}); run a release that knows it"
        )),
        Err(MigrateError::Execute(e)) => Err(anyhow::anyhow!(
            "cannot migrate the database {}: {}",
            redacted(&settings.url),
            errors::describe(&e, &options, settings)
        )),
        Err(MigrateError::ExecuteMigration(e, version)) => Err(anyhow::anyhow!(
            "cannot migrate the database {} (migration {version}): {}",
            redacted(&settings.url),
            errors::describe(&e, &options, settings)
        )),
        Err(e) => Err(anyhow::anyhow!(
            "cannot migrate the database {}: {e}",
            redacted(&settings.url)
        )),
    }
}

/// The connection options of `url`, refused with a message when it is not a PostgreSQL URL.
fn connect_options(url: &str) -> anyhow::Result<PgConnectOptions> {
    const EXAMPLE: &str = "postgres://user:password@host:5432/database";
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if !matches!(scheme, Some("postgres" | "postgresql")) {
        anyhow::bail!(
            "DATABASE_URL must be a PostgreSQL URL like {EXAMPLE}, not {}; unset it (or leave it \
             empty) to keep the state in the embedded store",
            redacted(url)
        );
    }
    PgConnectOptions::from_str(url).map_err(|e| {
        anyhow::anyhow!(
            "DATABASE_URL {} cannot be read ({}): write it like {EXAMPLE}",
            redacted(url),
            errors::without_line(&e.to_string())
        )
    })
}

/// Opens one connection first, so that a server that cannot be reached is reported with its
/// cause ("connection refused") rather than as a pool that timed out.
async fn probe(options: &PgConnectOptions, settings: &PgSettings) -> anyhow::Result<()> {
    let wait = settings.acquire_timeout.max(Duration::from_secs(1));
    match tokio::time::timeout(wait, PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(connect_error(options, settings, &e)),
        Err(_) => Err(anyhow::anyhow!(
            "cannot connect to PostgreSQL at {}:{}: no answer within {} ms; check the host and \
             port in DATABASE_URL and that no firewall drops the connection",
            options.get_host(),
            options.get_port(),
            wait.as_millis()
        )),
    }
}

fn connect_error(
    options: &PgConnectOptions,
    settings: &PgSettings,
    error: &sqlx::Error,
) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot connect to PostgreSQL ({}): {}",
        redacted(&settings.url),
        errors::describe(error, options, settings)
    )
}

/// Whether the database answers a query, for readiness probes: within 800 ms (a probe's usual
/// timeout is 1 s), even when no connection can be had.
pub async fn answers(pool: &PgPool) -> bool {
    let probe = sqlx::query("SELECT 1").execute(pool);
    matches!(
        tokio::time::timeout(Duration::from_millis(800), probe).await,
        Ok(Ok(_))
    )
}

/// Whether `error` is a unique constraint refusing a row (SQLSTATE 23505).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

/// Runs the migrations on one connection with a longer statement timeout: replicas starting
/// together wait their turn on the migrator's lock, which can take longer than any request may.
async fn migrate(pool: &PgPool, migrator: &Migrator) -> Result<(), MigrateError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SET statement_timeout = '60s'")
        .execute(&mut *conn)
        .await?;
    let migrated = migrator.run(&mut *conn).await;
    // Back to the pool's timeout before the connection serves requests.
    sqlx::query("RESET statement_timeout")
        .execute(&mut *conn)
        .await?;
    migrated
}

/// `url` without its password, for logs.
pub fn redacted(url: &str) -> String {
    url.split_once("://")
        .and_then(|(scheme, rest)| {
            let (credentials, host) = rest.rsplit_once('@')?;
            let user = credentials.split(':').next().unwrap_or_default();
            Some(format!("{scheme}://{user}@{host}"))
        })
        .unwrap_or_else(|| url.to_owned())
}

/// For tests: whether this run tests the PostgreSQL stores (`TEST_BACKEND=postgres`, with
/// `TEST_DATABASE_URL`) rather than the embedded ones.
pub fn testing_postgres() -> bool {
    std::env::var("TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// For tests: creates an empty schema in the database at `TEST_DATABASE_URL` and returns a URL
/// whose connections use it, so every test has its own tables. Panics when the variable is not
/// set: a run asked to test PostgreSQL must not pass by skipping.
pub async fn test_schema_url() -> String {
    let base = std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL must point at a PostgreSQL database to test against");
    fresh_schema(&base, "t")
        .await
        .unwrap_or_else(|e| panic!("TEST_DATABASE_URL: {e:#}"))
}

/// Creates an empty schema `{prefix}_<random>` in the database at `base` and returns a URL whose
/// connections use it (through `search_path`), for tests and benchmarks that need their own
/// tables.
pub async fn fresh_schema(base: &str, prefix: &str) -> anyhow::Result<String> {
    let schema = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let pool = PgPool::connect(base)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", redacted(base)))?;
    let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await;
    pool.close().await;
    created.map_err(|e| anyhow::anyhow!("cannot create schema {schema}: {e}"))?;
    let separator = if base.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{base}{separator}options=-c%20search_path%3D{schema}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redacted("postgres://app:s3cret@db:5432/seats"),
            "postgres://app@db:5432/seats"
        );
        assert_eq!(redacted("postgres://db/seats"), "postgres://db/seats");
        assert_eq!(redacted("not a url"), "not a url");
    }

    #[test]
    fn an_empty_database_url_means_the_embedded_store() {
        let with = |url: Option<&str>| DatabaseArgs {
            database_url: url.map(str::to_owned),
            ..DatabaseArgs::default()
        };
        assert!(with(None).settings().is_none());
        assert!(with(Some("")).settings().is_none());
        assert!(with(Some("  ")).settings().is_none());
        let settings = with(Some("postgres://db/seats"))
            .settings()
            .expect("settings");
        assert_eq!(settings.url, "postgres://db/seats");
        assert_eq!(settings.max_connections, 16);
    }
}
