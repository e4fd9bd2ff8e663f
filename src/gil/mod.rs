//! [`Gil`]: a GIL-style lock like CPython's global interpreter lock
//! (`Python/ceval_gil.c`), scheduled by fair share instead of CPython's
//! heuristics: no convoy effect, no starvation.
//!
//! This module is the public API; the scheduling state machine, its state
//! table and the proof of its starvation bound are in `raw.rs`
//! ([`raw`](self::raw) in the crate's private docs).

mod raw;

use crate::blocking;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use raw::{Kind, RawGil};
use std::time::Duration;

use crate::sync::loom_const_fn;

/// CPython's default switch interval (`sys.getswitchinterval()`).
const DEFAULT_INTERVAL_NS: u64 = 5_000_000;

/// `d` in nanoseconds, saturating (`Duration::MAX` → `u64::MAX`, "never").
const fn saturating_ns(d: Duration) -> u64 {
    let ns = d.as_nanos();
    if ns > u64::MAX as u128 {
        u64::MAX
    } else {
        ns as u64
    }
}

/// A GIL-style lock: one holder at a time, direct hand-offs, cooperative
/// switching through [`GilGuard::check`], scheduled by fair share.
///
/// The holder runs until it releases the GIL (drops its guard, or calls
/// [`GilGuard::allow_threads`] around blocking work), yields
/// ([`GilGuard::yield_now`]), or is asked to switch; the GIL then goes
/// **directly** to the waiter that has used the least GIL time (no barging).
///
/// The schedule is that of a fair-share CPU scheduler (Linux CFS): every
/// thread's GIL time is counted, and
///
/// * a thread coming back from `allow_threads` having used little GIL time
///   (an I/O thread) asks the holder to switch as soon as the holder is
///   ahead of it by more than a small granularity (switch interval / 25,
///   at most 40 ms), once the holder has had a minimum slice (switch
///   interval / 250: 20 µs by default):
///   the holder's next [`check`](GilGuard::check) hands the GIL over, so an
///   I/O thread keeps most of its speed beside CPU-bound threads (no convoy
///   effect, CPython's bpo-7946);
/// * CPU-bound threads switch among themselves every switch interval
///   (default 5 ms, like `sys.getswitchinterval()`);
/// * a waiter spins (up to 20 µs) before it sleeps, and a hand-off goes to a
///   waiter that is still spinning rather than to a sleeping one when the
///   spinner has used at most that granularity more GIL time: handing over to a
///   running thread costs no futex sleep and no wake-up latency, and the
///   sleeper's loss is bounded by that granularity;
/// * **no starvation**: while a thread waits, each other thread can hold the
///   GIL for at most about `0.14 × interval` (with intervals above 1 s, and
///   with `Duration::MAX`, `0.14 s`) plus one of its own holds
///   (a hold of code that calls `check` lasts about half an interval, up
///   to `0.14 × interval` more when the waiter's timer was set against an
///   earlier holder)
///   before the waiter is served (the exact bound and its proof are in the
///   `raw` module's docs); in particular threads that hold the GIL for long
///   stretches without calling `check` cannot keep a waiter out for more
///   than one stretch each.
///
/// [`acquire`](Gil::acquire) and its timed forms wait as newcomers: served
/// in arrival order among themselves (and, like every waiter, by GIL time
/// used against the others). The GIL is not reentrant: acquiring it twice
/// on one thread deadlocks, as in CPython.
///
/// Differences from CPython: hand-offs are always direct (CPython's
/// `FORCE_SWITCHING` makes the dropper wait instead), the next holder is
/// the thread that has used least (CPython wakes any one), a thread that
/// just came back from I/O does not wait a whole interval, and `check` is a
/// single relaxed load when nobody asked.
///
/// | CPython                                  | pysync                                  |
/// |------------------------------------------|-----------------------------------------|
/// | `take_gil()` / `drop_gil()`              | [`acquire`](Gil::acquire) / guard drop  |
/// | eval breaker poll of `gil_drop_request`  | [`check`](GilGuard::check)              |
/// | `Py_BEGIN/END_ALLOW_THREADS`             | [`allow_threads`](GilGuard::allow_threads) |
/// | `time.sleep(0)`                          | [`yield_now`](GilGuard::yield_now)      |
/// | `sys.setswitchinterval(d)`               | [`set_switch_interval`](Gil::set_switch_interval) |
///
/// ```
/// use pysync::Gil;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let gil = Gil::new();
/// let work = AtomicU64::new(0);
/// std::thread::scope(|s| {
///     for _ in 0..2 {
///         s.spawn(|| {
///             let guard = gil.acquire();
///             for _ in 0..1000 {
///                 work.fetch_add(1, Ordering::Relaxed); // "bytecode"
///                 guard.check(); // switch if another thread asked
///             }
///         });
///     }
/// });
/// assert_eq!(work.load(Ordering::Relaxed), 2000);
/// assert_eq!(gil.stats().acquisitions, gil.stats().releases());
/// ```
pub struct Gil {
    raw: RawGil,
}

