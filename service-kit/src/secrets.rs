//! The token secret before any key is made from it: refused when missing, short, a known
//! placeholder or too uniform to be hard to guess, with a message that says how to make a good
//! one; and, for local runs, a generated secret kept in a file (mode 0600) so that tokens outlive
//! a restart.
//!
//! Signing and verifying stay in [`crate::auth`]; this module only decides whether a secret may
//! be used.

use crate::{Secret, TokenKeys, auth::MIN_SECRET_LEN};
use std::{
    collections::BTreeSet,
    io::Write,
    path::{Path, PathBuf},
};

/// How to make a secret, as every refusal says.
pub const HOW_TO_MAKE_ONE: &str = "make one with `head -c 32 /dev/urandom | base64`";

/// Fewest different characters a secret must use.
const MIN_DISTINCT: usize = 8;

/// Words that mark a value copied from an example rather than made for this deployment.
const PLACEHOLDERS: &[&str] = &[
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "replaceme",
    "replace_me",
    "your-secret",
    "your_secret",
    "yoursecret",
    "placeholder",
];

/// Why a secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakSecret {
    #[error("AUTH_JWT_SECRET is not set: {HOW_TO_MAKE_ONE} and give the same one to both services")]
    Missing,
    #[error("AUTH_JWT_SECRET is {0} bytes long, fewer than {MIN_SECRET_LEN}: {HOW_TO_MAKE_ONE}")]
    TooShort(usize),
    #[error("AUTH_JWT_SECRET is a placeholder from an example, not a secret: {HOW_TO_MAKE_ONE}")]
    Placeholder,
    #[error("AUTH_JWT_SECRET has too little variety to be hard to guess ({0}): {HOW_TO_MAKE_ONE}")]
    TooUniform(&'static str),
}

/// Whether `secret` may sign tokens.
pub fn check(secret: &str) -> Result<(), WeakSecret> {
    let secret = secret.trim();
    if secret.is_empty() {
        return Err(WeakSecret::Missing);
    }
    if secret.len() < MIN_SECRET_LEN {
        return Err(WeakSecret::TooShort(secret.len()));
    }
    let lower = secret.to_ascii_lowercase();
    if PLACEHOLDERS.iter().any(|p| lower.contains(p)) {
        return Err(WeakSecret::Placeholder);
    }
    let distinct: BTreeSet<char> = secret.chars().collect();
    if distinct.len() < MIN_DISTINCT {
        return Err(WeakSecret::TooUniform(
            "it uses fewer than 8 different characters",
        ));
    }
    if repeats_a_short_unit(secret) {
        return Err(WeakSecret::TooUniform("it repeats a short pattern"));
    }
    Ok(())
}

/// Whether `secret` is one short unit (under 16 bytes) written again and again.
fn repeats_a_short_unit(secret: &str) -> bool {
    let bytes = secret.as_bytes();
    (1..16.min(bytes.len() / 2 + 1))
        .any(|unit| bytes.iter().enumerate().all(|(i, b)| *b == bytes[i % unit]))
}

/// Token keys from the configured secret, after [`check`].
pub fn token_keys(secret: Option<&Secret>) -> anyhow::Result<TokenKeys> {
    let secret = secret.map(Secret::expose).unwrap_or_default();
    check(secret)?;
    Ok(TokenKeys::from_secret(secret)?)
}

/// The file under a data directory that keeps a secret the launcher generated.
pub fn generated_secret_path(data_dir: &Path) -> PathBuf {
    data_dir.join("auth-jwt-secret")
}

/// The secret kept at `path`, or a new one written there (readable by its owner only) when there
/// is none yet; the flag says whether it was created now. Two processes racing to create it end
/// with the same secret.
pub fn load_or_create(path: &Path) -> anyhow::Result<(Secret, bool)> {
    if let Some(secret) = read(path)? {
        return Ok((secret, false));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let secret = Secret::generate();
    // Written whole under a temporary name, then linked into place: a reader never sees half a
    // secret, and linking fails if another process got there first.
    let temporary = dir.join(format!(".auth-jwt-secret.{}", std::process::id()));
    write_private(&temporary, secret.expose())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", temporary.display()))?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok((secret, true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let secret =
                read(path)?.ok_or_else(|| anyhow::anyhow!("{} is empty", path.display()))?;
            Ok((secret, false))
        }
        Err(e) => Err(anyhow::anyhow!("cannot write {}: {e}", path.display())),
    }
}

fn read(path: &Path) -> anyhow::Result<Option<Secret>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let secret = Secret::new(text.trim());
            check(secret.expose()).map_err(|e| {
                anyhow::anyhow!(
                    "{} holds an unusable secret ({e}); delete it to have a new one made",
                    path.display()
                )
            })?;
            Ok(Some(secret))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_placeholder_is_refused_with_how_to_make_a_secret() {
        let refused = check("change-me-to-at-least-32-random-bytes-0000").expect_err("refused");
        assert_eq!(refused, WeakSecret::Placeholder);
        assert!(
            refused
                .to_string()
                .contains("head -c 32 /dev/urandom | base64")
        );
    }

    #[test]
    fn uniform_and_short_secrets_are_refused() {
        assert_eq!(check(""), Err(WeakSecret::Missing));
        assert_eq!(check("short"), Err(WeakSecret::TooShort(5)));
        assert!(matches!(
            check(&"a".repeat(40)),
            Err(WeakSecret::TooUniform(_))
        ));
        assert!(matches!(
            check(&"passwordpassword".repeat(3)),
            Err(WeakSecret::TooUniform(_))
        ));
        assert!(matches!(
            check(&"abcdefgh".repeat(5)),
            Err(WeakSecret::TooUniform(_))
        ));
        for refused in [
            WeakSecret::Missing,
            WeakSecret::TooShort(5),
            WeakSecret::TooUniform("x"),
        ] {
            assert!(refused.to_string().contains(HOW_TO_MAKE_ONE), "{refused}");
        }
    }

    #[test]
    fn random_secrets_pass() {
        assert_eq!(
            check("q8Xk2V0m3Jt7cYhN1wPzR5sL9bDfGa4eUo6iTnWvC0E="),
            Ok(())
        );
        assert_eq!(check("0123456789abcdef0123456789abcdef"), Ok(()));
        for _ in 0..100 {
            assert_eq!(check(Secret::generate().expose()), Ok(()));
        }
    }

    #[test]
    fn a_generated_secret_is_kept_private_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = generated_secret_path(&dir.path().join("data"));
        let (first, created) = load_or_create(&path).expect("created");
        assert!(created);
        let (again, created) = load_or_create(&path).expect("read back");
        assert!(!created);
        assert_eq!(first.expose(), again.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "change-me-to-at-least-32-random-bytes-0000").expect("write");
        let refused = load_or_create(&path).expect_err("refused");
        assert!(refused.to_string().contains("delete it"), "{refused}");
    }
}
