//! Checks on the test suite itself: every test runs under the one watchdog,
//! and the shared helpers live in `tests/common` only.
//!
//! The sources are read as text (a `#[test]` attribute line, the `fn` after
//! it, the first statement of its body): no parser dependency, and the
//! house style (`cargo fmt`) keeps that shape regular.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

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
