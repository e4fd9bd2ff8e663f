//! Helpers shared by every behaviour test: the one watchdog, the one
//! "wait until that thread is parked" check, and the small assertions the
//! misuse tests share.
//!
//! * Every test starts with `let _watchdog = common::watchdog();` (the test
//!   `every_test_runs_under_the_watchdog` in `tests/meta.rs` checks this):
//!   a hang — a lost wake-up — fails with the test's name instead of
//!   stalling CI.
//! * A test that needs "A is parked before B acts" waits for the state
//!   itself with [`wait_until_parked`] / [`spawn_parked`], never for a
//!   sleep; "nothing else happens" after an action is [`wait_until_settled`]
//!   (every other thread asleep or gone) followed by the assertion. These
//!   read `/proc`, which Miri cannot: such tests are
//!   `#[cfg_attr(miri, ignore)]`.
//! * A directly visible state (a counter, `n_waiting`) is awaited with
//!   [`wait_for`], one registered under a condition's lock with
//!   [`until_locked`].
#![allow(dead_code)] // each test file uses the helpers it needs

mod watchdog;
#[allow(unused_imports)] // each test file uses what it needs
pub use watchdog::{WATCHDOG, Watchdog, watchdog, watchdog_limit};

use pysync::{Condition, ConditionLock, Error};
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Generous bound for "this must happen soon" (a woken thread returns, a
/// thread blocks): a sanity limit for a loaded machine, never a speed claim.
pub const PROMPT: Duration = Duration::from_secs(30);

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

/// Whether every thread in `tids` is asleep in a futex wait or has exited:
/// nothing is running any more that could still change what a test is about
/// to check.
pub fn is_settled(tids: &[Tid]) -> bool {
    tids.iter().all(|tid| {
        is_parked(tid) || !std::fs::exists(format!("/proc/self/task/{}", tid.0)).unwrap_or(false)
    })
}

/// Waits until [`is_settled`]: after an action that must wake nobody (or
/// exactly n), the threads it might have wrongly woken have either gone back
/// to sleep or finished, so "nobody else woke" can be asserted without
/// sleeping and hoping. A thread wrongly woken is runnable at once (the
/// wake-up is synchronous), so it cannot pass for settled before it has run.
/// Panics after [`PROMPT`].
pub fn wait_until_settled(tids: &[Tid]) {
    let start = Instant::now();
    while !is_settled(tids) {
        assert!(
            start.elapsed() < PROMPT,
            "threads {tids:?} never settled (parked or exited)"
        );
        thread::yield_now();
    }
}

/// Spawns `f` on a scoped thread and waits until it is parked; returns its
/// handle. For "this thread is queued first" set-ups.
pub fn spawn_parked<'scope, T: Send + 'scope>(
    s: &'scope thread::Scope<'scope, '_>,
    f: impl FnOnce() -> T + Send + 'scope,
) -> thread::ScopedJoinHandle<'scope, T> {
    let (handle, tid) = spawn_tid(s, f);
    wait_until_parked(&tid);
    handle
}

/// Spawns `f` on a scoped thread and returns its handle and kernel id at
/// once (for [`wait_until_parked`] / [`wait_until_settled`] later).
pub fn spawn_tid<'scope, T: Send + 'scope>(
    s: &'scope thread::Scope<'scope, '_>,
    f: impl FnOnce() -> T + Send + 'scope,
) -> (thread::ScopedJoinHandle<'scope, T>, Tid) {
    let (tx, rx) = mpsc::channel();
    let handle = s.spawn(move || {
        tx.send(current_tid())
            .expect("the spawner waits for the tid");
        f()
    });
    (handle, rx.recv().expect("the thread reports its tid"))
}

/// [`spawn_tid`] for an unscoped thread (`thread::spawn`).
pub fn spawn_static_tid<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> (thread::JoinHandle<T>, Tid) {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        tx.send(current_tid())
            .expect("the spawner waits for the tid");
        f()
    });
    (handle, rx.recv().expect("the thread reports its tid"))
}

/// [`spawn_parked`] for an unscoped thread (`thread::spawn`).
pub fn spawn_static_parked<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let (handle, tid) = spawn_static_tid(f);
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

/// Spins (releasing the lock between looks, yielding) until `f()` holds
/// under the condition's lock. A waiter that registers under the lock right
/// before `wait` is queued on the condition once its registration is seen
/// (`wait` queues itself before it releases the lock), so this is "the
/// waiter is queued" without `/proc`. Panics after [`PROMPT`].
#[track_caller]
pub fn until_locked<L: ConditionLock>(cond: &Condition<L>, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        let g = cond.lock();
        if f() {
            return;
        }
        drop(g);
        assert!(start.elapsed() < PROMPT, "condition not reached in time");
        thread::yield_now();
    }
}

// ----- assertions the misuse tests share ---------------------------------------

/// The message of a panic payload (`&str` or `String`).
pub fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Runs `f`, which must panic, and returns the panic's message.
#[track_caller]
pub fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic, but it returned normally"),
        Err(payload) => message(&*payload),
    }
}

/// Asserts the error variant and its Display message (worded like Python's).
#[track_caller]
pub fn assert_err<T: std::fmt::Debug>(r: Result<T, Error>, want: Error, msg: &str) {
    match r {
        Err(e) => {
            assert_eq!(e, want);
            assert_eq!(e.to_string(), msg);
        }
        Ok(v) => panic!("expected Err({want:?}), got Ok({v:?})"),
    }
}

/// Timeouts that mean "forever" and must never panic on `Instant` overflow.
pub const HUGE: [Duration; 2] = [Duration::MAX, Duration::from_secs(u64::MAX)];

/// A deadline that has already passed.
pub fn past() -> Instant {
    let now = Instant::now();
    now.checked_sub(Duration::from_secs(1)).unwrap_or(now)
}

/// A deadline a century away.
pub fn far_future() -> Instant {
    Instant::now()
        .checked_add(Duration::from_secs(100 * 365 * 24 * 3600))
        .expect("a century from now is representable")
}

/// The latest representable `Instant`: the most extreme "far future"
/// deadline, which the parking layer must turn into a wait (not an overflow
/// panic, not an immediate timeout).
pub fn max_instant() -> Instant {
    let now = Instant::now();
    let (mut lo, mut hi) = (0u64, u64::MAX);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if now.checked_add(Duration::from_secs(mid)).is_some() {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let t = now + Duration::from_secs(lo);
    let mut ns = 999_999_999u32;
    loop {
        if let Some(m) = t.checked_add(Duration::from_nanos(u64::from(ns))) {
            return m;
        }
        ns /= 2;
    }
}

/// Runs `f`, asserting it returned within [`PROMPT`] (a sanity bound, not a
/// speed test).
#[track_caller]
pub fn prompt<T>(f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let v = f();
    assert!(start.elapsed() < PROMPT, "took {:?}", start.elapsed());
    v
}
