//! [`Gil`]: a GIL-style fair hand-off lock, like CPython's global interpreter
//! lock (`Python/ceval_gil.c`) but without its convoy effect.
//!
//! # State
//!
//! | word              | bits / meaning                                              |
//! |-------------------|-------------------------------------------------------------|
//! | `state`           | `HELD`: somebody holds the GIL; `WAITERS`: threads may be parked on its key |
//! | `drop_request`    | non-zero: a waiter asks the holder to switch (own cache line: `check` reads only this) |
//! | `holder_since`    | when the current holder got the GIL (ns since a process epoch; 0 = "took it on the fast path, time unknown") |
//! | `interval_ns`     | the switch interval                                         |
//! | `tickets`         | arrival counter: a waiter's ticket orders it FIFO           |
//!
//! | transition                         | who                                        | ordering |
//! |------------------------------------|--------------------------------------------|----------|
//! | `0 → H`                            | acquirer (fast path CAS or slow loop)      | Acquire  |
//! | `H → H\|W`                         | waiter about to park                       | Relaxed (queue lock orders it) |
//! | `H → 0`                            | releaser, fast path (no waiter)            | Release  |
//! | `H\|W → 0`                         | releaser who finds the queue empty, under the queue lock | Release |
//! | `H\|W → H\|W / H` (hand-off)       | releaser / `check`, under the queue lock: the GIL stays held and belongs to the woken thread | via the queue lock |
//! | `H\|W → H`                         | last waiter timing out, under the queue lock | Relaxed |
//! | `drop_request 0 → 1`               | a *requesting* waiter, in `park`'s validate (under the queue lock) | Relaxed |
//! | `drop_request 1 → 0`               | the holder, under the queue lock, when it hands off or finds no requester | Relaxed |
//!
//! `WAITERS` is only cleared under the queue lock by whoever sees the queue
//! empty, and the GIL is never left free while a thread is parked: a release
//! with parked waiters always hands the GIL directly to one of them. So a
//! fresh arrival (whose fast path CAS `0 → H` fails while anything is held or
//! queued) never takes the GIL ahead of a parked waiter: **no barging**.
//!
//! # Who gets the GIL, and when
//!
//! Every waiter has a *ticket* (arrival order) and a kind:
//!
//! * a **CPU waiter** (plain [`Gil::acquire`], re-queueing after a switch)
//!   becomes a *requester* once it has waited one switch interval `I` *and*
//!   the current holder has held the GIL for `I` (CPython's rule: a switch
//!   that happened meanwhile restarts the wait);
//! * a **priority waiter** (a thread coming back from
//!   [`GilGuard::allow_threads`]) becomes a requester once the current holder
//!   has held the GIL for the *minimum slice* `I/25` (200 µs for 5 ms).
//!
//! A requester raises the drop request; the holder's next [`GilGuard::check`]
//! queues behind everybody (with a new ticket) and, once parked, hands the GIL
//! directly to the requester with the smallest ticket. Queueing *before*
//! handing over matters on a busy machine: the woken requester often preempts
//! the old holder, which must already be in line so that the next release
//! comes back to it (otherwise a preempted CPU-bound thread would drop out of
//! the rotation while the I/O thread keeps finding the GIL free). A voluntary release (guard drop,
//! `allow_threads`, `yield_now`) hands it to the requester with the smallest
//! ticket, or else to the waiter with the smallest ticket (the longest
//! waiter). The timing is done by the waiters (timed parks); the holder never
//! reads the clock in `check`.
//!
//! Guarantees (up to scheduler wake-up latency and the gap between two
//! `check` calls of the holder):
//!
//! * **No convoy**: a thread returning from `allow_threads` gets the GIL back
//!   at most one minimum slice (`I/25`) after the current holder took it,
//!   unless an older requester is served first.
//! * **CPU share**: every holder keeps the GIL for at least the minimum slice
//!   before any forced switch, and for at least `I` before a forced switch to
//!   a CPU waiter.
//! * **No starvation**: requesters are served in ticket (arrival) order, and a
//!   priority requester is only ever served ahead of CPU waiters that are not
//!   requesters yet; so with `n` threads queued, a CPU waiter is served within
//!   about `n` turns, each about `I` long (less when I/O threads cut turns
//!   short).

