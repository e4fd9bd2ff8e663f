//! [`Semaphore`] and [`BoundedSemaphore`]: Python's `threading.Semaphore`
//! and `threading.BoundedSemaphore`, in one word, with FIFO hand-off.
//!
//! # State word
//!
//! One `AtomicUsize` (`MAX` is [`Semaphore::MAX_PERMITS`] = `usize::MAX >> 1`):
//!
//! | value `s`        | meaning                                                          |
//! |------------------|------------------------------------------------------------------|
//! | `0 ..= MAX`      | `s` permits available, nobody parked                             |
//! | `WAITERS` (`usize::MAX`) | no permit available; threads are parked (queue non-empty) or one is about to park |
//!
//! # Transitions
//!
//! | transition                       | who                                               | ordering |
//! |----------------------------------|---------------------------------------------------|----------|
//! | `c → c-1` (`1 ≤ c ≤ MAX`)        | acquirer: load + CAS                              | Acquire  |
//! | `0 → WAITERS`                    | acquirer about to park (CAS)                      | Relaxed (the queue lock orders it) |
//! | `c → c+n` (`c + n ≤ limit`)      | any release with nobody parked: load + CAS, its one write and last access | Release |
//! | `WAITERS` unchanged, `k` woken   | release of `n ≥ k` with waiters, under the queue lock: hands one permit to each of the `k` longest waiters, more remain parked | queue lock |
//! | `WAITERS → n-k`, queue emptied   | same, the queue is now empty: the rest become the count | Release |
//! | `WAITERS → 0`                    | last waiter timing out, under the queue lock      | Relaxed  |
//!
//! While the word is `WAITERS`, only a holder of the queue lock writes it
//! (every CAS outside expects a count, which `WAITERS` is not), and under
//! the queue lock a non-empty queue implies `WAITERS` (a thread parks only
//! if it sees `WAITERS` under that lock, and `WAITERS` is left only by a
//! holder that sees the queue empty). So:
//! * **No lost wake-up**: a release either finds a count (then nobody is
//!   parked, and its CAS makes the permit visible to the next arrival) or
//!   finds `WAITERS` and, under the queue lock, hands its permits to queued
//!   waiters or, with the queue empty, leaves `WAITERS` with them as the
//!   count (an arrival about to park re-checks under that lock and retries).
//! * **FIFO, no barging**: while anyone is parked, a fresh arrival's CAS
//!   never matches (`WAITERS` is not a count), so released permits go to
//!   the longest waiters, never to bargers; [`Semaphore::available`] reports
//!   0 meanwhile.
//! * **No permit lost or created**: a permit is handed to a thread the seam
//!   has removed from the queue (so it cannot also report a timeout), or
//!   lands in the count; a timing-out waiter takes nothing with it.
//! * **Overflow** is checked before anything is written (the CAS's expected
//!   value is at most `limit - n`), so a release past the limit fails with
//!   the semaphore unchanged.
//!
//! # Destruction
//! A release's last access to the word is the write that makes its permits
//! available (the CAS on the count, or under the queue lock the store that
//! leaves `WAITERS`), or, when every permit is handed to a parked waiter,
//! the load under the queue lock that precedes the hand-off (the woken
//! threads run only after it). So whoever takes a permit may free the
//! semaphore as soon as every other call using it has returned, as POSIX
//! promises for `sem_destroy` (glibc bug 12674 was a `sem_post` that touched
//! the semaphore after waking the waiter). A single `fetch_add` release
//! could not promise that with waiters parked: its permit is visible before
//! it has handed it off, so a timeout or another release can pass it on
//! while the releaser still has to touch the word.
//!
//! Cost: the uncontended `release()` is a load and a CAS (`lock cmpxchg`)
//! instead of one `fetch_add` (`lock xadd`); the uncontended acquire is one
//! load and one CAS, as before. Measured (2-core x86 VM, load average 7-8,
//! old and new builds interleaved, 300 runs of 200 000 acquire+release
//! pairs each): no difference beyond the noise, minimum 21.6-24.4 ns old
//! against 22.0-24.7 ns new, the same medians; a `Lock` pair measures the
//! same. The cost is the release's load; the CAS costs what `lock xadd` does.

use crate::deadline;
use crate::error::Error;
use crate::park::{self, DEFAULT_PARK_TOKEN, FilterOp, ParkResult, UnparkToken};
use crate::sync::{AtomicUsize, Ordering, loom_const_fn, spin_before_sleep};
use core::fmt;
use std::time::{Duration, Instant};

/// The largest representable permit count.
const MAX: usize = usize::MAX >> 1;
/// The word while threads are parked (or one is about to park): no permit
/// available.
const WAITERS: usize = usize::MAX;

/// Unpark token: a permit was handed to the woken thread.
const TOKEN_HANDOFF: UnparkToken = UnparkToken(1);