/// A snapshot of a [`Gil`]'s counters (no Python counterpart; CPython keeps
/// only `gil->switch_number`).
///
/// Every release is exactly one of `voluntary_releases`, `forced_switches`,
/// `priority_switches`, so
/// `acquisitions == releases() + (1 if somebody holds the GIL else 0)`.
///
/// For tuning: `io_wait` / `io_waits` say how long threads coming back
/// from [`allow_threads`](GilGuard::allow_threads) wait for the GIL (the
/// convoy effect, if any), `priority_switches` how often they preempted a
/// holder for it, `cpu_wait()` what everyone else waited, and
/// `handoffs_to_spinning` / `handoffs_to_sleeping` how many hand-offs found
/// the next holder still awake (no futex wake-up) or asleep.
///
/// ```
/// let gil = pysync::Gil::new();
/// drop(gil.acquire());
/// let s = gil.stats();
/// assert_eq!((s.acquisitions, s.voluntary_releases), (1, 1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GilStats {
    /// Times the GIL was taken (including re-takes after a switch or after
    /// `allow_threads`).
    pub acquisitions: u64,
    /// Releases by the holder's own choice: guard drops, `allow_threads`,
    /// `yield_now` with waiters.
    pub voluntary_releases: u64,
    /// Hand-offs in `check` to a thread that was not coming back from
    /// `allow_threads` (CPU-bound threads taking turns).
    pub forced_switches: u64,
    /// Hand-offs in `check` to a thread coming back from `allow_threads`:
    /// preemptions for I/O returns.
    pub priority_switches: u64,
    /// Total time spent waiting for the GIL in the slow path (all kinds).
    pub total_wait: Duration,
    /// Longest single wait for the GIL.
    pub max_wait: Duration,
    /// Waits of threads coming back from `allow_threads` (a return that
    /// took a free GIL at once is not counted).
    pub io_waits: u64,
    /// Total time of those waits.
    pub io_wait: Duration,
    /// Longest of those waits.
    pub io_max_wait: Duration,
    /// Direct hand-offs to a waiter that was still spinning (awake: no
    /// futex sleep; from the spinner slot, no system call at all).
    pub handoffs_to_spinning: u64,
    /// Direct hand-offs to a waiter that was asleep (a futex wake-up).
    pub handoffs_to_sleeping: u64,
}

impl GilStats {
    /// All releases: voluntary, forced and priority.
    ///
    /// ```
    /// let gil = pysync::Gil::new();
    /// let g = gil.acquire();
    /// assert_eq!(gil.stats().releases(), 0);
    /// drop(g);
    /// assert_eq!(gil.stats().releases(), 1);
    /// ```
    #[must_use]
    pub fn releases(&self) -> u64 {
        self.voluntary_releases + self.forced_switches + self.priority_switches
    }

    /// Switches forced by a waiter: `forced_switches + priority_switches`.
    ///
    /// ```
    /// assert_eq!(pysync::Gil::new().stats().switches(), 0);
    /// ```
    #[must_use]
    pub fn switches(&self) -> u64 {
        self.forced_switches + self.priority_switches
    }

    /// Time waited by everyone but threads coming back from
    /// `allow_threads`: `total_wait − io_wait`.
    ///
    /// ```
    /// let s = pysync::Gil::new().stats();
    /// assert_eq!(s.cpu_wait(), s.total_wait - s.io_wait);
    /// ```
    #[must_use]
    pub fn cpu_wait(&self) -> Duration {
        self.total_wait.saturating_sub(self.io_wait)
    }
}

impl Gil {
    loom_const_fn! {
        /// A free GIL with the default 5 ms switch interval (CPython's).
        ///
        /// ```
        /// static GIL: pysync::Gil = pysync::Gil::new();
        /// assert_eq!(GIL.switch_interval(), std::time::Duration::from_millis(5));
        /// ```
        #[must_use]
        pub fn new() -> Gil {
            Gil { raw: RawGil::new(DEFAULT_INTERVAL_NS) }
        }
    }