use crate::deadline::{self, earliest, instant_at, now_ns};
use crate::park::{self, FilterOp, ParkResult, ParkToken, UnparkToken};
use crate::sync::{AtomicU8, AtomicU64, AtomicUsize, Ordering, loom_const_fn};
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use crossbeam_utils::CachePadded;
use std::time::{Duration, Instant};

/// Somebody holds the GIL.
const HELD: u8 = 0b01;
/// Threads may be parked on the GIL's key.
const WAITERS: u8 = 0b10;

/// Park token bit: a priority waiter (coming back from `allow_threads`).
const TOKEN_PRIO: usize = 0b01;
/// Park token bit: a requester (it has raised the drop request).
const TOKEN_REQ: usize = 0b10;
/// Park token: the ticket is stored above the two flag bits.
const TICKET_SHIFT: u32 = 2;

/// Unpark token: woken to look again.
const UNPARK_RETRY: UnparkToken = UnparkToken(0);
/// Unpark token: the GIL was handed to the woken thread, which now holds it.
const UNPARK_HANDOFF: UnparkToken = UnparkToken(1);

/// CPython's default switch interval (`sys.getswitchinterval()`).
const DEFAULT_INTERVAL_NS: u64 = 5_000_000;
/// The minimum slice is the switch interval divided by this.
const MIN_SLICE_DIVISOR: u64 = 25;
/// A requester whose request was absorbed by another hand-off re-arms at
/// least this often (keeps a zero interval from spinning on timed parks).
const REARM_FLOOR_NS: u64 = 50_000;

/// `d` in nanoseconds, saturating (`Duration::MAX` → `u64::MAX`, "never").
const fn saturating_ns(d: Duration) -> u64 {
    let ns = d.as_nanos();
    if ns > u64::MAX as u128 {
        u64::MAX
    } else {
        ns as u64
    }
}

/// Which queue discipline a waiter follows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Plain acquisition: requests a switch after one interval.
    Cpu,
    /// Coming back from `allow_threads`: requests after the minimum slice.
    Prio,
}

/// A GIL-style lock: one holder at a time, fair hand-off between threads,
/// cooperative switching through [`GilGuard::check`] (CPython's GIL).
///
/// The holder runs until it releases the GIL (drops its guard, or calls
/// [`GilGuard::allow_threads`] around blocking work), yields
/// ([`GilGuard::yield_now`]), or is asked to switch: a thread that has waited
/// one switch interval (default 5 ms, like `sys.getswitchinterval()`) raises a
/// drop request, and the holder's next [`check`](GilGuard::check) hands the
/// GIL **directly** to that waiter and queues behind the others.
///
/// Unlike CPython's GIL there is no convoy effect: a thread coming back from
/// `allow_threads` does not wait a whole interval behind a CPU-bound holder,
/// but only until the holder has had a minimum slice (interval/25, 200 µs by
/// default); see the module docs for the exact guarantees. Differences from
/// CPython: hand-offs are always direct (CPython's `FORCE_SWITCHING` makes the
/// dropper wait instead), waiters are served FIFO (CPython wakes any one), and
/// `check` is a single relaxed load when nobody asked.
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
    /// The drop request, alone on its cache line: `check` loads only this,
    /// so waiters' traffic on the state word never slows the holder down.
    drop_request: CachePadded<AtomicU8>,
    state: AtomicU8,
    interval_ns: AtomicU64,
    holder_since: AtomicU64,
    tickets: AtomicUsize,
    stats: Counters,
}

/// The statistics counters. Only the thread holding the GIL writes them (a
/// Relaxed load and store, no read-modify-write: the GIL itself orders the
/// writers); [`Gil::stats`] reads them from anywhere.
struct Counters {
    acquisitions: AtomicU64,
    voluntary: AtomicU64,
    forced: AtomicU64,
    priority: AtomicU64,
    wait_total_ns: AtomicU64,
    wait_max_ns: AtomicU64,
}

impl Counters {
    loom_const_fn! {
        fn new() -> Counters {
            Counters {
                acquisitions: AtomicU64::new(0),
                voluntary: AtomicU64::new(0),
                forced: AtomicU64::new(0),
                priority: AtomicU64::new(0),
                wait_total_ns: AtomicU64::new(0),
                wait_max_ns: AtomicU64::new(0),
            }
        }
    }
}

