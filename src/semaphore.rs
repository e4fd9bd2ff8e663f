//! [`Semaphore`] and [`BoundedSemaphore`]: Python's `threading.Semaphore`
//! and `threading.BoundedSemaphore`, in one word, with FIFO hand-off.
//!
//! # State word
//!
//! One `AtomicUsize`, read as three ranges (`MAX` is
//! [`Semaphore::MAX_PERMITS`] = `usize::MAX >> 1`, `WAITERS` is
//! `0b11 << (usize::BITS - 2)`):
//!
//! | value `s`                 | range      | meaning                                              |
//! |---------------------------|------------|------------------------------------------------------|
//! | `0 ..= MAX`               | count      | `s` permits available, nobody parked                 |
//! | `MAX+1 .. WAITERS`        | overflow   | the count is `MAX`; `s - MAX` releases that found it full are undoing their `+1` |
//! | `WAITERS ..= usize::MAX`  | waiters    | threads may be parked (queue non-empty, or one about to park); `s - WAITERS` permits are *pending*: released by `release()` but not yet handed off |
//!
//! There is no separate waiter bit: at rest "waiters" implies a count of 0,
//! so the waiters range needs only room for the few pending permits (one per
//! thread inside `release()`), and the overflow range only room for one
//! `+1` per thread inside `release()`; each range has `usize::MAX >> 2`
//! values, far more than there can be threads.
//!
//! Why ranges: `Semaphore::release()` is a single `fetch_add(1)` (x86
//! `lock xadd`), with no load before it, and the value it returns says which
//! range it landed in. The uncontended acquire is one load and one CAS
//! (`c → c-1`). Measured (x86 VM, `benches/semaphore.rs`): with `release()`
//! a `lock xadd`, the load before the acquire's CAS costs nothing measurable
//! (acquire+release ≈ `Lock`'s `lock cmpxchg; lock cmpxchg` whatever the
//! count), while the earlier load-then-CAS *release* cost ~10 ns more; a
//! load-free acquire that guesses "exactly one permit" (`CAS 1 → 0`) matched
//! `Lock` at one permit but paid a failed `lock cmpxchg` (~+12 ns) at any
//! other count, so the load stays.
//!
//! # Transitions
//!
//! | transition                                | who                                        | ordering |
//! |-------------------------------------------|--------------------------------------------|----------|
//! | `c → c-1` (`1 ≤ c ≤ MAX`)                 | acquirer, load + CAS                       | Acquire  |
//! | `0 → WAITERS`                             | acquirer about to park (CAS)               | Relaxed (queue lock orders it) |
//! | `c → c+1` (`c < MAX`)                     | `release()`, `fetch_add(1)`: done          | Release  |
//! | `s → s+1 → s` (`MAX ≤ s < WAITERS`)       | `release()` that found the count full: `fetch_sub(1)` at once, then panics | Release / Relaxed |
//! | `W+p → W+p+1`                             | `release()` with waiters: then *reconcile* | Release  |
//! | `W+p → W+p-k`, `k` threads unparked       | reconcile / `release_n`, under queue lock, `k ≤ p` resp. `k ≤ n` | AcqRel + queue lock |
//! | `W+p → p + rest`, queue empty             | reconcile / `release_n`, under queue lock  | AcqRel   |
//! | `W+p → p`                                 | last waiter timing out, under queue lock   | Relaxed (an RMW: keeps the release sequence) |
//! | `c → c+n` (`c ≤ limit-n`)                 | `release_n` / bounded release, checked CAS | Release  |
//!
//! *Reconcile* (after a `release()` landed in the waiters range): under the
//! queue lock, read the pending count `p`, unpark up to `p` of the longest
//! waiters with a hand-off token and take their permits out of `p`; if the
//! queue is then empty, leave the waiters range (`W+p → p`: the remaining
//! pending permits become the count). If on entry the word is not in the
//! waiters range or `p = 0`, our permit was already dealt with (see below)
//! and there is nothing to do.
//!
//! # Why nothing is lost, created or stolen
//! * The waiters range is only *left* under the queue lock, by whoever sees
//!   the queue empty, and a waiter parks only if it sees the waiters range
//!   under that lock: no parked waiter is ever missed.
//! * Pending permits are only ever removed under the queue lock, either one
//!   per unparked waiter (who owns it: the seam guarantees a thread removed
//!   by an unpark never reports a timeout) or all at once into the count
//!   when the waiters range is left. Every `release()` that adds a pending
//!   permit runs a reconcile after adding it, so each pending permit is
//!   handed off or moved to the count before its releaser returns, by its own
//!   reconcile or an earlier one (permits are interchangeable: if `p = 0`
//!   when a reconcile looks, every permit added so far has been dealt with).
//!   The race "a `release()` adds a pending permit, then the last waiter times
//!   out before the releaser reconciles" is thus harmless: the timeout's
//!   `W+p → p` moves the permit to the count and the reconcile finds the
//!   word outside the waiters range (loom model
//!   `release_fetch_add_vs_last_timeout`).
//! * While in the waiters range a fresh arrival's CAS never matches (its
//!   expected value is a count), so pending permits go to parked waiters in
//!   FIFO order, never to bargers, and [`Semaphore::available`] reports 0
//!   for them (a `release()` in flight is linearised when its permit is
//!   handed off or moved to the count, both before it returns).
//! * Overflow: the overflow range is only entered by `fetch_add(1)` from
//!   exactly `MAX` (a count) or from inside it, and nothing but those
//!   `+1`/`-1` pairs writes while in it: every CAS's expected value is a
//!   count or a waiters-range value, neither of which matches; the timeout's
//!   `fetch_sub(WAITERS)` runs only in the waiters range, which is entered
//!   only from `0` and which `+1`s cannot leave (its pending part is tiny).
//!   So inside it the count is exactly `MAX`, and when the last
//!   `-1` lands the word is `MAX` again: a `release()` whose `fetch_add`
//!   returned `MAX ≤ s < WAITERS` saw a full semaphore, undoes its `+1`, and
//!   panics with the semaphore unchanged. Readers treat the range as `MAX`
//!   ([`Semaphore::available`] reports `MAX`, `Debug` no waiters); an
//!   acquirer or checked release that meets it must not write there, so it
//!   yields until the undoing `release()` (two instructions from its
//!   `fetch_add`) is done. Only possible with `MAX_PERMITS` permits in the
//!   semaphore (test `overflowing_releases_racing_acquires_are_invisible`).
//! * `release_n(n)` (and every bounded release) checks before it writes: a
//!   CAS on a count, all or nothing against the limit; in the waiters range
//!   it hands off under the queue lock like a reconcile with budget `n` and
//!   adds the rest to the count when the queue empties. Should the rest plus
//!   the pending permits of concurrent `release()`s then pass the limit
//!   (only for `n` within a few of `MAX_PERMITS`), the pending ones are
//!   linearised first and fit, ours fails unchanged, and the threads it had
//!   unparked get a retry token instead of a permit (nobody is left parked,
//!   so none is passed over).

