//! Disk trouble with the real binaries as child processes: answers given during a slow commit
//! survive `kill -9`, and a disk that fills up under an order load loses nothing that was
//! acknowledged (first with the storage fault layer, then with a real full filesystem).

use crate::durability::{System, check_acknowledged, load};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared_types::Role;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use uuid::Uuid;

const SLOW_COMMIT: (&str, &str) = ("STORAGE_FAULTS", "commit-delay-ms=400");

/// Calls in the background; the answer if it arrives (any non-2xx counts as "no answer").
fn spawn_call(
    system: &Arc<System>,
    method: Method,
    url: String,
    body: Option<Value>,
) -> tokio::task::JoinHandle<(StatusCode, Value)> {
    let system = Arc::clone(system);
    tokio::spawn(async move {
        let token = system.token(Role::Service, "checker");
        system.call(method, url, Some(token), body, None).await
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn course_service_answers_given_during_a_slow_commit_survive_kill_9() {
    let slow = [(SLOW_COMMIT.0, SLOW_COMMIT.1.to_owned())];
    let system = Arc::new(System::start_with(None, &slow, &[]));
    let course = system.create_course(5).await;
    let base = format!("{}/api/courses/{course}/reservations", system.course_base);

    // A hold and its replay, both in flight when the process dies mid-commit.
    let id = Uuid::now_v7();
    let body = json!({"student_id": "s1"});
    let first = spawn_call(
        &system,
        Method::PUT,
        format!("{base}/{id}"),
        Some(body.clone()),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let replay = spawn_call(
        &system,
        Method::PUT,
        format!("{base}/{id}"),
        Some(body.clone()),
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    system.course.lock().kill9();
    let answers = [first.await.expect("hold"), replay.await.expect("replay")];
    system.course.lock().restart();
    let (status, stored) = system
        .reservation(&course.to_string(), &id.to_string())
        .await;
    for (answered, reply) in &answers {
        if answered.is_success() {
            assert_eq!(
                status,
                StatusCode::OK,
                "answered {answered} {reply}, then lost"
            );
            assert_eq!(stored["status"], "held", "{stored}");
        }
    }

    // A confirm and its repeat, in flight when the process dies mid-commit.
    let id = Uuid::now_v7();
    let (held, reply) = spawn_call(&system, Method::PUT, format!("{base}/{id}"), Some(body))
        .await
        .expect("hold");
    assert_eq!(held, StatusCode::CREATED, "{reply}");
    let confirm = spawn_call(&system, Method::POST, format!("{base}/{id}/confirm"), None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let repeat = spawn_call(&system, Method::POST, format!("{base}/{id}/confirm"), None);
    let read = spawn_call(&system, Method::GET, format!("{base}/{id}"), None);
    tokio::time::sleep(Duration::from_millis(150)).await;
    system.course.lock().kill9();
    let answers = [
        confirm.await.expect("confirm"),
        repeat.await.expect("repeat"),
        read.await.expect("read"),
    ];
    system.course.lock().restart();
    let (_, stored) = system
        .reservation(&course.to_string(), &id.to_string())
        .await;
    for (answered, reply) in &answers {
        if answered.is_success() {
            assert_eq!(
                stored["status"], reply["status"],
                "answered {answered} {reply}, then after restart {stored}"
            );
        }
    }
    let c = system.course(course).await;
    let sold = u64::from(stored["status"] == "confirmed");
    assert_eq!(c["seats_sold"].as_u64(), Some(sold), "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_order_answer_survives_kill_9_of_order_service() {
    let slow = [(SLOW_COMMIT.0, SLOW_COMMIT.1.to_owned())];
    let system = Arc::new(System::start_with(None, &[], &slow));
    let course = system.create_course(5).await;
    let first = {
        let system = Arc::clone(&system);
        tokio::spawn(async move { system.buy("s1", course, Some("key-1")).await })
    };
    // Replays until one answers 201; order-service dies right after that answer.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let answered = loop {
        let (status, order) = system.buy("s1", course, Some("key-1")).await;
        if status == StatusCode::CREATED {
            break order;
        }
        assert!(
            status == StatusCode::CONFLICT && order["code"] == "request_in_progress",
            "{status} {order}"
        );
        assert!(Instant::now() < deadline, "no replay answered 201");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    system.orders.lock().kill9();
    let _ = first.await;
    system.orders.lock().set_env(SLOW_COMMIT.0, None);
    system.orders.lock().restart();
    let (status, again) = system.buy("s1", course, Some("key-1")).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the replayed 201 came back as {status} {again}"
    );
    assert_eq!(again["id"], answered["id"]);
    assert_eq!(system.course(course).await["seats_sold"], 1);
}

/// Orders over two courses while course-service's disk fills up (after `commits` successful
/// commits under the fault layer, or for real when `real` holds a filler file to delete). Then
/// course-service restarts with space back: every acknowledged order keeps its seat.
async fn disk_fills_under_load(system: Arc<System>, courses: [Uuid; 2], free_space: impl FnOnce()) {
    let watcher = {
        let system = Arc::clone(&system);
        tokio::spawn(async move {
            // The moment course-service reports itself failed.
            let deadline = Instant::now() + Duration::from_secs(10);
            let url = format!("{}/health/live", system.course_base);
            while Instant::now() < deadline {
                let (status, _) = system
                    .call(Method::GET, url.clone(), None, None, None)
                    .await;
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            false
        })
    };
    let (students, acks) = load(Arc::clone(&system), courses, Duration::from_millis(2500)).await;
    let failed = watcher.await.expect("watcher");
    assert!(
        failed,
        "course-service never failed ({} orders acknowledged)",
        acks.len()
    );
    assert!(
        acks.len() >= 10,
        "too little acknowledged to mean anything: {}",
        acks.len()
    );
    // Fail-stop: the failed service refuses reads and replays as well as changes.
    let course = courses[0];
    let (status, body) = system
        .call(
            Method::GET,
            format!("{}/api/courses/{course}", system.course_base),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("service_unavailable")),
        "{body}"
    );
    let (status, _) = system.buy("late-student", course, None).await;
    assert_ne!(
        status,
        StatusCode::CREATED,
        "an order was confirmed after the disk failed"
    );

    system.course.lock().kill9();
    free_space();
    system.course.lock().set_env("STORAGE_FAULTS", None);
    system.course.lock().restart();
    let orders = system.settle_and_check(&students, &courses).await;
    check_acknowledged(&orders, &acks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_fills_under_load_loses_no_acknowledged_order() {
    let full = [("STORAGE_FAULTS", "fail-after-commits=150".to_owned())];
    let system = Arc::new(System::start_with(None, &full, &[]));
    let courses = [
        system.create_course(80).await,
        system.create_course(80).await,
    ];
    disk_fills_under_load(system, courses, || {}).await;
}

/// A small filesystem of its own for course-service's store: a tmpfs mounted by the test
/// (root only), unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(SmallDisk { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills the filesystem until a write fails, leaving `leave` bytes free (about).
    fn fill(&self, leave: u64) -> std::path::PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        file.set_len(written.saturating_sub(leave))
            .expect("truncate filler");
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_filesystem_that_fills_under_load_loses_no_acknowledged_order() {
    let Some(disk) = SmallDisk::mount(64) else {
        eprintln!(
            "cannot mount a small tmpfs here (not root?): the full disk is covered by \
             a_disk_that_fills_under_load_loses_no_acknowledged_order with the fault layer"
        );
        return;
    };
    let system = Arc::new(System::start_with(Some(disk.path()), &[], &[]));
    let courses = [
        system.create_course(80).await,
        system.create_course(80).await,
    ];
    let filler = disk.fill(64 * 1024);
    disk_fills_under_load(system, courses, || {
        std::fs::remove_file(&filler).expect("remove filler");
    })
    .await;
}
