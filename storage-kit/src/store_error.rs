//! Why an embedded store could not be opened or read, said in one line: the path, the cause in
//! words, and what to do about it. The storage engine's own errors are turned into these words
//! here and never passed on as a `source`, so an error chain prints each fact once.
//!
//! Only [`crate::journal::Store`] builds these; nothing here reads or writes a store.

use std::{
    io::ErrorKind,
    path::{Path, PathBuf},
};

/// The lock file the storage engine keeps inside a store directory while it is open.
const LOCK_FILE: &str = "lock";

/// Why the store could not be opened or read. Every variant stops the service at start-up.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {}", cause.explain(path))]
    Directory { path: PathBuf, cause: IoCause },
    #[error(
        "another process is using the store {path}{holder}: stop it first, or give this one a DATA_DIR of its own",
        holder = pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Locked { path: PathBuf, pid: Option<u32> },
    #[error("cannot {action} the store {path}: {}", cause.explain(path))]
    Io {
        path: PathBuf,
        action: &'static str,
        cause: IoCause,
    },
    #[error(
        "the store {path} is damaged ({detail}); its files are left untouched: restore them from a backup, or move them aside to start empty"
    )]
    Damaged { path: PathBuf, detail: String },
    #[error(
        "the store {path} has schema version {found}, newer than this build's {known}: run a newer release"
    )]
    NewerSchema {
        path: PathBuf,
        found: u64,
        known: u64,
    },
    #[error(
        "{path} holds data but no schema version: it was not written by this service; point DATA_DIR elsewhere"
    )]
    Unrecognized { path: PathBuf },
    #[error("{path} is not a directory: point DATA_DIR at a directory this service may use")]
    NotAStore { path: PathBuf },
}

/// An operating-system error, in words, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoCause {
    kind: ErrorKind,
    words: String,
}

impl IoCause {
    pub fn new(error: &std::io::Error) -> Self {
        let text = error.to_string();
        // "Permission denied (os error 13)" -> "permission denied": the number adds nothing.
        let text = text.split(" (os error").next().unwrap_or_default();
        let mut words: String = text.chars().take(1).flat_map(char::to_lowercase).collect();
        words.extend(text.chars().skip(1));
        IoCause {
            kind: error.kind(),
            words,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The cause and what to do about it, for the directory `path`.
    pub fn explain(&self, path: &Path) -> String {
        let fix = match self.kind {
            ErrorKind::PermissionDenied => {
                // The directory to hand over: the store itself once it exists, else where it
                // would be made.
                let target = if path.exists() {
                    path
                } else {
                    path.parent().unwrap_or(path)
                };
                let owner = own_uid().map_or("$(id -u)".to_owned(), |uid| uid.to_string());
                format!(
                    "let the user running the service (uid {owner}) read and write it, e.g. \
                     `sudo chown -R {owner} {}`, or set DATA_DIR to a directory it owns",
                    target.display()
                )
            }
            ErrorKind::ReadOnlyFilesystem => {
                "mount it read-write, or set DATA_DIR elsewhere".into()
            }
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
                "free some space on its disk".into()
            }
            ErrorKind::NotADirectory => "point DATA_DIR at a directory".into(),
            _ => "check the directory and its files".into(),
        };
        format!("{}; {fix}", self.words)
    }
}

/// The user id this process runs as (the owner of `/proc/self`, on Linux).
fn own_uid() -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").ok().map(|m| m.uid())
    }
    #[cfg(not(unix))]
    None
}

/// The absolute form of `path` where it can be had: messages name the directory to look at.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

impl StoreError {
    pub(crate) fn directory(path: &Path, error: &std::io::Error) -> Self {
        StoreError::Directory {
            path: absolute(path),
            cause: IoCause::new(error),
        }
    }

    /// The store at `path` could not be opened by the storage engine.
    pub(crate) fn open(path: &Path, error: &fjall::Error) -> Self {
        StoreError::from_engine(path, "open", error)
    }

    /// The store at `path` was opened but could not be read.
    pub(crate) fn read(path: &Path, error: &fjall::Error) -> Self {
        StoreError::from_engine(path, "read", error)
    }