    loom_const_fn! {
        /// A free GIL with switch interval `interval` (`Duration::ZERO`: a
        /// waiter asks as soon as the holder has used as much GIL time as
        /// it has, so threads switch at nearly every `check`;
        /// `Duration::MAX`: never force a switch).
        ///
        /// ```
        /// use std::time::Duration;
        /// let gil = pysync::Gil::with_switch_interval(Duration::from_millis(1));
        /// assert_eq!(gil.switch_interval(), Duration::from_millis(1));
        /// ```
        #[must_use]
        pub fn with_switch_interval(interval: Duration) -> Gil {
            Gil { raw: RawGil::new(saturating_ns(interval)) }
        }
    }

    // `acquire` (CPython's `take_gil`), `try_acquire`, `acquire_timeout`,
    // `acquire_until`: a newcomer's wait (see the type's docs: served in
    // arrival order among newcomers; not reentrant).
    blocking::guard_forms!(
        "the GIL", "gil" = "pysync::Gil::new()";
        acquire, try_acquire, acquire_timeout, acquire_until -> GilGuard<'_> =
            |g| GilGuard::new(g, Cell::new(0));
        |g| &g.raw
    );

    /// Whether somebody holds the GIL. A snapshot.
    ///
    /// ```
    /// let gil = pysync::Gil::new();
    /// assert!(!gil.locked());
    /// ```
    #[inline]
    pub fn locked(&self) -> bool {
        self.raw.snapshot().0
    }

    /// The switch interval (`sys.getswitchinterval()`).
    ///
    /// ```
    /// assert_eq!(pysync::Gil::new().switch_interval().as_millis(), 5);
    /// ```
    pub fn switch_interval(&self) -> Duration {
        match self.raw.interval() {
            u64::MAX => Duration::MAX,
            ns => Duration::from_nanos(ns),
        }
    }

    /// Sets the switch interval (`sys.setswitchinterval(d)`), at run time.
    /// Every waiter plans again with the new value (parked ones are woken;
    /// one about to park sees the change before it sleeps), and pending
    /// drop requests are re-raised only if still due under it.
    /// `Duration::ZERO` switches at nearly every `check` when anyone waits;
    /// `Duration::MAX` never forces a switch (waiters then rely on
    /// voluntary releases). Python rejects non-positive values; here zero
    /// is allowed. Takes the GIL's queue lock briefly (no system call when
    /// nobody waits).
    ///
    /// ```
    /// use std::time::Duration;
    /// let gil = pysync::Gil::new();
    /// gil.set_switch_interval(Duration::from_micros(500));
    /// assert_eq!(gil.switch_interval(), Duration::from_micros(500));
    /// ```
    pub fn set_switch_interval(&self, interval: Duration) {
        self.raw.set_interval(saturating_ns(interval));
    }

    /// A snapshot of the counters (Relaxed loads; may be slightly torn
    /// across fields while other threads run).
    ///
    /// ```
    /// let gil = pysync::Gil::new();
    /// { let _g = gil.acquire(); }
    /// assert_eq!(gil.stats().acquisitions, 1);
    /// ```
    pub fn stats(&self) -> GilStats {
        use crate::sync::{AtomicU64, Ordering};
        let c = &self.raw.stats;
        // Relaxed: a statistics snapshot that orders nothing.
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let d = |a: &AtomicU64| Duration::from_nanos(n(a));
        GilStats {
            acquisitions: n(&c.acquisitions),
            voluntary_releases: n(&c.voluntary),
            forced_switches: n(&c.forced),
            priority_switches: n(&c.priority),
            total_wait: d(&c.wait_ns),
            max_wait: d(&c.wait_max_ns),
            io_waits: n(&c.io_waits),
            io_wait: d(&c.io_wait_ns),
            io_max_wait: d(&c.io_wait_max_ns),
            handoffs_to_spinning: n(&c.to_spinning),
            handoffs_to_sleeping: n(&c.to_sleeping),
        }
    }
}

impl Default for Gil {
    /// A free GIL with the default 5 ms switch interval.
    fn default() -> Gil {
        Gil::new()
    }
}

impl fmt::Debug for Gil {
    /// Shows the state without touching the GIL.
    ///
    /// ```
    /// let gil = pysync::Gil::new();
    /// assert!(format!("{gil:?}").starts_with("Gil { locked: false"));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (locked, waiters, drop_requested) = self.raw.snapshot();
        f.debug_struct("Gil")
            .field("locked", &locked)
            .field("waiters", &waiters)
            .field("drop_requested", &drop_requested)
            .field("switch_interval", &self.switch_interval())
            .finish()
    }
}