/// Adds `n` to a counter that only the GIL holder writes.
#[inline]
fn bump(counter: &AtomicU64, n: u64) {
    // Relaxed: only the GIL holder writes, and successive holders are
    // ordered by the GIL's own Release/Acquire hand-over; readers want a
    // snapshot.
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

/// A snapshot of a [`Gil`]'s counters (no Python counterpart; CPython keeps
/// only `gil->switch_number`).
///
/// Every release is exactly one of `voluntary_releases`, `forced_switches`,
/// `priority_switches`, so
/// `acquisitions == releases() + (1 if somebody holds the GIL else 0)`.
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
    /// Hand-offs in `check` to a CPU waiter that had waited a switch interval.
    pub forced_switches: u64,
    /// Hand-offs in `check` to a thread coming back from `allow_threads`.
    pub priority_switches: u64,
    /// Total time spent waiting for the GIL in the slow path.
    pub total_wait: Duration,
    /// Longest single wait for the GIL.
    pub max_wait: Duration,
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
            Gil::with_interval_ns(DEFAULT_INTERVAL_NS)
        }
    }

    loom_const_fn! {
        /// A free GIL with switch interval `interval` (`Duration::ZERO`:
        /// switch at every `check` when anyone waits; `Duration::MAX`: never
        /// force a switch).
        ///
        /// ```
        /// use std::time::Duration;
        /// let gil = pysync::Gil::with_switch_interval(Duration::from_millis(1));
        /// assert_eq!(gil.switch_interval(), Duration::from_millis(1));
        /// ```
        #[must_use]
        pub fn with_switch_interval(interval: Duration) -> Gil {
            Gil::with_interval_ns(saturating_ns(interval))
        }
    }

    loom_const_fn! {
        fn with_interval_ns(interval_ns: u64) -> Gil {
            Gil {
                drop_request: CachePadded::new(AtomicU8::new(0)),
                state: AtomicU8::new(0),
                interval_ns: AtomicU64::new(interval_ns),
                holder_since: AtomicU64::new(0),
                tickets: AtomicUsize::new(0),
                stats: Counters::new(),
            }
        }
    }

    /// Blocks until this thread holds the GIL (CPython's `take_gil`).
    /// Waiters are served FIFO; the GIL is not reentrant (acquiring it twice
    /// on one thread deadlocks, as in CPython).
    ///
    /// ```
    /// let gil = pysync::Gil::new();
    /// let guard = gil.acquire();
    /// assert!(gil.locked());
    /// drop(guard);
    /// assert!(!gil.locked());
    /// ```
    #[inline]
    pub fn acquire(&self) -> GilGuard<'_> {
        self.acquire_raw(Kind::Cpu);
        GilGuard::new(self)
    }

    /// The GIL if it is free and nobody waits for it, without blocking.
    ///
    /// ```
    /// let gil = pysync::Gil::new();
    /// let g = gil.try_acquire().expect("free");
    /// assert!(gil.try_acquire().is_none());
    /// drop(g);
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Option<GilGuard<'_>> {
        self.try_fast().then(|| GilGuard::new(self))
    }

    /// The GIL if this thread gets it within `timeout`. `Duration::ZERO` is
    /// a try; `Duration::MAX` waits forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let gil = pysync::Gil::new();
    /// let g = gil.acquire_timeout(Duration::from_millis(10)).expect("free");
    /// assert!(std::thread::scope(|s| {
    ///     s.spawn(|| gil.acquire_timeout(Duration::from_millis(10)).is_none()).join().unwrap()
    /// }));
    /// drop(g);
    /// ```
    #[inline]
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<GilGuard<'_>> {
        if self.try_fast()
            || (!timeout.is_zero() && self.acquire_slow(Kind::Cpu, deadline::after(timeout)))
        {
            Some(GilGuard::new(self))
        } else {
            None
        }
    }

    /// The GIL if this thread gets it by `deadline`; a past deadline is a try.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let gil = pysync::Gil::new();
    /// assert!(gil.acquire_until(Instant::now() + Duration::from_millis(5)).is_some());
    /// ```
    #[inline]
    pub fn acquire_until(&self, deadline: Instant) -> Option<GilGuard<'_>> {
        if self.try_fast() || self.acquire_slow(Kind::Cpu, Some(deadline)) {
            Some(GilGuard::new(self))
        } else {
            None
        }
    }

    /// Whether somebody holds the GIL. A snapshot.
    ///
    /// ```
    /// let gil = pysync::Gil::new();
    /// assert!(!gil.locked());
    /// ```
    #[inline]
    pub fn locked(&self) -> bool {
        // Relaxed: a snapshot that orders nothing.
        self.state.load(Ordering::Relaxed) & HELD != 0
    }

    /// The switch interval (`sys.getswitchinterval()`).
    ///
    /// ```
    /// assert_eq!(pysync::Gil::new().switch_interval().as_millis(), 5);
    /// ```
    pub fn switch_interval(&self) -> Duration {
        match self.interval() {
            u64::MAX => Duration::MAX,
            ns => Duration::from_nanos(ns),
        }
    }

    /// Sets the switch interval (`sys.setswitchinterval(d)`), at run time:
    /// parked waiters are woken to re-plan their waits with the new value.
    /// `Duration::ZERO` switches at every `check` when anyone waits;
    /// `Duration::MAX` never forces a switch (waiters then rely on voluntary
    /// releases). Python rejects non-positive values; here zero is allowed.
    ///
    /// ```
    /// use std::time::Duration;
    /// let gil = pysync::Gil::new();
    /// gil.set_switch_interval(Duration::from_micros(500));
    /// assert_eq!(gil.switch_interval(), Duration::from_micros(500));
    /// ```
    pub fn set_switch_interval(&self, interval: Duration) {
        // Relaxed: a tuning knob read by waiters on their slow path; no data
        // depends on it.
        self.interval_ns
            .store(saturating_ns(interval), Ordering::Relaxed);
        // Waiters timed (or untimed, for an infinite interval) with the old
        // value look again. Relaxed: a hint; a waiter parking right now reads
        // the new interval itself.
        if self.state.load(Ordering::Relaxed) & WAITERS != 0 {
            park::unpark_all(self.key(), UNPARK_RETRY);
        }
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
        let c = &self.stats;
        // Relaxed: a statistics snapshot that orders nothing.
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        GilStats {
            acquisitions: l(&c.acquisitions),
            voluntary_releases: l(&c.voluntary),
            forced_switches: l(&c.forced),
            priority_switches: l(&c.priority),
            total_wait: Duration::from_nanos(l(&c.wait_total_ns)),
            max_wait: Duration::from_nanos(l(&c.wait_max_ns)),
        }
    }

    // ----- internals -------------------------------------------------------

    #[inline]
    fn key(&self) -> usize {
        park::key_of(&self.state)
    }

    #[inline]
    fn interval(&self) -> u64 {
        // Relaxed: see `set_switch_interval`.
        self.interval_ns.load(Ordering::Relaxed)
    }

    /// The uncontended acquire: one CAS, then holder-only bookkeeping.
    #[inline]
    fn try_fast(&self) -> bool {
        // Acquire: pairs with the Release of the previous release.
        if self
            .state
            .compare_exchange(0, HELD, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            // Relaxed: a hint for waiters ("held since unknown"); a waiter
            // that sees 0 stamps its own arrival time, which only makes it
            // wait longer, never shorter.
            self.holder_since.store(0, Ordering::Relaxed);
            bump(&self.stats.acquisitions, 1);
            true
        } else {
            false
        }
    }

    #[inline]
    fn acquire_raw(&self, kind: Kind) {
        if !self.try_fast() {
            self.acquire_slow(kind, None);
        }
    }

    /// Releases the GIL held by the caller: one CAS if nobody waits, else a
    /// direct hand-off to the next waiter.
    #[inline]
    fn release(&self) {
        bump(&self.stats.voluntary, 1);
        // Release: publishes the critical section to the next acquirer.
        if self
            .state
            .compare_exchange(HELD, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.handoff(false);
        }
    }

    /// The waiting loop. Returns `true` holding the GIL, `false` on timeout.
    #[cold]
    #[inline(never)]
    fn acquire_slow(&self, kind: Kind, deadline: Option<Instant>) -> bool {
        self.wait_loop(kind, deadline, false)
    }

    /// The waiting loop. With `giving`, the caller holds the GIL and a drop
    /// request is pending (`check`): it queues first and hands the GIL over
    /// only once it is parked (from `before_sleep`), so that it is already
    /// in line when the receiver releases — a holder that is preempted right
    /// after the hand-off cannot fall out of the queue.
    fn wait_loop(&self, kind: Kind, deadline: Option<Instant>, mut giving: bool) -> bool {
        let start = Instant::now();
        let arrival = now_ns();
        // Relaxed: a unique number is all that is needed; order among
        // waiters is by this value, not by memory order.
        let ticket = self.tickets.fetch_add(1, Ordering::Relaxed);
        // Under loom there is no time: a timed-out wait *is* the event
        // "the slice has elapsed".
        let mut slice_elapsed = false;
        // Relaxed: only a hint for the CAS below, which orders.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if giving {
                // We hold the GIL: park straight away (below).
            } else if state & HELD == 0 {
                // Acquire: pairs with the Release of the previous release.
                match self.state.compare_exchange_weak(
                    state,
                    state | HELD,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // Relaxed: a hint for waiters (see `try_fast`).
                        self.holder_since.store(now_ns(), Ordering::Relaxed);
                        self.record_acquired(start);
                        return true;
                    }
                    Err(s) => state = s,
                }
                continue;
            }
            if !giving && deadline::expired(deadline) {
                return false;
            }
            // Announce that we will park. Relaxed: the queue lock orders this
            // with the releaser, which re-reads the state under it.
            if !giving
                && state & WAITERS == 0
                && let Err(s) = self.state.compare_exchange_weak(
                    state,
                    state | WAITERS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
            {
                state = s;
                continue;
            }
            let (requesting, wake_at) = self.plan(kind, arrival, slice_elapsed);
            let token = ParkToken(
                (ticket << TICKET_SHIFT)
                    | if kind == Kind::Prio { TOKEN_PRIO } else { 0 }
                    | if requesting { TOKEN_REQ } else { 0 },
            );
            let park_deadline = earliest(wake_at, deadline);
            // Set by `before_sleep` when giving found nobody to give to.
            let kept = Cell::new(false);
            let result = park::park(
                self.key(),
                || {
                    if giving {
                        // We hold it; we are about to be queued. Relaxed:
                        // under the queue lock, like every WAITERS change.
                        self.state.fetch_or(WAITERS, Ordering::Relaxed);
                        return true;
                    }
                    // Relaxed: under the queue lock, which the releaser's and
                    // `check`'s slow paths take.
                    if self.state.load(Ordering::Relaxed) != HELD | WAITERS {
                        return false;
                    }
                    if requesting {
                        // Relaxed: the holder polls it; the hand-off itself
                        // goes through the queue lock.
                        self.drop_request.store(1, Ordering::Relaxed);
                    }
                    true
                },
                || {
                    // Queued (and the queue lock released): hand over now.
                    if giving && !self.handoff(true) {
                        // The requester left: keep the GIL (wake ourselves).
                        kept.set(true);
                        self.unpark_ticket(ticket, UNPARK_RETRY);
                    }
                },
                |_key, was_last| {
                    if was_last {
                        // Relaxed: under the queue lock; it orders no data.
                        self.state.fetch_and(!WAITERS, Ordering::Relaxed);
                    }
                },
                token,
                park_deadline,
            );
            if giving && kept.get() {
                // We never gave it away (whoever woke us).
                return true;
            }
            giving = false;
            match result {
                // The GIL was handed to us: it stayed held for us, and the
                // giver's critical section is ordered before ours by the
                // wake-up through the queue lock.
                ParkResult::Unparked(UNPARK_HANDOFF) => {
                    self.record_acquired(start);
                    return true;
                }
                ParkResult::TimedOut => {
                    // The slice elapsed unless it was the caller's deadline.
                    slice_elapsed = !requesting && wake_at.is_some() && park_deadline == wake_at;
                }
                ParkResult::Unparked(_) | ParkResult::Invalid => {}
            }
            // Relaxed: a hint, re-checked by the CAS or by validate.
            state = self.state.load(Ordering::Relaxed);
        }
    }

    /// Decides how a waiter parks: whether it is a requester now, and until
    /// when it sleeps before looking again (`None`: until woken).
    fn plan(&self, kind: Kind, arrival: u64, slice_elapsed: bool) -> (bool, Option<Instant>) {
        let interval = self.interval();
        let slice = match kind {
            Kind::Cpu => interval,
            Kind::Prio => interval / MIN_SLICE_DIVISOR,
        };
        if cfg!(loom) {
            // No clock under loom: the first timed park models the slice
            // elapsing at any point; a requester then waits to be woken.
            return if slice_elapsed {
                (true, None)
            } else {
                (false, instant_at(0))
            };
        }
        if slice == u64::MAX {
            // Interval "forever": never request; wait for a voluntary release.
            return (false, None);
        }
        let now = now_ns();
        // Relaxed: a hint; the worst a stale value does is shift one
        // request by a slice.
        let mut since = self.holder_since.load(Ordering::Relaxed);
        if since == 0 {
            // The holder took the GIL on the fast path at an unknown time:
            // count from now (a later start only delays the request).
            since = match self.holder_since.compare_exchange(
                0,
                now,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => now,
                Err(s) => s,
            };
        }
        let due = match kind {
            Kind::Cpu => since.max(arrival).saturating_add(slice),
            Kind::Prio => since.saturating_add(slice),
        };
        if now >= due {
            // Request now; re-arm in case another requester's hand-off
            // absorbs this request (the new holder then gets its slice).
            (
                true,
                instant_at(now.saturating_add(slice.max(REARM_FLOOR_NS))),
            )
        } else {
            (false, instant_at(due))
        }
    }

    /// Holder-only bookkeeping after an acquisition on the slow path.
    fn record_acquired(&self, start: Instant) {
        let waited = saturating_ns(start.elapsed());
        let c = &self.stats;
        bump(&c.acquisitions, 1);
        bump(&c.wait_total_ns, waited);
        // Relaxed: holder-only, see `bump`. Always stored (no branch on the
        // clock) so that loom executions replay deterministically.
        let max = c.wait_max_ns.load(Ordering::Relaxed).max(waited);
        c.wait_max_ns.store(max, Ordering::Relaxed);
    }

    /// Hands the held GIL to the best waiter. `forced` (from `check`): only
    /// to a requester, else keep it and clear the stale request; returns
    /// whether it was handed off. Voluntary: to the best requester or else
    /// the longest waiter, or release it if nobody is parked; returns whether
    /// it was handed off (`false`: released).
    #[cold]
    #[inline(never)]
    fn handoff(&self, forced: bool) -> bool {
        let mut attempt = 0u32;
        loop {
            // Pass 1: find the target (smallest ticket among requesters, or
            // among everybody) without waking anyone.
            let best_req = Cell::new(usize::MAX);
            let best_any = Cell::new(usize::MAX);
            park::unpark_filter(
                self.key(),
                |token| {
                    let ticket = token.0 >> TICKET_SHIFT;
                    if token.0 & TOKEN_REQ != 0 {
                        best_req.set(best_req.get().min(ticket));
                    }
                    best_any.set(best_any.get().min(ticket));
                    FilterOp::Skip
                },
                |_result| {
                    let nobody = if forced {
                        best_req.get() == usize::MAX
                    } else {
                        best_any.get() == usize::MAX
                    };
                    if nobody {
                        // Relaxed: under the queue lock; a requester parking
                        // later sets it again in its validate.
                        self.drop_request.store(0, Ordering::Relaxed);
                        if !forced {
                            // Nobody parked: release. An RMW, not a store, so
                            // that it orders after a waiter's concurrent
                            // `H → H|W` (which then fails its validate).
                            // Release: publishes the critical section.
                            self.state.fetch_and(!(HELD | WAITERS), Ordering::Release);
                        }
                    }
                    UNPARK_RETRY
                },
            );
            let target = if best_req.get() != usize::MAX {
                best_req.get()
            } else if forced {
                return false;
            } else if best_any.get() != usize::MAX {
                best_any.get()
            } else {
                return false;
            };
            // Pass 2: wake the target (or, after a few lost races, whoever
            // is first), handing it the GIL.
            let fallback = attempt >= 2;
            let picked = Cell::new(false);
            let prio = Cell::new(false);
            let result = park::unpark_filter(
                self.key(),
                |token| {
                    let ticket = token.0 >> TICKET_SHIFT;
                    let eligible = !forced || token.0 & TOKEN_REQ != 0;
                    if !picked.get() && (ticket == target || (fallback && eligible)) {
                        picked.set(true);
                        prio.set(token.0 & TOKEN_PRIO != 0);
                        FilterOp::Unpark
                    } else {
                        FilterOp::Skip
                    }
                },
                |result| {
                    if result.unparked_threads == 0 {
                        return UNPARK_RETRY;
                    }
                    if !result.have_more_threads {
                        // Relaxed: under the queue lock; orders no data.
                        self.state.fetch_and(!WAITERS, Ordering::Relaxed);
                    }
                    // The new holder's slice starts now; pending requests are
                    // re-evaluated against it (requesters re-arm).
                    // Relaxed: hints, under the queue lock.
                    self.holder_since.store(now_ns(), Ordering::Relaxed);
                    self.drop_request.store(0, Ordering::Relaxed);
                    if forced {
                        // We still hold the GIL until the wake-up below.
                        if prio.get() {
                            bump(&self.stats.priority, 1);
                        } else {
                            bump(&self.stats.forced, 1);
                        }
                    }
                    UNPARK_HANDOFF
                },
            );
            if result.unparked_threads != 0 {
                return true;
            }
            attempt += 1;
        }
    }

    /// `check`'s slow path: a drop request is pending.
    #[cold]
    #[inline(never)]
    fn check_slow(&self) {
        // Queue behind everybody (a new ticket), as a CPU waiter, then hand
        // the GIL to the requester.
        self.wait_loop(Kind::Cpu, None, true);
    }

    /// Wakes the parked waiter holding `ticket` (if still parked) with `token`.
    fn unpark_ticket(&self, ticket: usize, token: UnparkToken) {
        let mut done = false;
        park::unpark_filter(
            self.key(),
            |t| {
                if !done && t.0 >> TICKET_SHIFT == ticket {
                    done = true;
                    FilterOp::Unpark
                } else {
                    FilterOp::Skip
                }
            },
            |_| token,
        );
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
        // Relaxed: snapshots for display.
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("Gil")
            .field("locked", &(state & HELD != 0))
            .field("waiters", &(state & WAITERS != 0))
            .field(
                "drop_requested",
                &(self.drop_request.load(Ordering::Relaxed) != 0),
            )
            .field("switch_interval", &self.switch_interval())
            .finish()
    }
}

