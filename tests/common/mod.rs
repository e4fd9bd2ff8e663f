//! Helpers shared by every behaviour test: the one watchdog and the one
//! "wait until that thread is parked" check.
//!
//! * Every test starts with `let _watchdog = common::watchdog();` (the test
//!   `every_test_runs_under_the_watchdog` in `tests/meta.rs` checks this):
//!   a hang — a lost wake-up — fails with the test's name instead of
//!   stalling CI.
//! * A test that needs "A is parked before B acts" waits for the state
//!   itself with [`wait_until_parked`], never for a sleep.
#![allow(dead_code)] // each test file uses the helpers it needs

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long any one test may run before the watchdog declares it hung.
/// Generous: Miri and ThreadSanitizer run the same tests many times slower.
pub const WATCHDOG: Duration = Duration::from_secs(if cfg!(miri) { 1200 } else { 120 });

/// Generous bound for "this must happen soon" (a woken thread returns, a
/// thread blocks): a sanity limit for a loaded machine, never a speed claim.
pub const PROMPT: Duration = Duration::from_secs(30);

/// Arms the watchdog for the calling test; dropping the guard (when the test
/// returns or unwinds) disarms it. If the test is still running after
/// [`WATCHDOG`], the process aborts with a message naming the test.
#[must_use = "the watchdog disarms when this guard is dropped"]
pub fn watchdog() -> Watchdog {
    let name = thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned();
    let (done, rx) = mpsc::channel::<()>();
    thread::Builder::new()
        .name(format!("watchdog: {name}"))
        .spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(WATCHDOG) {
                // Straight to stderr: libtest's capture would lose the
                // message when the process aborts.
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "test `{name}` HUNG: still running after {WATCHDOG:?}; aborting"
                );
                std::process::abort();
            }
        })
        .expect("spawn the watchdog thread");
    Watchdog { _done: done }
}

/// The armed watchdog of one test (see [`watchdog`]).
pub struct Watchdog {
    _done: mpsc::Sender<()>,
}

/// The calling thread's kernel id (Linux's `/proc/thread-self`), to pass to
/// [`wait_until_parked`] from another thread.
pub fn current_tid() -> Tid {
    let link = std::fs::read_link("/proc/thread-self").expect("Linux /proc/thread-self");
    Tid(link
        .file_name()
        .expect("/proc/thread-self names a task")
        .to_string_lossy()
        .into_owned())
}

/// A thread's kernel id, from [`current_tid`].
#[derive(Clone, Debug)]
pub struct Tid(String);

/// Whether thread `tid` is asleep in a futex wait. pysync parks through
/// parking_lot_core, which queues the thread on the primitive's key
/// *before* it sleeps on a futex, so for a thread whose only blocking call
/// is a pysync wait this means: queued and asleep.
pub fn is_parked(tid: &Tid) -> bool {
    let task = format!("/proc/self/task/{}", tid.0);
    let Ok(stat) = std::fs::read_to_string(format!("{task}/stat")) else {
        return false; // exited
    };
    // The state is the first field after the parenthesised name.
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.trim().chars().next());
    if state != Some('S') {
        return false;
    }
    // In a futex wait: the kernel's wait channel says so, or (where wchan is
    // hidden) the system call in progress is futex.
    let wchan = std::fs::read_to_string(format!("{task}/wchan")).unwrap_or_default();
    if wchan.contains("futex") {
        return true;
    }
    let syscall = std::fs::read_to_string(format!("{task}/syscall")).unwrap_or_default();
    let nr = syscall.split_whitespace().next().unwrap_or("");
    const FUTEX: &[&str] = if cfg!(target_arch = "x86_64") {
        &["202"]
    } else if cfg!(target_arch = "x86") {
        &["240", "422"] // futex, futex_time64
    } else if cfg!(target_arch = "aarch64") {
        &["98"]
    } else {
        &[]
    };
    FUTEX.contains(&nr)
}

/// Waits until thread `tid` is parked (see [`is_parked`]): a test that needs
/// "A is queued before B acts" asks the kernel instead of sleeping and
/// hoping. Panics after [`PROMPT`].
pub fn wait_until_parked(tid: &Tid) {
    let start = Instant::now();
    while !is_parked(tid) {
        assert!(start.elapsed() < PROMPT, "thread {} never parked", tid.0);
        thread::yield_now();
    }
}

/// Spawns `f` on a scoped thread and waits until it is parked; returns its
/// handle. For "this thread is queued first" set-ups.
pub fn spawn_parked<'scope, T: Send + 'scope>(
    s: &'scope thread::Scope<'scope, '_>,
    f: impl FnOnce() -> T + Send + 'scope,
) -> thread::ScopedJoinHandle<'scope, T> {
    let (tx, rx) = mpsc::channel();
    let handle = s.spawn(move || {
        tx.send(current_tid())
            .expect("the spawner waits for the tid");
        f()
    });
    let tid = rx.recv().expect("the thread reports its tid");
    wait_until_parked(&tid);
    handle
}

/// Waits (yielding, never sleeping a fixed time) until `cond` holds; panics
/// with `what` after [`PROMPT`]. For states that are visible directly
/// (a counter, `n_waiting`), rather than a thread's kernel state.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PROMPT, "never happened: {what}");
        thread::yield_now();
    }
}