/// The permits a fresh arrival sees in state `s`.
#[inline]
fn count_of(s: usize) -> usize {
    if s == WAITERS { 0 } else { s }
}

/// The shared core of both semaphores: the state word and its operations.
struct RawSemaphore {
    state: park::Watched<AtomicUsize>,
}

impl RawSemaphore {
    loom_const_fn! {
        fn new(permits: usize) -> RawSemaphore {
            assert!(
                permits <= MAX,
                "Semaphore: initial permits exceed Semaphore::MAX_PERMITS (usize::MAX >> 1)"
            );
            RawSemaphore { state: park::watched(AtomicUsize::new(permits)) }
        }
    }

    #[inline]
    fn available(&self) -> usize {
        // Relaxed: a snapshot that orders nothing.
        count_of(self.state.load(Ordering::Relaxed))
    }

    #[inline]
    fn has_waiters(&self) -> bool {
        // Relaxed: a snapshot that orders nothing.
        self.state.load(Ordering::Relaxed) == WAITERS
    }

    /// The uncontended acquire: one load and one CAS; a failed CAS's answer
    /// feeds the next one.
    #[inline]
    fn try_acquire(&self) -> bool {
        // Relaxed: only a guess for the CAS, which orders.
        let s = self.state.load(Ordering::Relaxed);
        if s.wrapping_sub(1) < MAX {
            // A count of 1 ..= MAX. Acquire: pairs with the Release of the
            // release that added the permit.
            match self
                .state
                .compare_exchange(s, s - 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => true,
                Err(now) => self.try_acquire_from(now),
            }
        } else {
            // No permit, or waiters parked: a fresh arrival never barges.
            false
        }
    }