    fn from_engine(path: &Path, action: &'static str, error: &fjall::Error) -> Self {
        let path = absolute(path);
        let io = |e: &std::io::Error| match e.kind() {
            // A store whose files are missing or cut short is damaged, not misconfigured.
            ErrorKind::UnexpectedEof | ErrorKind::InvalidData | ErrorKind::NotFound => {
                StoreError::Damaged {
                    path: path.clone(),
                    detail: IoCause::new(e).words,
                }
            }
            _ => StoreError::Io {
                path: path.clone(),
                action,
                cause: IoCause::new(e),
            },
        };
        match error {
            fjall::Error::Locked => StoreError::Locked {
                pid: lock_holder(&path.join(LOCK_FILE)),
                path,
            },
            fjall::Error::Io(e) => io(e),
            fjall::Error::Storage(fjall::LsmError::Io(e)) => io(e),
            other => StoreError::Damaged {
                detail: damage(other),
                path,
            },
        }
    }
}

/// What is wrong with the files, in words.
fn damage(error: &fjall::Error) -> String {
    match error {
        fjall::Error::InvalidVersion(_)
        | fjall::Error::Storage(fjall::LsmError::InvalidVersion(_)) => {
            "its files are in a format this build does not read".into()
        }
        fjall::Error::JournalRecovery(_) => "its journal cannot be replayed".into(),
        fjall::Error::Storage(fjall::LsmError::ChecksumMismatch { .. }) => {
            "a checksum does not match".into()
        }
        fjall::Error::Unrecoverable | fjall::Error::Storage(fjall::LsmError::Unrecoverable) => {
            "some of its files cannot be recovered".into()
        }
        _ => "its files cannot be decoded".into(),
    }
}

/// The process holding the `flock` on `lock_file`, from `/proc/locks` (Linux); `None` when it
/// cannot be told.
#[cfg(target_os = "linux")]
fn lock_holder(lock_file: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(lock_file).ok()?;
    let (dev, ino) = (meta.dev(), meta.ino());
    // /proc/locks names the file as major:minor:inode, the device numbers in hex.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let file = format!("{major:02x}:{minor:02x}:{ino}");
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    holder_in(&locks, &file)
}

#[cfg(not(target_os = "linux"))]
fn lock_holder(_lock_file: &Path) -> Option<u32> {
    None
}

/// The pid of the lock on `file` (`major:minor:inode`) in the text of `/proc/locks`.
fn holder_in(locks: &str, file: &str) -> Option<u32> {
    locks.lines().find_map(|line| {
        // "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF"; blocked waiters are marked "->".
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = fields.iter().position(|f| *f == file)?;
        (at >= 1 && !fields.contains(&"->"))
            .then(|| fields[at - 1].parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_line(e: &StoreError) -> String {
        let text = e.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(!text.contains("Fjall"), "no engine dump: {text}");
        assert!(!text.contains("os error"), "no error numbers: {text}");
        assert!(std::error::Error::source(e).is_none(), "nothing repeated");
        text
    }

    #[test]
    fn a_permission_problem_says_the_path_the_cause_and_the_fix_once() {
        let denied = std::io::Error::from_raw_os_error(13);
        let e = StoreError::open(
            Path::new("/srv/data/course-service"),
            &fjall::Error::Io(denied),
        );
        let text = one_line(&e);
        assert_eq!(text.matches("permission denied").count(), 1, "{text}");
        assert!(
            text.starts_with("cannot open the store /srv/data/course-service: permission denied; "),
            "{text}"
        );
        assert!(text.contains("chown -R "), "{text}");
        assert!(
            text.contains(" /srv/data`"),
            "names the directory to hand over: {text}"
        );
        assert!(
            !text.contains("move"),
            "no advice about moving files: {text}"
        );
    }

    #[test]
    fn a_damaged_store_is_told_apart_from_a_misconfigured_one() {
        let e = StoreError::open(Path::new("/d/s"), &fjall::Error::Unrecoverable);
        let text = one_line(&e);
        assert!(
            text.contains("damaged") && text.contains("backup"),
            "{text}"
        );
    }

    #[test]
    fn a_locked_store_names_the_process_using_it() {
        let e = StoreError::Locked {
            path: "/d/s".into(),
            pid: Some(4242),
        };
        assert_eq!(
            one_line(&e),
            "another process is using the store /d/s (pid 4242): stop it first, or give this one a DATA_DIR of its own"
        );
        let unknown = StoreError::Locked {
            path: "/d/s".into(),
            pid: None,
        };
        assert!(one_line(&unknown).starts_with("another process is using the store /d/s: "));
    }

    #[test]
    fn the_lock_holder_is_read_from_proc_locks() {
        let locks = "1: POSIX  ADVISORY  WRITE 17 00:19:55 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 5151 08:01:1234 0 EOF\n";
        assert_eq!(holder_in(locks, "08:01:1234"), Some(4242));
        assert_eq!(holder_in(locks, "08:01:999"), None);
    }
}
