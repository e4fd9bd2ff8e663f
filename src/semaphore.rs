//! [`Semaphore`] and [`BoundedSemaphore`]: Python's `threading.Semaphore`
//! and `threading.BoundedSemaphore`, in one word, with FIFO hand-off.
//!
//! # State word
//!
//! One `AtomicUsize`: bit 0 is `WAITERS`, the other bits are the count of
//! available permits (`state >> 1`), so at most [`Semaphore::MAX_PERMITS`]
//! (`usize::MAX >> 1`) permits are representable.
//!
//! | bit / field | meaning                                                     |
//! |-------------|-------------------------------------------------------------|
//! | `WAITERS`   | threads may be parked on the key (queue non-empty, or one about to park) |
//! | count       | permits available to a fresh arrival                        |
//!
//! Invariant: while `WAITERS` is set the count is 0. A permit released while
//! threads are parked is handed straight to the longest waiter instead of
//! being added to the count, so a fresh arrival (whose fast path requires
//! `WAITERS` clear) can never take it.
//!
//! | transition                      | who                                     | ordering |
//! |---------------------------------|-----------------------------------------|----------|
//! | `c → c-1` (`c ≥ 1`, no `W`)     | acquirer, fast path CAS or slow loop    | Acquire  |
//! | `0 → W`                         | acquirer about to park                  | Relaxed (queue lock orders it) |
//! | `c → c+n` (no `W`)              | releaser, fast path CAS                 | Release  |
//! | `W → W` + hand-off token        | releaser, slow path, under queue lock   | queue lock + unpark |
//! | `W → r` (rest `r` of `n`)       | releaser, slow path, queue now empty    | Release  |
//! | `W → 0`                         | last waiter timing out, under queue lock| Relaxed  |
//!
//! `WAITERS` is only cleared under the queue lock by whoever sees the queue
//! empty, and a waiter only parks if it sees `WAITERS` set under that lock,
//! so no parked waiter is ever missed by a release.
//!
//! # No permit is lost
//! A parked waiter either is removed from the queue by a release's unpark
//! (and then it owns the handed-off permit: the seam guarantees it cannot
//! report a timeout) or its timeout removes it first (and then the release
//! does not see it and the permit goes to the next waiter or to the count).

use crate::deadline;
use crate::error::Error;
use crate::park::{self, DEFAULT_PARK_TOKEN, FilterOp, ParkResult, UnparkToken};
use crate::sync::{AtomicUsize, Ordering, SpinWait, loom_const_fn};
use core::cell::Cell;
use core::fmt;
use std::time::{Duration, Instant};

/// Threads may be parked on the semaphore's key.
const WAITERS: usize = 0b1;
/// One permit in the state word.
const ONE: usize = 0b10;
/// The largest representable permit count.
const MAX: usize = usize::MAX >> 1;

/// Unpark token: a permit was handed to the woken thread.
const TOKEN_HANDOFF: UnparkToken = UnparkToken(1);

/// The shared core of both semaphores: the state word and its operations.
struct RawSemaphore {
    state: AtomicUsize,
}

impl RawSemaphore {
    loom_const_fn! {
        fn new(permits: usize) -> RawSemaphore {
            assert!(
                permits <= MAX,
                "Semaphore: initial permits exceed Semaphore::MAX_PERMITS (usize::MAX >> 1)"
            );
            RawSemaphore { state: AtomicUsize::new(permits << 1) }
        }
    }

    #[inline]
    fn available(&self) -> usize {
        // Relaxed: a snapshot that orders nothing.
        self.state.load(Ordering::Relaxed) >> 1
    }

    #[inline]
    fn has_waiters(&self) -> bool {
        // Relaxed: a snapshot that orders nothing.
        self.state.load(Ordering::Relaxed) & WAITERS != 0
    }

