//! Checks on the test suite itself: every test runs under the one watchdog,
//! the shared helpers live in `tests/common` only, and the "is it parked /
//! queued" helpers mean what they say.
//!
//! The sources are read as text (a `#[test]` attribute line, the `fn` after
//! it, the first statement of its body): no parser dependency, and the
//! house style (`cargo fmt`) keeps that shape regular.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;

/// What a test body must start with (behaviour tests; unit tests in `src/`).
const WATCHDOG_LINES: [&str; 2] = [
    "let _watchdog = common::watchdog();",
    "let _watchdog = crate::test_watchdog::watchdog();",
];

/// Source files whose unit tests another branch is rewriting when this check
/// was added; they get the watchdog line with that rewrite. Remove an entry
/// once its file complies (the test below fails on a stale entry).
const PENDING: &[&str] = &[];

/// Helper names that belong to `tests/common` only: a second watchdog or a
/// second "wait until blocked" under another name is what this check exists
/// to prevent.
const COMMON_ONLY: &[&str] = &[
    "watchdog",
    "within",
    "wait_until_parked",
    "wait_until_queued",
    "spawn_queued_on",
    "queued_on",
    "is_parked",
    "until_parked",
    "spawn_parked",
    "wait_until_settled",
    "eventually",
    "wait_for",
    "wait_for_count",
    "until",
    "until_locked",
    "panic_message",
    "assert_err",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `dir/*.rs`, sorted.
fn rs_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    v.sort();
    v
}

/// Subdirectories of `dir`, sorted.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// Every file whose tests must run under the watchdog: `tests/*.rs`,
/// `tests/*/*.rs` and `src/**/*.rs`. Loom models (`tests/loom.rs`,
/// `tests/loom/`) are exempt: loom has its own deadlock detection and a
/// model never waits on the real clock.
fn checked_files() -> Vec<PathBuf> {
    let tests = root().join("tests");
    let mut files: Vec<PathBuf> = rs_files(&tests)
        .into_iter()
        .filter(|p| !p.ends_with("loom.rs"))
        .collect();
    for dir in subdirs(&tests) {
        if !dir.ends_with("loom") {
            files.extend(rs_files(&dir));
        }
    }
    let mut src_dirs = vec![root().join("src")];
    while let Some(dir) = src_dirs.pop() {
        files.extend(rs_files(&dir));
        src_dirs.extend(subdirs(&dir));
    }
    files
}

fn relative(p: &Path) -> String {
    p.strip_prefix(root()).unwrap().display().to_string()
}

/// A test function found in a source file.
#[derive(Debug)]
struct TestFn {
    file: String,
    line: usize,
    name: String,
    first_statement: String,
}

/// Every `#[test]` function of `text`, with the first statement of its body
/// (comment lines skipped).
fn test_fns(file: &str, text: &str) -> Vec<TestFn> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != "#[test]" {
            continue;
        }
        // Further attributes and comments, then the signature (maybe over
        // several lines) up to the line that opens the body.
        let mut j = i + 1;
        while !lines[j].trim_start().starts_with("fn ") && !lines[j].contains(" fn ") {
            j += 1;
        }
        let name = lines[j]
            .split("fn ")
            .nth(1)
            .and_then(|rest| rest.split(['(', '<']).next())
            .unwrap_or("?")
            .to_owned();
        while !lines[j].trim_end().ends_with('{') {
            j += 1;
        }
        let first_statement = lines[j + 1..]
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty() && !l.starts_with("//"))
            .unwrap_or("")
            .to_owned();
        found.push(TestFn {
            file: file.to_owned(),
            line: i + 1,
            name,
            first_statement,
        });
    }
    found
}

#[test]
#[cfg_attr(miri, ignore)] // reads the sources: Miri's isolation forbids it
fn every_test_runs_under_the_watchdog() {
    let _watchdog = common::watchdog();
    let mut all = Vec::new();
    for path in checked_files() {
        let text = fs::read_to_string(&path).unwrap();
        all.extend(test_fns(&relative(&path), &text));
    }
    // The scan itself works: it sees the suite (over 200 test functions, among
    // them this one and the macro-generated condition misuse suite).
    assert!(all.len() > 200, "only {} tests found: {all:#?}", all.len());
    assert!(
        all.iter()
            .any(|t| t.name == "every_test_runs_under_the_watchdog" && t.file == "tests/meta.rs")
    );

    let missing: Vec<String> = all
        .iter()
        .filter(|t| !WATCHDOG_LINES.contains(&t.first_statement.as_str()))
        .filter(|t| !PENDING.contains(&t.file.as_str()))
        .map(|t| {
            format!(
                "{}:{}: fn {} starts with `{}`",
                t.file, t.line, t.name, t.first_statement
            )
        })
        .collect();
    assert!(
        missing.is_empty(),
        "every test must start with `{}` (in src/: `{}`); these do not:\n{}",
        WATCHDOG_LINES[0],
        WATCHDOG_LINES[1],
        missing.join("\n")
    );

    for pending in PENDING {
        let tests: Vec<&TestFn> = all.iter().filter(|t| t.file == *pending).collect();
        assert!(
            tests
                .iter()
                .any(|t| !WATCHDOG_LINES.contains(&t.first_statement.as_str())),
            "{pending} complies now: remove it from PENDING in tests/meta.rs"
        );
    }
}

