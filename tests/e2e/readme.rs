//! The README's examples, run as a newcomer pastes them: the shell blocks of its "Try it with
//! curl" section are read from README.md at test time and run by bash, in order, in one shell,
//! after the `export` lines of a freshly started launcher's banner. So the test fails when the
//! README drifts from the code, when an example uses a variable nothing sets (`set -u`), or when a
//! call answers an error (curl runs with `--fail-with-body`).
//!
//! `cargo run [-q] --release [--] ARGS` in the blocks runs the launcher this test built, with the
//! same arguments. A curl line ending in a comment like `# seats_held: 0, seats_available: 1`
//! must print JSON with those fields and values.

use e2e_tests::launcher::{self, Launcher};
use std::{
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

/// The section whose shell blocks are run.
const SECTION: &str = "## Try it with curl";

/// The ```sh blocks of the README's `heading` section, up to the next `## ` heading.
fn shell_blocks(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no section {heading:?}"));
    let section = &readme[start + heading.len() + 2..];
    let section = section.find("\n## ").map_or(section, |end| &section[..end]);
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in section.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(block), "```") => {
                blocks.push(block.join("\n"));
                current = None;
            }
            (Some(block), line) => block.push(line),
            (None, _) => {}
        }
    }
    blocks
}

/// `"key":value` for each `key: value` of a trailing comment, when `line` is a one-line curl
/// command ending in one.
fn expectations(line: &str) -> Option<(&str, Vec<String>)> {
    let (command, comment) = line.rsplit_once("  # ")?;
    if !command.trim_start().starts_with("curl ") || command.trim_end().ends_with('\\') {
        return None;
    }
    let wanted: Option<Vec<String>> = comment
        .split(", ")
        .map(|pair| {
            let (key, value) = pair.trim().split_once(": ")?;
            let plain = key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            (plain && !value.contains(' ')).then(|| format!("\"{key}\":{value}"))
        })
        .collect();
    Some((command.trim_end(), wanted?))
}

/// The script bash runs: strict mode, a strict curl, the banner's exports, then the blocks with
/// each commented expectation checked.
fn script(exports: &[(String, String)], blocks: &[String]) -> String {
    let mut script = String::from(
        r#"set -euo pipefail
curl() { command curl --fail-with-body --show-error --max-time 20 "$@"; }
expect_json() {
  local out=$1; shift
  for want in "$@"; do
    case $out in *"$want"*) ;; *) echo "README: expected $want in: $out" >&2; exit 1 ;; esac
  done
}
"#,
    );
    for (name, value) in exports {
        script.push_str(&format!("export {name}={value}\n"));
    }
    for block in blocks {
        for line in block.lines() {
            match expectations(line) {
                Some((command, wanted)) => {
                    let wanted: Vec<String> = wanted.iter().map(|w| format!("'{w}'")).collect();
                    script.push_str(&format!(
                        "out=$({command}); printf '%s\\n' \"$out\"; expect_json \"$out\" {}\n",
                        wanted.join(" ")
                    ));
                }
                None => {
                    script.push_str(line);
                    script.push('\n');
                }
            }
        }
    }
    script
}

/// A `cargo` that runs the launcher built for this test, as `cargo run --release` would.
fn fake_cargo(bin: &Path) {
    let script = format!(
        r#"#!/bin/sh
[ "$1" = run ] || {{ echo "only 'cargo run' is expected here, not: cargo $*" >&2; exit 97; }}
shift
while [ $# -gt 0 ]; do
  case "$1" in -q|--release) shift ;; --) shift; break ;; *) break ;; esac
done
exec '{}' "$@"
"#,
        launcher::binary().display()
    );
    std::fs::create_dir_all(bin).expect("bin dir");
    let path = bin.join("cargo");
    std::fs::write(&path, script).expect("write cargo");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn the_readme_examples_run_as_written_against_a_started_system() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("README.md");
    let blocks = shell_blocks(&readme, SECTION);
    assert!(
        blocks.len() >= 2,
        "{SECTION} has {} shell blocks",
        blocks.len()
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let (bin, tmp) = (dir.path().join("bin"), dir.path().join("tmp"));
    fake_cargo(&bin);
    std::fs::create_dir_all(&tmp).expect("tmp");
    let system = Launcher::start_in(dir.path(), &[]);
    let exports: Vec<(String, String)> = system.exports.clone().into_iter().collect();
    for name in [
        "COURSE_URL",
        "ORDER_URL",
        "COURSE_ID",
        "INSTRUCTOR_TOKEN",
        "STUDENT_TOKEN",
    ] {
        system.export(name);
    }

    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Output goes to files, not pipes: a process the examples left in the background must not
    // keep the test waiting for the end of a pipe.
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let file = |path: &Path| std::fs::File::create(path).expect("output file");
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script(&exports, &blocks))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir.path())
        .env("TMPDIR", &tmp)
        .process_group(0)
        .stdout(file(&out_path))
        .stderr(file(&err_path))
        .spawn()
        .expect("bash");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever the examples started in the background goes too.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let (stdout, stderr) = (read(&out_path), read(&err_path));
    assert!(
        status.is_some_and(|s| s.success()),
        "the README's examples failed ({status:?}; None: still running after 2 minutes):\n\
         --- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}

#[test]
fn commented_curl_lines_become_checks() {
    assert_eq!(
        expectations(r#"curl -s "$U/x"    # seats_held: 0, status: "ok""#),
        Some((
            r#"curl -s "$U/x""#,
            vec![
                r#""seats_held":0"#.to_owned(),
                r#""status":"ok""#.to_owned()
            ]
        ))
    );
    assert_eq!(
        expectations("curl -s x  # for the reservation endpoints, 5 min max"),
        None
    );
    assert_eq!(expectations("echo x  # seats_held: 0"), None);
}