    /// The uncontended acquire: one load and one CAS.
    #[inline]
    fn try_fast(&self) -> bool {
        // Relaxed: only a guess for the CAS, which orders.
        let state = self.state.load(Ordering::Relaxed);
        // A fresh arrival never takes a permit while waiters are parked:
        // `WAITERS` set makes this fail (and the count is 0 then anyway).
        state & WAITERS == 0
            && state >= ONE
            // Acquire: pairs with the Release of the release that added it.
            && self
                .state
                .compare_exchange_weak(state, state - ONE, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    #[inline]
    fn try_acquire(&self) -> bool {
        // Relaxed: only a guess for the CAS, which orders.
        let mut state = self.state.load(Ordering::Relaxed);
        while state & WAITERS == 0 && state >= ONE {
            // Acquire: pairs with the Release of the release that added it.
            match self.state.compare_exchange_weak(
                state,
                state - ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(s) => state = s,
            }
        }
        false
    }

    #[inline]
    fn acquire(&self, deadline: Option<Instant>) -> bool {
        self.try_fast() || self.acquire_slow(deadline)
    }

    /// Releases `n` permits unless the count would pass `limit`, in which
    /// case nothing changes and `Err(())` is returned. `n ≤ limit ≤ MAX`.
    #[inline]
    fn release_n(&self, n: usize, limit: usize) -> Result<(), ()> {
        debug_assert!(limit <= MAX);
        if n == 0 {
            return Ok(());
        }
        if n > limit {
            return Err(());
        }
        // Relaxed: only a guess for the CAS, which orders.
        let mut state = self.state.load(Ordering::Relaxed);
        while state & WAITERS == 0 {
            if (state >> 1) > limit - n {
                return Err(());
            }
            // Release: publishes what the releaser did before to the thread
            // that takes the permit (pairs with the acquirer's Acquire).
            match self.state.compare_exchange_weak(
                state,
                state + n * ONE,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(s) => state = s,
            }
        }
        self.release_slow(n, limit)
    }

    #[inline]
    fn key(&self) -> usize {
        park::key_of(&self.state)
    }

    #[cold]
    #[inline(never)]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        let mut spin = SpinWait::new();
        // Relaxed: only a guess for the CASes below, which order.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & WAITERS == 0 && state >= ONE {
                // Acquire: pairs with the Release of the release that added it.
                match self.state.compare_exchange_weak(
                    state,
                    state - ONE,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return true,
                    Err(s) => state = s,
                }
                continue;
            }
            // Here the count is 0 (with or without WAITERS).
            if deadline::expired(deadline) {
                return false;
            }
            // Spin a little while nobody is parked yet.
            if state & WAITERS == 0 && spin.spin() {
                state = self.state.load(Ordering::Relaxed);
                continue;
            }
            if state & WAITERS == 0 {
                // Announce that we will park (0 → W). Relaxed: the queue lock
                // orders it with the releaser, which re-reads under it.
                if let Err(s) = self.state.compare_exchange_weak(
                    state,
                    WAITERS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    state = s;
                    continue;
                }
            }
            let result = park::park(
                self.key(),
                // Under the queue lock: park only while WAITERS is still set,
                // so a release is bound to take the slow path and see us.
                // Relaxed: the queue lock orders it with that release.
                || self.state.load(Ordering::Relaxed) & WAITERS != 0,
                || {},
                |_key, was_last| {
                    if was_last {
                        // Under the queue lock, the queue is now empty: the
                        // count is 0 while WAITERS is set, so W → 0.
                        // Relaxed: it orders no data.
                        self.state.fetch_and(!WAITERS, Ordering::Relaxed);
                    }
                },
                DEFAULT_PARK_TOKEN,
                deadline,
            );
            match result {
                // A release handed us its permit; the unpark (through the
                // queue lock) orders the releaser's work before ours.
                ParkResult::Unparked(TOKEN_HANDOFF) => return true,
                // Removed by the timeout, not by a release: we own nothing.
                ParkResult::TimedOut => return false,
                ParkResult::Unparked(_) | ParkResult::Invalid => {}
            }
            spin = SpinWait::new();
            state = self.state.load(Ordering::Relaxed);
        }
    }

    #[cold]
    #[inline(never)]
    fn release_slow(&self, n: usize, limit: usize) -> Result<(), ()> {
        let mut handed = 0usize;
        let failed = Cell::new(false);
        park::unpark_filter(
            self.key(),
            |_token| {
                // FIFO: the longest waiters get the permits, one each.
                if handed < n {
                    handed += 1;
                    FilterOp::Unpark
                } else {
                    FilterOp::Stop
                }
            },
            |result| {
                let rest = n - result.unparked_threads;
                // Under the queue lock. If threads remain parked, all `n`
                // permits were handed off (rest == 0) and WAITERS stays set.
                // Otherwise clear WAITERS and add the rest to the count. A
                // CAS loop: with WAITERS already clear (another releaser or a
                // timeout emptied the queue since our first look), fast-path
                // acquirers and releasers may be racing with us.
                let mut state = self.state.load(Ordering::Relaxed);
                loop {
                    let count = state >> 1;
                    if count > limit - rest {
                        // Only possible when nobody was unparked (a queue
                        // with threads in it means count 0 and rest < n).
                        failed.set(true);
                        break;
                    }
                    let new = if result.have_more_threads {
                        state + rest * ONE
                    } else {
                        (state & !WAITERS) + rest * ONE
                    };
                    // Release: publishes the releaser's work to whoever takes
                    // the permits from the count.
                    match self.state.compare_exchange_weak(
                        state,
                        new,
                        Ordering::Release,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break,
                        Err(s) => state = s,
                    }
                }
                TOKEN_HANDOFF
            },
        );
        if failed.get() { Err(()) } else { Ok(()) }
    }
}