#[test]
#[cfg_attr(miri, ignore)] // reads the sources
fn shared_helpers_live_in_tests_common_only() {
    let _watchdog = common::watchdog();
    let mut duplicates = Vec::new();
    for path in checked_files() {
        let file = relative(&path);
        if file.starts_with("tests/common/") || file.starts_with("src/") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_start();
            let Some(rest) = line
                .strip_prefix("fn ")
                .or_else(|| line.strip_prefix("pub fn "))
            else {
                continue;
            };
            let name = rest.split(['(', '<']).next().unwrap_or("");
            if COMMON_ONLY.contains(&name) {
                duplicates.push(format!("{file}:{}: fn {name}", i + 1));
            }
        }
    }
    assert!(
        duplicates.is_empty(),
        "use the helper from tests/common instead of a local one:\n{}",
        duplicates.join("\n")
    );
}

// ----- the helpers' own checks -------------------------------------------------

/// A thread asleep in a futex wait that is not pysync's — a std `Mutex`, a
/// std channel — is not "parked": a test waiting for a pysync waiter
/// must not be fooled by a wait on its way there (0.1's check said "parked"
/// for any futex wait).
#[test]
#[cfg_attr(miri, ignore)] // reads /proc
fn is_parked_ignores_futex_waits_that_are_not_pysyncs() {
    let _watchdog = common::watchdog();
    let std_lock = std::sync::Mutex::new(());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        // Both are let go when this closure ends, also by a failed assertion.
        let (held, tx) = (std_lock.lock().unwrap(), tx);
        let (locker, locker_tid) = common::spawn_tid(s, || drop(std_lock.lock()));
        let (receiver, receiver_tid) = common::spawn_tid(s, move || rx.recv());
        for tid in [&locker_tid, &receiver_tid] {
            common::wait_for("the thread sleeps in a futex wait", || {
                matches!(common::futex_wait_args(tid), common::FutexWait::Args { .. })
            });
            assert!(
                !common::is_parked(tid),
                "a std wait passed for a pysync park"
            );
        }
        drop(held);
        locker.join().unwrap();
        tx.send(()).unwrap();
        receiver.join().unwrap().unwrap();
    });
}

/// The limit of `is_parked`, and why the order-sensitive tests wait with
/// `wait_until_queued`: a thread that sleeps on parking_lot_core's bucket
/// lock (here held by this test, from an unpark callback, as another
/// thread's table growth would hold it) looks parked to the kernel but is
/// not queued yet; `queued_on` reads the queue itself.
#[test]
#[cfg_attr(miri, ignore)] // reads /proc
fn queued_on_sees_the_queue_where_is_parked_only_sees_a_futex_wait() {
    let _watchdog = common::watchdog();
    let sem = pysync::Semaphore::new(0);
    let (holding, hold) = (AtomicBool::new(false), AtomicBool::new(true));
    assert_eq!(common::queued_on(&sem), 0);
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: wakes nobody (`Skip`); the callback runs under the
            // bucket lock of the semaphore's key (its address, the state
            // word's) and only waits for the test to let go.
            unsafe {
                parking_lot_core::unpark_filter(
                    &sem as *const _ as usize,
                    |_| parking_lot_core::FilterOp::Skip,
                    |_| {
                        holding.store(true, SeqCst);
                        while hold.load(SeqCst) {
                            std::thread::yield_now();
                        }
                        parking_lot_core::DEFAULT_UNPARK_TOKEN
                    },
                );
            }
        });
        // Lets the bucket go however this scope ends (a failed assertion
        // must not leave the holder spinning).
        struct LetGo<'a>(&'a AtomicBool);
        impl Drop for LetGo<'_> {
            fn drop(&mut self) {
                self.0.store(false, SeqCst);
            }
        }
        let let_go = LetGo(&hold);
        common::wait_for("the bucket lock is held", || holding.load(SeqCst));
        let (waiter, tid) = common::spawn_tid(s, || sem.acquire_timeout(Duration::from_secs(30)));
        // Asleep, by the kernel's word (parking_lot_core's futex wait), but
        // not queued: it waits for the bucket lock this test holds.
        common::wait_until_parked(&tid);
        drop(let_go);
        common::wait_until_queued(&tid, &sem, 1);
        assert_eq!(common::queued_on(&sem), 1);
        sem.release();
        assert!(waiter.join().unwrap());
    });
    assert_eq!(common::queued_on(&sem), 0);
}