    /// Takes a permit from state `s` (fresh from a failed CAS) if there is
    /// one.
    #[cold]
    #[inline(never)]
    fn try_acquire_from(&self, mut s: usize) -> bool {
        while s.wrapping_sub(1) < MAX {
            // Acquire: pairs with the Release of the release that added it.
            match self
                .state
                .compare_exchange_weak(s, s - 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
        false
    }

    #[inline]
    fn acquire(&self, deadline: Option<Instant>) -> bool {
        self.try_acquire() || self.acquire_slow(deadline)
    }

    /// `Semaphore::release()`: with nobody parked, one load and one CAS,
    /// which is the release's last access. `Err(())` (and no change) if the
    /// count is already `MAX`.
    #[inline]
    fn release_one(&self) -> Result<(), ()> {
        // Relaxed: only a guess for the CAS, which orders.
        let s = self.state.load(Ordering::Relaxed);
        // Release: publishes the releaser's work to whoever takes the permit
        // (pairs with the acquirer's Acquire CAS).
        if s < MAX
            && self
                .state
                .compare_exchange(s, s + 1, Ordering::Release, Ordering::Relaxed)
                .is_ok()
        {
            return Ok(());
        }
        self.release_n_from(1, MAX)
    }

    /// One permit back through a guard: `release()` for a [`Semaphore`],
    /// the checked release for a [`BoundedSemaphore`].
    #[inline]
    fn release(&self, limit: usize, bounded: bool) -> Result<(), ()> {
        if bounded {
            self.release_n(1, limit)
        } else {
            self.release_one()
        }
    }

    /// Releases `n` permits unless the count would pass `limit`, in which
    /// case nothing changes and `Err(())` is returned. `limit ≤ MAX`.
    #[inline]
    fn release_n(&self, n: usize, limit: usize) -> Result<(), ()> {
        debug_assert!(limit <= MAX);
        if n == 0 {
            return Ok(());
        }
        if n > limit {
            return Err(());
        }
        self.release_n_from(n, limit)
    }

    /// `release_n` after the argument checks (`1 ≤ n ≤ limit ≤ MAX`).
    fn release_n_from(&self, n: usize, limit: usize) -> Result<(), ()> {
        // Relaxed: only a guess for the CAS, which orders.
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s != WAITERS {
                if s > limit - n {
                    return Err(());
                }
                // Release: publishes what the releaser did before to the
                // thread that takes the permit (pairs with its Acquire).
                // This CAS is the release's only write and last access.
                match self.state.compare_exchange_weak(
                    s,
                    s + n,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok(()),
                    Err(now) => s = now,
                }
            } else if self.release_to_waiters(n) {
                return Ok(());
            } else {
                // The last waiter left before we got the queue lock: start
                // over with the CAS.
                s = self.state.load(Ordering::Relaxed);
            }
        }
    }

    #[inline]
    fn key(&self) -> usize {
        park::key_of(&self.state)
    }

    #[cold]
    #[inline(never)]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        // Whether we spun since we last parked (spin once per round).
        let mut spun = false;
        // Relaxed: only a guess for the CASes below, which order.
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s.wrapping_sub(1) < MAX {
                // Acquire: pairs with the Release of the release that added it.
                match self.state.compare_exchange_weak(
                    s,
                    s - 1,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return true,
                    Err(now) => s = now,
                }
                continue;
            }
            // Here the count is 0, or threads are parked.
            if deadline::expired(deadline) {
                return false;
            }
            // Spin a little while nobody is parked yet, where that can help
            // (`sync::spin_before_sleep`: pauses, never a yield, never with
            // one CPU), until a permit comes or somebody parks. Relaxed:
            // snapshots; the CAS above orders.
            if s == 0 && !spun {
                spun = true;
                spin_before_sleep(|| self.state.load(Ordering::Relaxed) != 0);
                s = self.state.load(Ordering::Relaxed);
                continue;
            }
            if s == 0 {
                // Announce that we will park (0 → WAITERS). Relaxed: the
                // queue lock orders it with the releaser, which re-reads
                // under it.
                if let Err(now) = self.state.compare_exchange_weak(
                    0,
                    WAITERS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    s = now;
                    continue;
                }
            }
            let result = park::park(
                self.key(),
                // Under the queue lock: park only while the word is
                // WAITERS, so a release is bound to take the slow path, and
                // to run its hand-off under this lock after we are queued.
                // Relaxed: the queue lock orders it with that release.
                || self.state.load(Ordering::Relaxed) == WAITERS,
                || {},
                |_key, was_last| {
                    if was_last {
                        // Under the queue lock, the queue is now empty (and
                        // we were in it, so the word is WAITERS): nobody
                        // waits any more, and no permit is available.
                        // Relaxed: publishes nothing.
                        self.state.store(0, Ordering::Relaxed);
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
            spun = false;
            s = self.state.load(Ordering::Relaxed);
        }
    }

    /// A release of `n` permits that found threads parked: under the queue
    /// lock, hands one permit to each of the (up to) `n` longest waiters,
    /// and if that empties the queue, leaves `WAITERS` with the rest as the
    /// count. `false`: the word was not `WAITERS` any more when we got the
    /// lock (the last waiter timed out); nothing was done.
    ///
    /// The whole release happens in the queue-locked callback: its last
    /// access is the store that leaves `WAITERS`, or the load that saw
    /// `WAITERS` when every permit goes to a waiter that only runs after
    /// the callback. Nobody can take one of our permits before that.
    #[cold]
    #[inline(never)]
    fn release_to_waiters(&self, n: usize) -> bool {
        let mut picked = 0usize;
        let mut done = true;
        park::unpark_filter(
            self.key(),
            |_token| {
                // FIFO: the longest waiters get the permits, one each.
                if picked < n {
                    picked += 1;
                    FilterOp::Unpark
                } else {
                    FilterOp::Stop
                }
            },
            |result| {
                // Under the queue lock. A non-empty queue implies WAITERS,
                // and while the word is WAITERS only queue-lock holders
                // write it, so this read stays true until we write.
                // Relaxed: the permits we hand off are ordered by the
                // unpark; the count we may leave is published by the store.
                if self.state.load(Ordering::Relaxed) != WAITERS {
                    // The range was left before we got the lock, so the
                    // queue was empty and nobody was unparked.
                    done = false;
                    return TOKEN_HANDOFF;
                }
                if !result.have_more_threads {
                    // The queue is empty now: the rest become the count
                    // (`n - k ≤ n ≤ limit`, no overflow). Release: publishes
                    // our work to whoever takes them.
                    self.state
                        .store(n - result.unparked_threads, Ordering::Release);
                }
                TOKEN_HANDOFF
            },
        );
        done
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
/// * State is one word; uncontended acquire is one load and one CAS,
///   `release()` with nobody waiting is one load and one CAS and makes no
///   parking call.
/// * May be freed as soon as the last call using it has returned: a
///   thread that took a permit may destroy the semaphore while the
///   `release` that provided it is still returning (as POSIX promises for
///   `sem_destroy`; see the crate docs).
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
    /// (the state word keeps values above it for parked waiters).
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
        self.raw.try_acquire() || self.raw.acquire_slow(deadline::after(timeout))
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
        if self.raw.release_one().is_err() {
            overflow();
        }
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
        let result = if n == 1 {
            self.raw.release_one()
        } else {
            self.raw.release_n(n, MAX)
        };
        if result.is_err() {
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
            .field("available", &count_of(state))
            .field("waiters", &(state == WAITERS))
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
/// Like a [`Semaphore`], it may be freed as soon as the last call using it
/// has returned (see the crate docs).
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
        self.raw.try_acquire() || self.raw.acquire_slow(deadline::after(timeout))
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
            .field("available", &count_of(state))
            .field("initial", &self.initial)
            .field("waiters", &(state == WAITERS))
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
        match raw.release(limit, bounded) {
            Ok(()) => Ok(()),
            Err(()) if bounded => Err(Error::TooManyReleases),
            Err(()) => overflow(),
        }
    }
}

impl Drop for SemaphoreGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.raw.release(self.limit, self.bounded).is_err() && !std::thread::panicking() {
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