/// A counting semaphore with Python's `threading.Semaphore` semantics, and
/// FIFO hand-off.
///
/// * `acquire` takes one permit, blocking while none is available;
///   `release` gives one back and never fails (any thread may release,
///   and releasing more than was acquired simply raises the count, as in
///   Python).
/// * **FIFO, no barging** — a difference from CPython: when threads are
///   parked waiting, a release hands its permit *directly* to the longest
///   waiter, and a fresh arrival cannot take a permit while anyone waits.
///   CPython's `Semaphore` lets a late arrival grab a released permit before
///   the woken waiter runs, so a waiter may starve there; here it cannot.
/// * State is one word; uncontended acquire is one CAS, a release with
///   nobody waiting is one RMW and makes no parking call.
/// * At most [`Semaphore::MAX_PERMITS`] permits: [`new`](Semaphore::new)
///   panics above it (so `Semaphore::new(usize::MAX)` panics), and a release
///   that would pass it panics with a clear message, leaving the semaphore
///   unchanged (Python's ints cannot overflow; ours never wrap silently).
///
/// | Python                          | pysync                                      |
/// |---------------------------------|---------------------------------------------|
/// | `Semaphore(value)`              | [`new`](Semaphore::new)                     |
/// | `sem.acquire()`                 | [`acquire`](Semaphore::acquire)             |
/// | `sem.acquire(False)`            | [`try_acquire`](Semaphore::try_acquire)     |
/// | `sem.acquire(timeout=t)`        | [`acquire_timeout`](Semaphore::acquire_timeout) |
/// | `sem.release(n)`                | [`release_n`](Semaphore::release_n)         |
/// | `sem._value`                    | [`available`](Semaphore::available)         |
/// | `with sem:`                     | [`access`](Semaphore::access) (a guard)     |
///
/// ```
/// use pysync::Semaphore;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::thread;
///
/// let sem = Semaphore::new(2);
/// let inside = AtomicUsize::new(0);
/// thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| {
///             let _permit = sem.access();
///             let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
///             assert!(now <= 2, "at most two threads inside");
///             inside.fetch_sub(1, Ordering::SeqCst);
///         });
///     }
/// });
/// assert_eq!(sem.available(), 2);
/// ```
pub struct Semaphore {
    raw: RawSemaphore,
}

impl Semaphore {
    /// The largest permit count a semaphore can hold: `usize::MAX >> 1`
    /// (one bit of the state word marks parked waiters).
    ///
    /// ```
    /// assert_eq!(pysync::Semaphore::MAX_PERMITS, usize::MAX >> 1);
    /// ```
    pub const MAX_PERMITS: usize = MAX;

    loom_const_fn! {
        /// A semaphore with `permits` available (Python's `Semaphore(value)`).
        ///
        /// # Panics
        /// If `permits > Semaphore::MAX_PERMITS` (e.g. `usize::MAX`): the
        /// count would not fit the state word. In a `const`/`static` this is
        /// a compile-time error.
        ///
        /// ```
        /// static POOL: pysync::Semaphore = pysync::Semaphore::new(3);
        /// assert_eq!(POOL.available(), 3);
        /// ```
        ///
        /// ```should_panic
        /// let _ = pysync::Semaphore::new(usize::MAX);
        /// ```
        #[must_use]
        #[inline]
        pub fn new(permits: usize) -> Semaphore {
            Semaphore { raw: RawSemaphore::new(permits) }
        }
    }

