//! [`RawSemaphore`]: the state machine of both [`Semaphore`](super::Semaphore)
//! and [`BoundedSemaphore`](super::BoundedSemaphore), in one word, with
//! FIFO hand-off. The bound is the API's: every release takes a `limit`.
//!
//! # State word
//!
//! One `AtomicUsize` (`MAX` is `Semaphore::MAX_PERMITS` = `usize::MAX >> 1`):
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
//!   the longest waiters, never to bargers; `available` reports
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
//!
//! Cost: the uncontended `release()` is a load and a CAS instead of one
//! `fetch_add`; docs/benchmarks.md has the measurement (no difference beyond
//! the noise).

use crate::blocking::RawAcquire;
use crate::deadline;
use crate::park::{self, FilterOp, ParkResult, token};
use crate::sync::{AtomicUsize, Ordering, loom_const_fn, spin_before_sleep};
use std::time::Instant;

/// The largest representable permit count.
pub(crate) const MAX: usize = usize::MAX >> 1;
/// The word while threads are parked (or one is about to park): no permit
/// available.
const WAITERS: usize = usize::MAX;

/// The permits a fresh arrival sees in state `s`.
#[inline]
fn count_of(s: usize) -> usize {
    if s == WAITERS { 0 } else { s }
}

/// The shared core of both semaphores: the state word and its operations.
pub(crate) struct RawSemaphore {
    state: park::Watched<AtomicUsize>,
}

impl RawSemaphore {
    loom_const_fn! {
        pub(crate) fn new(permits: usize) -> RawSemaphore {
            assert!(
                permits <= MAX,
                "Semaphore: initial permits exceed Semaphore::MAX_PERMITS (usize::MAX >> 1)"
            );
            RawSemaphore { state: park::watched(AtomicUsize::new(permits)) }
        }
    }

    #[inline]
    pub(crate) fn available(&self) -> usize {
        // Relaxed: a snapshot that orders nothing.
        count_of(self.state.load(Ordering::Relaxed))
    }

    /// The permits available and whether threads wait, from one load.
    #[inline]
    pub(crate) fn snapshot(&self) -> (usize, bool) {
        // Relaxed: a snapshot that orders nothing.
        let s = self.state.load(Ordering::Relaxed);
        (count_of(s), s == WAITERS)
    }

    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        // Relaxed: a snapshot that orders nothing.
        self.state.load(Ordering::Relaxed) == WAITERS
    }

    /// The uncontended acquire: one load and one CAS; a failed CAS's answer
    /// feeds the next one.
    #[inline]
    fn try_acquire_now(&self) -> bool {
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

    /// `Semaphore::release()`: with nobody parked, one load and one CAS,
    /// which is the release's last access. `Err(())` (and no change) if the
    /// count is already `MAX`.
    #[inline]
    pub(crate) fn release_one(&self) -> Result<(), ()> {
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

    /// One permit back: `Semaphore::release()` when `limit` is `MAX`, the
    /// checked release of a `BoundedSemaphore` otherwise.
    #[inline]
    pub(crate) fn release(&self, limit: usize) -> Result<(), ()> {
        if limit == MAX {
            self.release_one()
        } else {
            self.release_n(1, limit)
        }
    }

    /// Releases `n` permits unless the count would pass `limit`, in which
    /// case nothing changes and `Err(())` is returned. `limit ≤ MAX`.
    #[inline]
    pub(crate) fn release_n(&self, n: usize, limit: usize) -> Result<(), ()> {
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
    pub(crate) fn key(&self) -> usize {
        park::key_of(&self.state)
    }

    #[cold]
    #[inline(never)]
    fn wait_for_permit(&self, deadline: Option<Instant>) -> bool {
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
            // Park only while the word is WAITERS, so a release is bound to
            // take the slow path, and to run its hand-off under the queue
            // lock after we are queued. The last waiter to time out leaves
            // the queue empty (and we were in it, so the word is WAITERS):
            // nobody waits any more, and no permit is available. Relaxed
            // (both): queue lock.
            let validate = || self.state.load(Ordering::Relaxed) == WAITERS;
            let clear_mark = || self.state.store(0, Ordering::Relaxed);
            let (key, token) = (self.key(), token::DEFAULT);
            let result = park::park_waiter(
                key,
                validate,
                Self::before_sleep,
                clear_mark,
                token,
                deadline,
            );
            match result {
                // A release handed us its permit; the unpark (through the
                // queue lock) orders the releaser's work before ours.
                ParkResult::Unparked(token::HANDOFF) => return true,
                // Removed by the timeout, not by a release: we own nothing.
                ParkResult::TimedOut => return false,
                ParkResult::Unparked(_) | ParkResult::Invalid => {}
            }
            spun = false;
            s = self.state.load(Ordering::Relaxed);
        }
    }

    /// A queued waiter's `before_sleep`: nothing yet (the spin point, should
    /// a spin after queueing ever pay here).
    #[inline]
    fn before_sleep() {}

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
        let filter = |_token| {
            // FIFO: the longest waiters get the permits, one each.
            if picked < n {
                picked += 1;
                FilterOp::Unpark
            } else {
                FilterOp::Stop
            }
        };
        let callback = |result: park::UnparkResult| {
            // A non-empty queue implies WAITERS, and while the word is
            // WAITERS only queue-lock holders write it, so this read stays
            // true until we write. Relaxed: queue lock (the permits we hand
            // off are ordered by the unpark; the count we may leave is
            // published by the store).
            if self.state.load(Ordering::Relaxed) != WAITERS {
                // The word left WAITERS before we got the lock, so the
                // queue was empty and nobody was unparked.
                done = false;
                return token::HANDOFF;
            }
            if !result.have_more_threads {
                // The queue is empty now: the rest become the count
                // (`n - k ≤ n ≤ limit`; saturating only so that no
                // arithmetic here can panic). Release: publishes our work
                // to whoever takes them.
                self.state
                    .store(n.saturating_sub(result.unparked_threads), Ordering::Release);
            }
            token::HANDOFF
        };
        park::unpark_filter(self.key(), filter, callback);
        done
    }
}

/// The waiting forms' core (both semaphores).
impl RawAcquire for RawSemaphore {
    /// One load and one CAS; a failed CAS's answer feeds the next one.
    #[inline]
    fn try_acquire(&self) -> bool {
        self.try_acquire_now()
    }

    #[inline]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        self.wait_for_permit(deadline)
    }
}