/// Proof that this thread holds a [`Gil`]; releases it on drop (also when
/// unwinding from a panic: a `Gil` is never poisoned).
///
/// Not `Send` and not `Sync`: the GIL belongs to the thread that took it, and
/// [`check`](GilGuard::check) may park that thread. The guard also carries
/// the thread's GIL-time account, which the scheduler uses to decide who is
/// served next.
///
/// ```
/// let gil = pysync::Gil::new();
/// let guard = gil.acquire();
/// guard.check();
/// drop(guard);
/// assert!(!gil.locked());
/// ```
#[must_use = "the GIL is released as soon as the guard is dropped"]
pub struct GilGuard<'a> {
    gil: &'a Gil,
    /// The thread's virtual time (its GIL-time account, see `raw`).
    vr: Cell<u64>,
    /// `!Send + !Sync`.
    _not_send: PhantomData<*const ()>,
}

impl<'a> GilGuard<'a> {
    #[inline]
    fn new(gil: &'a Gil, vr: Cell<u64>) -> GilGuard<'a> {
        GilGuard {
            gil,
            vr,
            _not_send: PhantomData,
        }
    }

    /// The eval-breaker poll: if a waiter asked for the GIL, hand it over
    /// and queue for it again; otherwise return at once. Costs one relaxed
    /// load when nobody asked. Call it regularly from CPU-bound code.
    ///
    /// ```
    /// let gil = pysync::Gil::new();
    /// let guard = gil.acquire();
    /// for _ in 0..10 {
    ///     guard.check(); // nobody waits: returns at once
    /// }
    /// ```
    #[inline]
    pub fn check(&self) {
        self.gil.raw.check(&self.vr);
    }

    /// Hands the GIL to the next waiter now, if anyone waits, and queues for
    /// it again (Python's `time.sleep(0)`); returns at once otherwise.
    ///
    /// ```
    /// let gil = pysync::Gil::new();
    /// let guard = gil.acquire();
    /// guard.yield_now(); // nobody waits
    /// assert_eq!(gil.stats().voluntary_releases, 0);
    /// ```
    pub fn yield_now(&self) {
        self.gil.raw.yield_now(&self.vr);
    }

    /// Releases the GIL, runs `f` (blocking I/O, long native work), and takes
    /// the GIL back (`Py_BEGIN_ALLOW_THREADS … Py_END_ALLOW_THREADS`).
    ///
    /// Coming back, the thread has used little GIL time (if it really was
    /// blocked) and asks the holder to switch once the holder is ahead of
    /// it by more than the granularity (switch interval / 25, at most
    /// 40 ms) and the holder has had its minimum slice (switch interval /
    /// 250, 20 µs by default): it gets the GIL back at the holder's next
    /// [`check`](GilGuard::check), not after a whole interval as in CPython
    /// (no convoy effect). If `f` panics the
    /// GIL is taken back before the panic continues, so the guard stays
    /// valid and releases it as usual.
    ///
    /// ```
    /// let gil = pysync::Gil::new();
    /// let mut guard = gil.acquire();
    /// let n = guard.allow_threads(|| {
    ///     assert!(!gil.locked()); // others may run Python code now
    ///     42
    /// });
    /// assert_eq!(n, 42);
    /// assert!(gil.locked());
    /// ```
    pub fn allow_threads<R>(&mut self, f: impl FnOnce() -> R) -> R {
        struct Reacquire<'g, 'a>(&'g GilGuard<'a>);
        impl Drop for Reacquire<'_, '_> {
            fn drop(&mut self) {
                let guard = self.0;
                guard.gil.raw.acquire(Kind::Returner, &guard.vr, None);
            }
        }
        self.gil.raw.release(&self.vr);
        let _reacquire = Reacquire(self);
        f()
    }

    /// The GIL this guard holds.
    ///
    /// ```
    /// let gil = pysync::Gil::new();
    /// let guard = gil.acquire();
    /// assert!(std::ptr::eq(guard.gil(), &gil));
    /// ```
    pub fn gil(&self) -> &'a Gil {
        self.gil
    }
}

impl Drop for GilGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.gil.raw.release(&self.vr);
    }
}

impl fmt::Debug for GilGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GilGuard").field("gil", self.gil).finish()
    }
}

#[cfg(not(loom))]
mod assertions {
    use super::*;
    use static_assertions::{assert_impl_all, assert_not_impl_any};

    assert_impl_all!(Gil: Send, Sync, Default, fmt::Debug);
    assert_impl_all!(GilStats: Send, Sync, Copy, Default, fmt::Debug);
    assert_not_impl_any!(GilGuard<'static>: Send, Sync);
}