    /// Takes a permit, blocking until one is available (Python's
    /// `acquire()`). Waiters are served in FIFO order.
    ///
    /// ```
    /// let sem = pysync::Semaphore::new(1);
    /// sem.acquire();
    /// assert_eq!(sem.available(), 0);
    /// ```
    #[inline]
    pub fn acquire(&self) {
        self.raw.acquire(None);
    }

    /// Takes a permit if one is available now (Python's
    /// `acquire(blocking=False)`). Fails while other threads are waiting.
    ///
    /// ```
    /// let sem = pysync::Semaphore::new(1);
    /// assert!(sem.try_acquire());
    /// assert!(!sem.try_acquire());
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> bool {
        self.raw.try_acquire()
    }

    /// Waits at most `timeout` for a permit (Python's `acquire(timeout=t)`).
    /// `Duration::ZERO` is a try; `Duration::MAX` waits forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = pysync::Semaphore::new(1);
    /// assert!(sem.acquire_timeout(Duration::from_millis(5)));
    /// assert!(!sem.acquire_timeout(Duration::from_millis(5)));
    /// ```
    #[inline]
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.raw.try_fast() || self.raw.acquire_slow(deadline::after(timeout))
    }

    /// Waits until `deadline` for a permit; a deadline in the past is a try.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let sem = pysync::Semaphore::new(1);
    /// assert!(sem.acquire_until(Instant::now() + Duration::from_millis(5)));
    /// assert!(!sem.acquire_until(Instant::now()));
    /// ```
    #[inline]
    pub fn acquire_until(&self, deadline: Instant) -> bool {
        self.raw.acquire(Some(deadline))
    }

    /// Gives back one permit, from any thread (Python's `release()`). If
    /// threads wait, the longest waiter gets it directly.
    ///
    /// # Panics
    /// If the count would exceed [`MAX_PERMITS`](Semaphore::MAX_PERMITS);
    /// the semaphore is left unchanged.
    ///
    /// ```
    /// let sem = pysync::Semaphore::new(0);
    /// sem.release();
    /// sem.release(); // unlike BoundedSemaphore, may exceed the initial value
    /// assert_eq!(sem.available(), 2);
    /// ```
    #[inline]
    pub fn release(&self) {
        self.release_n(1);
    }

    /// Gives back `n` permits (Python's `release(n)`): wakes up to `n` of
    /// the longest waiters, each with one permit, and adds the rest to the
    /// count. `release_n(0)` does nothing (Python raises `ValueError` for
    /// `n < 1`; a `usize` cannot be negative, so zero is accepted).
    ///
    /// # Panics
    /// If the count would exceed [`MAX_PERMITS`](Semaphore::MAX_PERMITS);
    /// the semaphore is left unchanged.
    ///
    /// ```
    /// let sem = pysync::Semaphore::new(0);
    /// sem.release_n(3);
    /// assert_eq!(sem.available(), 3);
    /// ```
    #[inline]
    pub fn release_n(&self, n: usize) {
        if self.raw.release_n(n, MAX).is_err() {
            overflow();
        }
    }

    /// The permits available now (Python's `_value`); a snapshot. It is 0
    /// while threads wait.
    ///
    /// ```
    /// let sem = pysync::Semaphore::new(2);
    /// sem.acquire();
    /// assert_eq!(sem.available(), 1);
    /// ```
    #[inline]
    pub fn available(&self) -> usize {
        self.raw.available()
    }

    /// Takes a permit and returns a guard that gives it back on drop
    /// (Python's `with sem:`).
    ///
    /// ```
    /// let sem = pysync::Semaphore::new(1);
    /// {
    ///     let _g = sem.access();
    ///     assert_eq!(sem.available(), 0);
    /// }
    /// assert_eq!(sem.available(), 1);
    /// ```
    #[inline]
    pub fn access(&self) -> SemaphoreGuard<'_> {
        self.acquire();
        self.guard()
    }

    /// A guard if a permit is available now.
    ///
    /// ```
    /// let sem = pysync::Semaphore::new(1);
    /// let g = sem.try_access().expect("one permit");
    /// assert!(sem.try_access().is_none());
    /// drop(g);
    /// ```
    #[inline]
    pub fn try_access(&self) -> Option<SemaphoreGuard<'_>> {
        self.try_acquire().then(|| self.guard())
    }

    /// A guard if a permit is acquired within `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = pysync::Semaphore::new(0);
    /// assert!(sem.access_timeout(Duration::from_millis(5)).is_none());
    /// ```
    #[inline]
    pub fn access_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard<'_>> {
        self.acquire_timeout(timeout).then(|| self.guard())
    }

    /// A guard if a permit is acquired by `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let sem = pysync::Semaphore::new(1);
    /// assert!(sem.access_until(Instant::now() + Duration::from_millis(5)).is_some());
    /// ```
    #[inline]
    pub fn access_until(&self, deadline: Instant) -> Option<SemaphoreGuard<'_>> {
        self.acquire_until(deadline).then(|| self.guard())
    }

    #[inline]
    fn guard(&self) -> SemaphoreGuard<'_> {
        SemaphoreGuard {
            raw: &self.raw,
            limit: MAX,
            bounded: false,
        }
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn overflow() -> ! {
    panic!("Semaphore released past Semaphore::MAX_PERMITS (usize::MAX >> 1) permits")
}

