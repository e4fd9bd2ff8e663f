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
//!   sleep; one whose assertion depends on A being *queued* on the
//!   primitive (FIFO order, no barging, who is woken) waits for the queue
//!   with [`wait_until_queued`] / [`spawn_queued_on`], since the kernel
//!   cannot tell a parked thread from one asleep on parking_lot_core's
//!   bucket lock; "nothing else happens" after an action is [`wait_until_settled`]
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

/// Whether thread `tid` is asleep in a futex wait of the kind pysync
/// sleeps in: parking_lot_core's (`FUTEX_WAIT | FUTEX_PRIVATE_FLAG` on its
/// per-thread word, expecting 1) or `pysync::process`'s (`FUTEX_WAIT` on a
/// shared word, no private flag). pysync parks through parking_lot_core,
/// which queues the thread on the primitive's key *before* it sleeps, so
/// for a thread whose only blocking call is a pysync wait this usually
/// means: queued and asleep.
///
/// Usually, not always: a thread on its way to the queue can sleep on a
/// futex that looks the same, parking_lot_core's own bucket lock (a
/// thread-data word, value 1, while another thread holds the bucket, say to
/// grow the table for a new thread). A test whose assertion depends on the
/// thread being *queued* — FIFO order, no barging, who is woken — waits for
/// that instead: [`wait_until_queued`] / [`spawn_queued_on`]. What this
/// rules out (and 0.1's check did not) are the other futex waits a thread
/// can sleep in on its way: glibc's internal locks (`malloc`'s arena lock,
/// value 2) and std's `Mutex`/`Condvar`/`thread::park`
/// (`FUTEX_WAIT_BITSET`).
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
    match futex_wait_args(tid) {
        FutexWait::Args { op, val } => pysync_futex_wait(op, val),
        // Unreadable arguments (no ptrace access to ourselves): fall back to
        // "some futex wait", from the kernel's wait channel.
        FutexWait::Unknown => std::fs::read_to_string(format!("{task}/wchan"))
            .unwrap_or_default()
            .contains("futex"),
        FutexWait::No => false,
    }
}

/// What `/proc/<tid>/syscall` says a thread is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutexWait {
    /// A futex call with these `op` and `val` arguments.
    Args { op: u64, val: u64 },
    /// Another system call, or none (running, exited).
    No,
    /// The file could not be read.
    Unknown,
}

/// The futex arguments of the system call thread `tid` is in, read from
/// `/proc/<tid>/syscall` (the call's number, then its arguments in hex; for
/// futex: address, op, value, ...).
pub fn futex_wait_args(tid: &Tid) -> FutexWait {
    let Ok(syscall) = std::fs::read_to_string(format!("/proc/self/task/{}/syscall", tid.0)) else {
        return if std::fs::exists(format!("/proc/self/task/{}", tid.0)).unwrap_or(false) {
            FutexWait::Unknown
        } else {
            FutexWait::No
        };
    };
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    match syscall.split_whitespace().collect::<Vec<_>>().as_slice() {
        [nr, _addr, op, val, ..] if FUTEX.contains(nr) => match (hex(op), hex(val)) {
            (Some(op), Some(val)) => FutexWait::Args { op, val },
            _ => FutexWait::Unknown,
        },
        [] => FutexWait::Unknown,
        _ => FutexWait::No,
    }
}

/// The futex system call numbers of this target.
const FUTEX: &[&str] = if cfg!(target_arch = "x86_64") {
    &["202"]
} else if cfg!(target_arch = "x86") {
    &["240", "422"] // futex, futex_time64
} else if cfg!(target_arch = "aarch64") {
    &["98"]
} else {
    &[]
};

/// Whether a futex wait with these `op` and `val` arguments is one pysync
/// sleeps in.
fn pysync_futex_wait(op: u64, val: u64) -> bool {
    const FUTEX_WAIT: u64 = 0;
    const FUTEX_PRIVATE_FLAG: u64 = 128;
    // parking_lot_core's thread parker: private, sleeps while its word is 1;
    // or pysync::process: a shared futex, any expected value.
    (op == FUTEX_WAIT | FUTEX_PRIVATE_FLAG && val == 1) || op == FUTEX_WAIT
}

/// How many threads are queued in parking_lot_core on keys inside
/// `primitive`'s own bytes. pysync keys every queue on the address of a
/// state word of the primitive (`park` module docs), so this counts the
/// threads waiting on it — read under each queue's lock, without waking
/// anyone. (Zero for a primitive whose queues live elsewhere, such as
/// behind an `Arc`: a test that waits for a count there fails loudly.)
pub fn queued_on<T: ?Sized>(primitive: &T) -> usize {
    let start = primitive as *const T as *const u8 as usize;
    let mut queued = 0;
    for key in start..start + std::mem::size_of_val(primitive) {
        // SAFETY: the filter leaves every thread where it is (`Skip`) and
        // the callback changes nothing, so no other primitive's queue is
        // disturbed; the keys are addresses inside a live object.
        unsafe {
            parking_lot_core::unpark_filter(
                key,
                |_| {
                    queued += 1;
                    parking_lot_core::FilterOp::Skip
                },
                |_| parking_lot_core::DEFAULT_UNPARK_TOKEN,
            );
        }
    }
    queued
}

/// Waits until thread `tid` is parked ([`is_parked`]) *and* at least `n`
/// threads are queued on `primitive` ([`queued_on`]): for the tests whose
/// assertion depends on the queue itself (FIFO order, no barging, who is
/// woken). Panics after [`PROMPT`].
#[track_caller]
pub fn wait_until_queued<T: ?Sized>(tid: &Tid, primitive: &T, n: usize) {
    let start = Instant::now();
    while !(is_parked(tid) && queued_on(primitive) >= n) {
        assert!(
            start.elapsed() < PROMPT,
            "thread {} never queued on the primitive as waiter {n} (queued: {})",
            tid.0,
            queued_on(primitive)
        );
        thread::yield_now();
    }
}

/// Spawns `f` on a scoped thread and waits until it is parked and queued on
/// `primitive` behind the threads queued there already
/// ([`wait_until_queued`]); returns its handle and kernel id. For "this
/// thread is queued first" set-ups in which nobody leaves the queue
/// meanwhile.
#[track_caller]
pub fn spawn_queued_on<'scope, T: Send + 'scope, P: ?Sized>(
    s: &'scope thread::Scope<'scope, '_>,
    primitive: &P,
    f: impl FnOnce() -> T + Send + 'scope,
) -> (thread::ScopedJoinHandle<'scope, T>, Tid) {
    let ahead = queued_on(primitive);
    let (handle, tid) = spawn_tid(s, f);
    wait_until_queued(&tid, primitive, ahead + 1);
    (handle, tid)
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

/// How many times thread `tid` has gone to sleep so far
/// (`voluntary_ctxt_switches` in `/proc/self/task/<tid>/status`), or `None`
/// once it has exited. A parked thread's count stays put; one woken up that
/// sleeps again (or blocks anywhere) adds at least one, and one that ran to
/// its end reads `None`. So "unchanged after [`wait_until_settled`]" means:
/// it was not woken meanwhile — the wake-ups a requeue exists to avoid.
pub fn voluntary_switches(tid: &Tid) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/self/task/{}/status", tid.0)).ok()?;
    let count = status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("voluntary_ctxt_switches in /proc status");
    Some(count)
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