/// Proof that this thread holds a [`Gil`]; releases it on drop (also when
/// unwinding from a panic: a `Gil` is never poisoned).
///
/// Not `Send` and not `Sync`: the GIL belongs to the thread that took it, and
/// [`check`](GilGuard::check) may park that thread.
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
    /// `!Send + !Sync`.
    _not_send: PhantomData<*const ()>,
}

impl<'a> GilGuard<'a> {
    #[inline]
    fn new(gil: &'a Gil) -> GilGuard<'a> {
        GilGuard {
            gil,
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
        // Relaxed: a poll; the hand-off in the slow path synchronises
        // through the queue lock, and a late-seen request only delays the
        // switch until the next poll.
        if self.gil.drop_request.load(Ordering::Relaxed) != 0 {
            self.gil.check_slow();
        }
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
        // Relaxed: a hint; a waiter that is just arriving will be served by
        // the next release or request.
        if self.gil.state.load(Ordering::Relaxed) & WAITERS != 0 {
            self.gil.release();
            self.gil.acquire_raw(Kind::Cpu);
        }
    }

    /// Releases the GIL, runs `f` (blocking I/O, long native work), and takes
    /// the GIL back (`Py_BEGIN_ALLOW_THREADS … Py_END_ALLOW_THREADS`).
    ///
    /// Coming back, the thread is a *priority* waiter: it gets the GIL once
    /// the current holder has had the minimum slice (switch interval / 25),
    /// not after a whole interval as in CPython (no convoy effect). If `f`
    /// panics the GIL is taken back before the panic continues, so the guard
    /// stays valid and releases it as usual.
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
        struct Reacquire<'g>(&'g Gil);
        impl Drop for Reacquire<'_> {
            fn drop(&mut self) {
                self.0.acquire_raw(Kind::Prio);
            }
        }
        self.gil.release();
        let _reacquire = Reacquire(self.gil);
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
        self.gil.release();
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