impl Default for Semaphore {
    /// One permit, like Python's `Semaphore()`.
    ///
    /// ```
    /// assert_eq!(pysync::Semaphore::default().available(), 1);
    /// ```
    fn default() -> Semaphore {
        Semaphore::new(1)
    }
}

impl fmt::Debug for Semaphore {
    /// Shows the available permits and whether threads wait, with one load.
    ///
    /// ```
    /// let sem = pysync::Semaphore::new(2);
    /// assert_eq!(format!("{sem:?}"), "Semaphore { available: 2, waiters: false }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Relaxed: a snapshot.
        let state = self.raw.state.load(Ordering::Relaxed);
        f.debug_struct("Semaphore")
            .field("available", &(state >> 1))
            .field("waiters", &(state & WAITERS != 0))
            .finish()
    }
}

/// A semaphore that refuses to be released past its initial value, with
/// Python's `threading.BoundedSemaphore` semantics (and the FIFO hand-off of
/// [`Semaphore`]).
///
/// [`release`](BoundedSemaphore::release) and
/// [`release_n`](BoundedSemaphore::release_n) return
/// [`Error::TooManyReleases`] ("Semaphore released too many times") when the
/// count would pass the initial value; `release_n` is all-or-nothing.
///
/// ```
/// use pysync::{BoundedSemaphore, Error};
///
/// let sem = BoundedSemaphore::new(2);
/// sem.acquire();
/// assert_eq!(sem.release(), Ok(()));
/// assert_eq!(sem.release(), Err(Error::TooManyReleases));
/// assert_eq!(sem.available(), 2);
/// ```
pub struct BoundedSemaphore {
    raw: RawSemaphore,
    initial: usize,
}

impl BoundedSemaphore {
    loom_const_fn! {
        /// A bounded semaphore with `permits` available, which is also its
        /// ceiling (Python's `BoundedSemaphore(value)`).
        ///
        /// # Panics
        /// If `permits > Semaphore::MAX_PERMITS`.
        ///
        /// ```
        /// static SLOTS: pysync::BoundedSemaphore = pysync::BoundedSemaphore::new(4);
        /// assert_eq!(SLOTS.available(), 4);
        /// ```
        #[must_use]
        #[inline]
        pub fn new(permits: usize) -> BoundedSemaphore {
            BoundedSemaphore { raw: RawSemaphore::new(permits), initial: permits }
        }
    }

    /// Takes a permit, blocking until one is available (FIFO).
    ///
    /// ```
    /// let sem = pysync::BoundedSemaphore::new(1);
    /// sem.acquire();
    /// assert_eq!(sem.available(), 0);
    /// ```
    #[inline]
    pub fn acquire(&self) {
        self.raw.acquire(None);
    }

