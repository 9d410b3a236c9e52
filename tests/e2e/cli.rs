//! The service binaries' command lines and start-up messages: `healthcheck` takes its options
//! before or after the subcommand and lists them in its help, and a store another process holds
//! is refused in one line that names the path and that process.

use e2e_tests::procs::{self, ServiceProcess};

const SECRET: &str = "cli-test-secret-0123456789abcdefghijklmnopqrstu";

#[test]
fn healthcheck_takes_its_port_before_or_after_the_subcommand() {
    for name in ["course-service", "order-service"] {
        let mut env = vec![
            ("AUTH_JWT_SECRET", SECRET.to_owned()),
            ("STORAGE", "memory".to_owned()),
        ];
        let upstream = (name == "order-service").then(|| {
            ServiceProcess::start(
                "course-service",
                &[
                    ("AUTH_JWT_SECRET", SECRET.to_owned()),
                    ("STORAGE", "memory".to_owned()),
                ],
            )
        });
        if let Some(course) = &upstream {
            env.push(("COURSE_SERVICE_URL", course.base()));
        }
        let service = ServiceProcess::start(name, &env);
        let port = service.port.to_string();
        for args in [
            ["healthcheck", "--port", &port],
            ["--port", &port, "healthcheck"],
        ] {
            let probe = procs::run(name, &args, &[]);
            assert_eq!(probe.code, Some(0), "{name} {args:?}: {}", probe.stderr);
        }
        let nobody = e2e_tests::launcher::free_port().to_string();
        let probe = procs::run(name, &["healthcheck", "--port", &nobody], &[]);
        assert_eq!(probe.code, Some(1), "{name}: nothing listens on {nobody}");
        assert!(probe.stderr.contains("unhealthy"), "{}", probe.stderr);

        let help = procs::run(name, &["healthcheck", "--help"], &[]);
        assert_eq!(help.code, Some(0));
        assert!(help.stdout.contains("--port"), "{name}: {}", help.stdout);
    }
}

#[test]
fn a_store_in_use_names_its_path_and_the_process_using_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["course-service", "order-service"] {
        let mut env = vec![
            ("AUTH_JWT_SECRET", SECRET.to_owned()),
            ("DATA_DIR", dir.path().display().to_string()),
        ];
        if name == "order-service" {
            // Never contacted at start-up.
            env.push(("COURSE_SERVICE_URL", "http://127.0.0.1:9".to_owned()));
        }
        let first = ServiceProcess::start(name, &env);
        let second = procs::run(name, &[], &env);
        assert_eq!(second.code, Some(1), "{name}: {}", second.stderr);
        let path = std::path::absolute(dir.path().join(name)).expect("absolute");
        let pid = first.pid().expect("running");
        let expected = format!(
            "another process is using the store {} (pid {pid})",
            path.display()
        );
        assert!(
            second.stderr.contains(&expected),
            "{name}: {}",
            second.stderr
        );
        assert_eq!(
            second.stderr.trim().lines().count(),
            1,
            "one line: {}",
            second.stderr
        );
        assert!(!second.stderr.contains("Fjall"), "{}", second.stderr);
    }
}

/// Whether this process runs as root (which may write anywhere).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[test]
fn a_data_directory_the_service_may_not_write_is_refused_in_one_line_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let binary = procs::binaries().join("course-service");
    // As root, run as `nobody` (root may write anywhere); otherwise take the write bit away.
    let mut command = if running_as_root() {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&binary);
        c
    } else {
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o500)).expect("chmod");
        std::process::Command::new(&binary)
    };
    let output = command
        .env_clear()
        .env("AUTH_JWT_SECRET", SECRET)
        .env("DATA_DIR", &data)
        .env("PORT", "0")
        .output()
        .expect("run course-service");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    let path = data.join("course-service");
    assert!(
        stderr.contains(&format!("{}: permission denied; ", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("chown -R "), "says how to fix it: {stderr}");
    for noise in ["Fjall", "os error", "move"] {
        assert!(!stderr.contains(noise), "{noise:?} in {stderr}");
    }
}
