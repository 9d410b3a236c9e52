//! Tests of the store and its journal.

use crate::journal::{Change, Put, Store, StoreError};

#[derive(Debug, Clone)]
struct Set(&'static str, String, Option<String>);

impl Change for Set {
    fn encode(&self, out: &mut Vec<Put>) {
        out.push(Put {
            table: self.0,
            key: self.1.clone().into_bytes(),
            value: self.2.clone().map(String::into_bytes),
        });
    }
}

fn rows(store: &Store, table: &'static str) -> Vec<(String, String)> {
    store
        .read_all(table)
        .expect("read")
        .into_iter()
        .map(|(k, v)| {
            (
                String::from_utf8(k).expect("utf8"),
                String::from_utf8(v).expect("utf8"),
            )
        })
        .collect()
}

#[tokio::test]
async fn acknowledged_changes_are_there_after_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Store::open(dir.path(), "t")
        .expect("open")
        .into_journal::<Set>();
    journal
        .append(vec![
            Set("a", "k1".into(), Some("v1".into())),
            Set("b", "k2".into(), Some("v2".into())),
        ])
        .wait()
        .await
        .expect("durable");
    journal
        .append(vec![Set("a", "k1".into(), Some("v1b".into()))])
        .wait()
        .await
        .expect("durable");
    journal
        .append(vec![Set("b", "k2".into(), None)])
        .wait()
        .await
        .expect("durable");
    journal.close();
    let store = Store::open(dir.path(), "t").expect("reopen");
    assert_eq!(rows(&store, "a"), vec![("k1".to_owned(), "v1b".to_owned())]);
    assert!(rows(&store, "b").is_empty());
    assert!(rows(&store, "never-written").is_empty());
}

#[tokio::test]
async fn concurrent_appends_share_commits_and_keep_their_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = std::sync::Arc::new(
        Store::open(dir.path(), "t")
            .expect("open")
            .into_journal::<Set>(),
    );
    let tickets: Vec<_> = (0..2000)
        .map(|i| journal.append(vec![Set("n", "last".into(), Some(format!("{i:05}")))]))
        .collect();
    for ticket in tickets {
        ticket.wait().await.expect("durable");
    }
    let commits = journal
        .stats()
        .commits
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(commits < 2000, "{commits} commits for 2000 appends");
    drop(journal);
    let store = Store::open(dir.path(), "t").expect("reopen");
    assert_eq!(
        rows(&store, "n"),
        vec![("last".to_owned(), "01999".to_owned())],
        "the last append wins"
    );
}

#[test]
fn a_file_that_is_not_a_store_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t");
    std::fs::write(&path, b"definitely not a database, but somebody's data").expect("write");
    let err = Store::open(dir.path(), "t").expect_err("refused");
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        b"definitely not a database, but somebody's data"
    );
}

#[test]
fn a_store_with_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = fjall::Database::builder(dir.path().join("t"))
            .open()
            .expect("create");
        let meta = db
            .keyspace("meta", fjall::KeyspaceCreateOptions::default)
            .expect("meta");
        meta.insert("schema_version", 99u64.to_be_bytes())
            .expect("insert");
        db.persist(fjall::PersistMode::SyncAll).expect("persist");
    }
    let err = Store::open(dir.path(), "t").expect_err("refused");
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("newer"));
}

#[tokio::test]
async fn a_damaged_store_is_refused_not_emptied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Store::open(dir.path(), "t")
        .expect("open")
        .into_journal::<Set>();
    journal
        .append(vec![Set("a", "k".into(), Some("v".into()))])
        .wait()
        .await
        .expect("durable");
    journal.close();
    let mut damaged = 0;
    for entry in walk(&dir.path().join("t")) {
        std::fs::write(&entry, b"garbage garbage garbage garbage").expect("overwrite");
        damaged += 1;
    }
    assert!(damaged > 0);
    let opened = Store::open(dir.path(), "t");
    let readable = opened.as_ref().ok().map(|store| rows(store, "a"));
    assert!(
        opened.is_err() || readable == Some(vec![("k".to_owned(), "v".to_owned())]),
        "a damaged store opened and lost its data: {readable:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path))
        } else {
            files.push(path)
        }
    }
    files
}

#[cfg(unix)]
#[test]
fn an_unwritable_data_directory_is_refused_with_its_path() {
    use std::os::unix::fs::PermissionsExt;
    if nix_is_root() {
        return; // root may write anywhere; the permission check cannot be exercised as root
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o500)).expect("chmod");
    let err = Store::open(&dir.path().join("sub"), "t").expect_err("refused");
    assert!(err.to_string().contains("sub"), "{err}");
}

#[cfg(unix)]
fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn set(key: &str, value: &str) -> Vec<Set> {
    vec![Set("a", key.into(), Some(value.into()))]
}

#[tokio::test]
async fn a_barrier_waits_for_the_commit_in_flight_before_it_resolves() {
    use crate::journal::Faults;
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = Faults::none();
    faults.delay_commits(std::time::Duration::from_millis(300));
    let journal = Store::open(dir.path(), "t")
        .expect("open")
        .into_journal_with::<Set>(faults.clone());
    let change = journal.append(set("k", "v"));
    // A repeat that changes nothing reports state only once the change it repeats is durable.
    let repeat = journal.barrier();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        !change.is_settled() && !repeat.is_settled(),
        "resolved before the commit"
    );
    let started = std::time::Instant::now();
    repeat.wait().await.expect("durable");
    assert!(
        change.is_settled(),
        "the barrier resolved before the change it covers"
    );
    change.wait().await.expect("durable");
    assert!(started.elapsed() >= std::time::Duration::from_millis(100));
    // Nothing in flight: a barrier resolves at once.
    assert!(journal.barrier().is_settled());
}

#[tokio::test]
async fn after_a_failed_commit_every_ticket_fails_even_for_what_was_durable() {
    use crate::journal::Faults;
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = Faults::none();
    let journal = Store::open(dir.path(), "t")
        .expect("open")
        .into_journal_with::<Set>(faults.clone());
    journal
        .append(set("k1", "v1"))
        .wait()
        .await
        .expect("durable");
    let durable_mark = journal.mark();
    faults.fail_next_write();
    assert!(journal.append(set("k2", "v2")).wait().await.is_err());
    assert!(!journal.healthy());
    // Fail-stop: the next write is refused although the disk would take it, and so is a read of
    // state that was durable before the failure.
    assert!(journal.append(set("k3", "v3")).wait().await.is_err());
    assert!(journal.after(durable_mark).wait().await.is_err());
    assert!(journal.barrier().wait().await.is_err());
    journal.close();
    let store = Store::open(dir.path(), "t").expect("reopen");
    assert_eq!(rows(&store, "a"), vec![("k1".to_owned(), "v1".to_owned())]);
}

#[tokio::test]
async fn tickets_of_a_full_disk_fail_and_the_disk_keeps_what_was_acknowledged() {
    use crate::journal::Faults;
    let dir = tempfile::tempdir().expect("tempdir");
    let faults: Faults = "fail-after-commits=3".parse().expect("faults");
    let journal = std::sync::Arc::new(
        Store::open(dir.path(), "t")
            .expect("open")
            .into_journal_with::<Set>(faults),
    );
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let key = format!("k{i:02}");
        if journal.append(set(&key, "v")).wait().await.is_ok() {
            acknowledged.push(key);
        }
    }
    assert_eq!(acknowledged.len(), 3, "{acknowledged:?}");
    drop(journal);
    let store = Store::open(dir.path(), "t").expect("reopen");
    let keys: Vec<String> = rows(&store, "a").into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, acknowledged);
}