    /// Takes a permit if one is available now.
    ///
    /// ```
    /// let sem = pysync::BoundedSemaphore::new(1);
    /// assert!(sem.try_acquire());
    /// assert!(!sem.try_acquire());
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> bool {
        self.raw.try_acquire()
    }

    /// Waits at most `timeout` for a permit; `Duration::ZERO` is a try,
    /// `Duration::MAX` waits forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = pysync::BoundedSemaphore::new(0);
    /// assert!(!sem.acquire_timeout(Duration::from_millis(5)));
    /// ```
    #[inline]
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.raw.try_fast() || self.raw.acquire_slow(deadline::after(timeout))
    }

    /// Waits until `deadline` for a permit; a deadline in the past is a try.
    ///
    /// ```
    /// use std::time::Instant;
    /// let sem = pysync::BoundedSemaphore::new(1);
    /// assert!(sem.acquire_until(Instant::now()));
    /// ```
    #[inline]
    pub fn acquire_until(&self, deadline: Instant) -> bool {
        self.raw.acquire(Some(deadline))
    }

    /// Gives back one permit (Python's `release()`), or
    /// [`Error::TooManyReleases`] if the count is already at the initial
    /// value (Python's `ValueError`).
    ///
    /// ```
    /// use pysync::{BoundedSemaphore, Error};
    /// let sem = BoundedSemaphore::new(1);
    /// assert_eq!(sem.release(), Err(Error::TooManyReleases));
    /// ```
    #[inline]
    pub fn release(&self) -> Result<(), Error> {
        self.release_n(1)
    }

    /// Gives back `n` permits, all or nothing: [`Error::TooManyReleases`]
    /// (and no change) if the count would pass the initial value. Wakes up to
    /// `n` waiters. `release_n(0)` is `Ok` and does nothing.
    ///
    /// ```
    /// use pysync::{BoundedSemaphore, Error};
    /// let sem = BoundedSemaphore::new(3);
    /// sem.acquire();
    /// sem.acquire();
    /// assert_eq!(sem.release_n(3), Err(Error::TooManyReleases));
    /// assert_eq!(sem.available(), 1); // unchanged
    /// assert_eq!(sem.release_n(2), Ok(()));
    /// assert_eq!(sem.release_n(0), Ok(()));
    /// ```
    #[inline]
    pub fn release_n(&self, n: usize) -> Result<(), Error> {
        self.raw
            .release_n(n, self.initial)
            .map_err(|()| Error::TooManyReleases)
    }

    /// The permits available now; a snapshot.
    ///
    /// ```
    /// assert_eq!(pysync::BoundedSemaphore::new(2).available(), 2);
    /// ```
    #[inline]
    pub fn available(&self) -> usize {
        self.raw.available()
    }

    /// The initial value, which is also the ceiling.
    ///
    /// ```
    /// assert_eq!(pysync::BoundedSemaphore::new(5).initial(), 5);
    /// ```
    #[inline]
    pub fn initial(&self) -> usize {
        self.initial
    }

    /// Takes a permit and returns a guard that gives it back on drop.
    ///
    /// ```
    /// let sem = pysync::BoundedSemaphore::new(1);
    /// {
    ///     let _g = sem.access();
    ///     assert_eq!(sem.available(), 0);
    /// }
    /// assert_eq!(sem.available(), 1);
    /// ```
    #[inline]
    pub fn access(&self) -> SemaphoreGuard<'_> {
        self.acquire();
        self.guard()
    }

    /// A guard if a permit is available now.
    ///
    /// ```
    /// let sem = pysync::BoundedSemaphore::new(1);
    /// let _g = sem.try_access().unwrap();
    /// assert!(sem.try_access().is_none());
    /// ```
    #[inline]
    pub fn try_access(&self) -> Option<SemaphoreGuard<'_>> {
        self.try_acquire().then(|| self.guard())
    }

    /// A guard if a permit is acquired within `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = pysync::BoundedSemaphore::new(1);
    /// assert!(sem.access_timeout(Duration::ZERO).is_some());
    /// ```
    #[inline]
    pub fn access_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard<'_>> {
        self.acquire_timeout(timeout).then(|| self.guard())
    }

    /// A guard if a permit is acquired by `deadline`.
    ///
    /// ```
    /// use std::time::Instant;
    /// let sem = pysync::BoundedSemaphore::new(0);
    /// assert!(sem.access_until(Instant::now()).is_none());
    /// ```
    #[inline]
    pub fn access_until(&self, deadline: Instant) -> Option<SemaphoreGuard<'_>> {
        self.acquire_until(deadline).then(|| self.guard())
    }

    #[inline]
    fn guard(&self) -> SemaphoreGuard<'_> {
        SemaphoreGuard {
            raw: &self.raw,
            limit: self.initial,
            bounded: true,
        }
    }
}