use crate::deadline;
use crate::error::Error;
use crate::park::{self, DEFAULT_PARK_TOKEN, FilterOp, ParkResult, UnparkToken};
use crate::sync::{AtomicUsize, Ordering, loom_const_fn, spin_before_sleep};
use core::cell::Cell;
use core::fmt;
use std::time::{Duration, Instant};

/// The largest representable permit count.
const MAX: usize = usize::MAX >> 1;
/// First value of the waiters range (`0b11 << (BITS - 2)`); `s - WAITERS`
/// is the number of pending permits. `MAX + 1 .. WAITERS` is the overflow
/// range.
const WAITERS: usize = !(usize::MAX >> 2);

/// Unpark token: a permit was handed to the woken thread.
const TOKEN_HANDOFF: UnparkToken = UnparkToken(1);
/// Unpark token: nothing was handed over, try again (only after a
/// `release_n` that turned out to overflow; see `release_slow`).
const TOKEN_RETRY: UnparkToken = UnparkToken(2);

/// The permits a fresh arrival sees in state `s`.
#[inline]
fn count_of(s: usize) -> usize {
    if s <= MAX {
        s
    } else if s < WAITERS {
        MAX
    } else {
        0
    }
}

/// Waits a moment for a `release()` that overflowed to undo its `+1`.
#[cold]
fn overflow_backoff() {
    #[cfg(not(loom))]
    std::thread::yield_now();
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// How the waiters-range slow path of a checked release ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slow {
    Done,
    Overflow,
    /// The word left the waiters range before we took the queue lock:
    /// start over with the checked CAS.
    Retry,
}

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
            RawSemaphore { state: AtomicUsize::new(permits) }
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
        self.state.load(Ordering::Relaxed) >= WAITERS
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
        } else if s == 0 || s >= WAITERS {
            false
        } else {
            self.try_acquire_from(s)
        }
    }

    /// Takes a permit from state `s` (fresh from a failed CAS) if there is
    /// one; never writes outside the count range.
    #[cold]
    #[inline(never)]
    fn try_acquire_from(&self, mut s: usize) -> bool {
        loop {
            if s == 0 || s >= WAITERS {
                // No permit, or waiters parked: a fresh arrival never barges.
                return false;
            }
            if s > MAX {
                // Overflow range: the count is MAX, but a `release()` is
                // undoing its +1 there; nothing else may write. Wait for it.
                overflow_backoff();
                // Relaxed: only a guess for the CAS, which orders.
                s = self.state.load(Ordering::Relaxed);
                continue;
            }
            // Acquire: pairs with the Release of the release that added it.
            match self
                .state
                .compare_exchange_weak(s, s - 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    #[inline]
    fn acquire(&self, deadline: Option<Instant>) -> bool {
        self.try_acquire() || self.acquire_slow(deadline)
    }

    /// `Semaphore::release()`: one `fetch_add(1)`. `Err(())` (and no change)
    /// if the count is already `MAX`.
    #[inline]
    fn release_one(&self) -> Result<(), ()> {
        // Release: publishes the releaser's work to whoever takes the permit
        // (pairs with the acquirer's Acquire CAS, or with the reconcile's
        // Acquire load that hands it off).
        let prev = self.state.fetch_add(1, Ordering::Release);
        if prev < MAX {
            return Ok(());
        }
        self.release_one_slow(prev)
    }

    #[cold]
    #[inline(never)]
    fn release_one_slow(&self, prev: usize) -> Result<(), ()> {
        if prev >= WAITERS {
            // We added a pending permit: hand it (or an equal one) off.
            self.reconcile();
            return Ok(());
        }
        // `MAX ≤ prev < WAITERS`: the count was full (see the module docs).
        // Undo the +1. Relaxed: it restores a value and publishes nothing.
        self.state.fetch_sub(1, Ordering::Relaxed);
        Err(())
    }

    /// One permit back through a guard: `release()`'s fast path for a
    /// [`Semaphore`], the checked path for a [`BoundedSemaphore`].
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
        // Relaxed: only a guess for the CAS, which orders.
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s <= MAX {
                if s > limit - n {
                    return Err(());
                }
                // Release: publishes what the releaser did before to the
                // thread that takes the permit (pairs with its Acquire).
                match self.state.compare_exchange_weak(
                    s,
                    s + n,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok(()),
                    Err(now) => s = now,
                }
            } else if s < WAITERS {
                // Overflow range: the count is MAX; wait for the undo so
                // that we decide on a real value.
                overflow_backoff();
                s = self.state.load(Ordering::Relaxed);
            } else {
                match self.release_slow(n, limit) {
                    Slow::Done => return Ok(()),
                    Slow::Overflow => return Err(()),
                    Slow::Retry => s = self.state.load(Ordering::Relaxed),
                }
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
            if s != 0 && s < WAITERS {
                if s > MAX {
                    overflow_backoff();
                    s = self.state.load(Ordering::Relaxed);
                    continue;
                }
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
            // Here the count is 0, or the word is in the waiters range.
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
                // Under the queue lock: park only while in the waiters
                // range, so a release is bound to take the slow path, and
                // to run its hand-off under this lock after we are queued.
                // Relaxed: the queue lock orders it with that release.
                || self.state.load(Ordering::Relaxed) >= WAITERS,
                || {},
                |_key, was_last| {
                    if was_last {
                        // Under the queue lock, the queue is now empty (and
                        // we were in it, so the word is in the waiters
                        // range): leave it, pending permits become the count
                        // (W+p → p). Relaxed: an RMW, so the releasers'
                        // release sequences carry through it to whoever takes
                        // those permits.
                        self.state.fetch_sub(WAITERS, Ordering::Relaxed);
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

    /// After a `release()` added a pending permit: under the queue lock,
    /// hand the pending permits to the longest waiters, one each, and leave
    /// the waiters range if the queue is then empty.
    #[cold]
    #[inline(never)]
    fn reconcile(&self) {
        // Relaxed: a pre-check only; the decision is re-read under the lock.
        // If no permit is pending, every permit added so far (ours too) was
        // handed off or moved to the count, under the lock.
        if self.state.load(Ordering::Relaxed) <= WAITERS {
            return;
        }
        let mut budget: Option<usize> = None;
        park::unpark_filter(
            self.key(),
            |_token| {
                // Under the queue lock (first call): the permits pending now.
                // Acquire: pairs with the `release()`s that added them, so
                // their work is ordered before the waiters we hand them to.
                let left = budget.get_or_insert_with(|| {
                    let s = self.state.load(Ordering::Acquire);
                    s.saturating_sub(WAITERS)
                });
                // FIFO: the longest waiters get the permits, one each.
                if *left > 0 {
                    *left -= 1;
                    FilterOp::Unpark
                } else {
                    FilterOp::Stop
                }
            },
            |result| {
                // Under the queue lock. Only lock holders leave the waiters
                // range or remove pending permits; `release()`s may add
                // pending permits concurrently, hence the CAS loop.
                // Acquire: as above (the queue may have been empty, so the
                // filter never ran).
                let mut s = self.state.load(Ordering::Acquire);
                loop {
                    if s < WAITERS {
                        // A timeout or another reconcile already left the
                        // waiters range (then nobody was parked to unpark).
                        debug_assert_eq!(result.unparked_threads, 0);
                        break;
                    }
                    let mut new = s - result.unparked_threads;
                    if !result.have_more_threads {
                        // The queue is empty: pending permits become the
                        // count (W+p → p; p is tiny, never past MAX).
                        new -= WAITERS;
                    }
                    // AcqRel: Acquire as above; Release publishes the
                    // pending permits' history to whoever takes them from
                    // the count.
                    match self.state.compare_exchange_weak(
                        s,
                        new,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => break,
                        Err(now) => s = now,
                    }
                }
                TOKEN_HANDOFF
            },
        );
    }

    /// A checked release of `n` permits found the waiters range: under the
    /// queue lock, hand up to `n` to the longest waiters and add the rest to
    /// the count once the queue is empty.
    #[cold]
    #[inline(never)]
    fn release_slow(&self, n: usize, limit: usize) -> Slow {
        let mut handed = 0usize;
        let outcome = Cell::new(Slow::Done);
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
                // Under the queue lock; a CAS loop because `release()`s may
                // add pending permits concurrently.
                // Acquire: pairs with those `release()`s (their permits may
                // move to the count here).
                let mut s = self.state.load(Ordering::Acquire);
                loop {
                    if s < WAITERS {
                        // The waiters range was left before we got the lock
                        // (so the queue was empty): start over outside it.
                        debug_assert_eq!(result.unparked_threads, 0);
                        outcome.set(Slow::Retry);
                        return TOKEN_RETRY;
                    }
                    let new = if result.have_more_threads {
                        // Threads remain parked: all `n` were handed off.
                        debug_assert_eq!(rest, 0);
                        s
                    } else {
                        // The queue is empty: leave the waiters range; the
                        // count becomes the pending permits plus our rest.
                        let pending = s - WAITERS;
                        if pending > limit || rest > limit - pending {
                            // Only for a huge `n` with `release()`s in
                            // flight: linearise those first (they fit) and
                            // fail ours. The threads we unparked get a
                            // retry token and compete for the count (nobody
                            // else is parked, so nobody is passed over).
                            outcome.set(Slow::Overflow);
                            pending
                        } else {
                            pending + rest
                        }
                    };
                    // AcqRel: Acquire as above; Release publishes our work
                    // to whoever takes the permits from the count.
                    match self.state.compare_exchange_weak(
                        s,
                        new,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => break,
                        Err(now) => s = now,
                    }
                }
                if outcome.get() == Slow::Overflow {
                    TOKEN_RETRY
                } else {
                    TOKEN_HANDOFF
                }
            },
        );
        outcome.get()
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
///   `release()` with nobody waiting is one `fetch_add` and makes no parking
///   call.
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
            .field("waiters", &(state >= WAITERS))
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
            .field("waiters", &(state >= WAITERS))
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