impl Default for BoundedSemaphore {
    /// One permit, like Python's `BoundedSemaphore()`.
    ///
    /// ```
    /// assert_eq!(pysync::BoundedSemaphore::default().initial(), 1);
    /// ```
    fn default() -> BoundedSemaphore {
        BoundedSemaphore::new(1)
    }
}

impl fmt::Debug for BoundedSemaphore {
    /// Shows the available permits, the ceiling and whether threads wait.
    ///
    /// ```
    /// let sem = pysync::BoundedSemaphore::new(2);
    /// assert_eq!(
    ///     format!("{sem:?}"),
    ///     "BoundedSemaphore { available: 2, initial: 2, waiters: false }"
    /// );
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Relaxed: a snapshot.
        let state = self.raw.state.load(Ordering::Relaxed);
        f.debug_struct("BoundedSemaphore")
            .field("available", &(state >> 1))
            .field("initial", &self.initial)
            .field("waiters", &(state & WAITERS != 0))
            .finish()
    }
}

/// RAII permit of a [`Semaphore`] or [`BoundedSemaphore`]: gives the permit
/// back on drop. Returned by `access`, `try_access`, `access_timeout`,
/// `access_until`.
///
/// It is `Send`: a permit is not owned by a thread, so it may be returned
/// from another one (as Python allows).
///
/// Dropping the guard of a [`BoundedSemaphore`] whose count is already at its
/// ceiling (because somebody else released too many times meanwhile) panics
/// with "Semaphore released too many times", unless the thread is already
/// panicking; use [`release`](SemaphoreGuard::release) to get the error
/// instead.
///
/// ```
/// let sem = pysync::Semaphore::new(1);
/// let permit = sem.access();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(permit));
/// });
/// assert_eq!(sem.available(), 1);
/// ```
#[must_use = "the permit is given back as soon as the guard is dropped"]
pub struct SemaphoreGuard<'a> {
    raw: &'a RawSemaphore,
    limit: usize,
    bounded: bool,
}

impl SemaphoreGuard<'_> {
    /// Gives the permit back now, reporting [`Error::TooManyReleases`] if a
    /// bounded semaphore is already at its ceiling (the permit is then
    /// dropped, not released).
    ///
    /// ```
    /// let sem = pysync::BoundedSemaphore::new(1);
    /// let g = sem.access();
    /// assert_eq!(g.release(), Ok(()));
    /// assert_eq!(sem.available(), 1);
    /// ```
    pub fn release(self) -> Result<(), Error> {
        let (raw, limit, bounded) = (self.raw, self.limit, self.bounded);
        core::mem::forget(self);
        match raw.release_n(1, limit) {
            Ok(()) => Ok(()),
            Err(()) if bounded => Err(Error::TooManyReleases),
            Err(()) => overflow(),
        }
    }
}

impl Drop for SemaphoreGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.raw.release_n(1, self.limit).is_err() && !std::thread::panicking() {
            if self.bounded {
                panic!("{}", Error::TooManyReleases);
            }
            overflow();
        }
    }
}

impl fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreGuard")
            .field("available", &self.raw.available())
            .field("waiters", &self.raw.has_waiters())
            .field("bounded", &self.bounded)
            .finish()
    }
}

#[cfg(not(loom))]
mod assertions {
    use super::*;
    use static_assertions::{assert_impl_all, const_assert};

    const_assert!(core::mem::size_of::<Semaphore>() <= 8);
    const_assert!(core::mem::size_of::<BoundedSemaphore>() <= 16);
    assert_impl_all!(Semaphore: Send, Sync, Default, fmt::Debug);
    assert_impl_all!(BoundedSemaphore: Send, Sync, Default, fmt::Debug);
    assert_impl_all!(SemaphoreGuard<'static>: Send, Sync, fmt::Debug);
}
