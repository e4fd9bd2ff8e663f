//! [`RawCondition`]: the state machine of a [`Condition`](super::Condition):
//! its waiter count, the wait (queue, then release the lock) and the notify
//! (requeue onto the lock's queue).
//!
//! # State
//! * `waiters`: how many threads are parked on the condition's key (the
//!   address of `waiters` itself, never the lock's key, even when the lock is
//!   a field of the condition). Changed **only under the queue lock** of that
//!   key: `+1` in a waiter's `validate`, `-1` in its `timed_out`, `-k` in a
//!   notifier's `unpark_requeue`/`unpark_filter` callback for the `k` threads
//!   it moved or woke. So it always equals the length of the queue.
//! * `notified`: how many waiters notifiers have moved or woken so far
//!   (wrapping). Only a hint for a spinning waiter (see below); changed under
//!   the queue lock with `waiters -= k`.
//! * `lock`: the bound lock.
//!
//! | transition                | who                                  | ordering |
//! |---------------------------|--------------------------------------|----------|
//! | `waiters += 1`            | waiter, in park's validate            | Relaxed, under the queue lock; published to notifiers by the lock's Release in `before_sleep` |
//! | `waiters -= 1`            | waiter timing out on the condition    | Relaxed, under the queue lock |
//! | `waiters -= k`            | notifier, moving `k` waiters          | Relaxed, under the queue lock |
//! | read, `notify` fast path  | notifier holding the lock             | Relaxed: the lock's Acquire orders it after every registration |
//! | `notified += k`           | notifier, moving or waking `k` waiters | Relaxed, under the queue lock |
//! | read `notified`           | the first waiter, spinning            | Relaxed: a hint; the wake-up itself comes from park |
//!
//! # Waiting without losing a wake-up
//! A waiter queues itself on the condition's key first and releases the lock
//! in park's `before_sleep` (after the queue lock is dropped, so the release
//! may unpark lock waiters). A notifier must hold the lock, so it runs after
//! that release, when the waiter is already in the queue.
//!
//! # Spinning before sleeping
//! After releasing the lock, the waiter at the head of the queue (nobody
//! ahead of it when it queued) spins briefly (`sync::spin_before_sleep`:
//! pauses only, a few µs, never with one CPU) until it sees that it was
//! notified (`notified` moved since it queued: FIFO, so the notification was
//! its own) and the lock is free (the notifier's release has woken it), so
//! that `park` returns without a futex sleep. It stops at once then: a waiter
//! that spins on after its wake-up only burns the CPU its notifier needs.
//! Waiters further back do not spin: their notification is not next.
//!
//! With the `deadlock_detection` feature, the waiter drops its detector
//! record of the lock *before* parking and `before_sleep` releases the lock
//! without bookkeeping (parking_lot_core forbids bookkeeping in parking
//! callbacks); the acquisition after the wait records it again. A waiter
//! that was notified waits on the lock's key like any lock waiter, so it
//! closes a cycle through that lock.
//!
//! # Notifying without a thundering herd
//! `notify(n)` does not wake anyone: it *requeues* up to `n` waiters (FIFO)
//! from the condition's key onto the lock's key and sets the lock's
//! `PARKED_BIT` (the lock is held by the notifier), so the lock's own
//! releases wake them one at a time, each already holding its place in the
//! lock's queue. `notify(n)` with `n` at least the number of waiters (and
//! `notify_all`) is a single `RequeueAll`; fewer is one `RequeueOne` per
//! waiter. With nobody waiting, `notify*` is one load and no parking call.
//!
//! # Notify racing a timeout
//! Both run under the condition key's queue lock, so exactly one wins: a
//! waiter that times out first leaves the queue (and the count) and the
//! notification goes to the next waiter; a waiter that was requeued first is
//! notified, and if its timeout then fires on the *lock's* key, its
//! `timed_out` callback sees that key and reports `Ok(true)`. A notification
//! is never swallowed (CPython's `Condition` can drop one here, gh-90968).

use super::sealed::Sealed;
use crate::error::Error;
use crate::lock::Lock;
use crate::park::{self, FilterOp, ParkResult, RequeueOp, token};
use crate::sync::{AtomicU32, AtomicUsize, Ordering, loom_const_fn, spin_before_sleep};
use core::cell::Cell;
use std::time::Instant;

/// A condition's state: how many threads are parked on its key, how many
/// were notified so far, and the bound lock (a field here rather than in
/// `Condition`, so the three pack into 16 bytes with a `Lock`).
pub(crate) struct RawCondition<L> {
    /// Threads parked on this condition's key (the address of this word).
    waiters: AtomicUsize,
    /// Waiters notified so far, wrapping (a hint for the spinning waiter).
    notified: AtomicU32,
    /// The bound lock.
    pub(crate) lock: L,
}

impl<L> RawCondition<L> {
    loom_const_fn! {
        /// Bound to `lock`; nobody waiting.
        #[inline]
        pub(crate) fn new(lock: L) -> RawCondition<L> {
            RawCondition {
                waiters: AtomicUsize::new(0),
                notified: AtomicU32::new(0),
                lock,
            }
        }
    }

    /// How many threads wait (a snapshot).
    #[inline]
    pub(crate) fn waiters(&self) -> usize {
        // Relaxed: a snapshot.
        self.waiters.load(Ordering::Relaxed)
    }

    /// The condition's parking key: the address of its own state word, so
    /// never the lock's key even when the lock is a field.
    #[inline]
    fn key(&self) -> usize {
        park::key_of(&self.waiters)
    }
}

impl<L: Sealed> RawCondition<L> {
    /// Wakes at most `n` waiters, longest first; the caller holds the lock.
    /// With nobody waiting, one load.
    #[inline]
    pub(crate) fn notify(&self, n: usize) {
        // Relaxed: every waiter registered (under the queue lock) before it
        // released the lock, and we acquired the lock after that release, so
        // its increment happens-before this load. Stale non-zero values
        // (waiters that timed out) are rechecked under the queue lock.
        if n != 0 && self.waiters.load(Ordering::Relaxed) != 0 {
            self.notify_slow(n);
        }
    }

    /// Queues, releases the lock (which the caller holds: checked), sleeps
    /// until notified or `deadline`, takes the lock back: `Ok(true)`:
    /// notified; `Ok(false)`: timed out. The lock is held again.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Result<bool, Error> {
        let lock = &self.lock;
        let raw = lock.raw_lock();
        let key = self.key();
        let saved = Cell::new(None);
        let requeued = Cell::new(false);
        // (waiters ahead of us, `notified`) when we queued.
        let ticket = Cell::new((0usize, 0u32));
        // Deadlock detector (nothing when the feature is off): drop our
        // record of the lock now, before parking. `before_sleep` releases
        // the lock itself without bookkeeping: parking_lot_core forbids it
        // in parking callbacks (there we are already queued, and a
        // concurrent `check_deadlock` may be reading our record). The
        // acquisition after the wait records it again. (parking_lot's
        // Condvar does the same.)
        park::release_resource(raw.key());
        let validate = || {
            // Relaxed: queue lock (the release in before_sleep publishes it
            // to notifiers).
            let ahead = self.waiters.fetch_add(1, Ordering::Relaxed);
            ticket.set((ahead, self.notified.load(Ordering::Relaxed)));
            true
        };
        // Queued: now the lock may go (and may unpark lock waiters). Then
        // the spin point.
        let before_sleep = || {
            saved.set(lock.release_save_untracked());
            self.before_sleep(raw, ticket.get());
        };
        let timed_out = |timed_out_key, was_last| {
            if timed_out_key == key {
                // Still on the condition: a real timeout, not notified.
                // Relaxed: queue lock.
                self.waiters.fetch_sub(1, Ordering::Relaxed);
            } else {
                // A notifier had already moved us to the lock's queue: we
                // were notified, and are leaving the lock's queue.
                requeued.set(true);
                if was_last {
                    raw.raw().clear_parked_bit();
                }
            }
        };
        let result = park::park(
            key,
            validate,
            before_sleep,
            timed_out,
            park::fair::token(),
            deadline,
        );
        let notified = match result {
            ParkResult::Unparked(token) => {
                raw.acquire_after_wake(token);
                true
            }
            ParkResult::TimedOut => {
                raw.acquire();
                requeued.get()
            }
            // validate always says "park".
            ParkResult::Invalid => unreachable!("condition park is never invalid"),
        };
        match saved.take() {
            Some(saved) => {
                lock.restore(saved);
                Ok(notified)
            }
            None => {
                // Another thread released our (unowned) Lock between the
                // check and the release: we did not hold it, so give back
                // what we just acquired and report the misuse.
                let _ = raw.release();
                Err(Error::WaitUnacquired)
            }
        }
    }

    /// A queued waiter's `before_sleep`, once the lock is released (the
    /// spin point): if we are next to be notified (`ahead == 0`), spin a few
    /// µs until our notification and the notifier's release have woken us,
    /// so `park` returns without a futex sleep (ping-pong, queues); see
    /// "Spinning before sleeping". Only reads; only delays the sleep; never
    /// under loom.
    #[inline]
    fn before_sleep(&self, lock: &Lock, (ahead, seen): (usize, u32)) {
        if ahead == 0 {
            // Relaxed: hints (see the state table).
            spin_before_sleep(|| self.notified.load(Ordering::Relaxed) != seen && !lock.locked());
        }
    }

    #[cold]
    #[inline(never)]
    fn notify_slow(&self, n: usize) {
        let raw = self.lock.raw_lock();
        let key = self.key();
        let mut left = n;
        while left != 0 {
            let unlocked = Cell::new(false);
            let validate = || {
                // Relaxed: queue lock.
                let waiting = self.waiters.load(Ordering::Relaxed);
                if waiting == 0 {
                    return RequeueOp::Abort;
                }
                // Requeued threads are woken by the lock's release only if
                // its PARKED_BIT is set; the notifier normally holds the
                // lock, but a `Lock` may be released by anyone.
                if !raw.raw().mark_parked_if_locked() {
                    unlocked.set(true);
                    return RequeueOp::Abort;
                }
                if left >= waiting {
                    RequeueOp::RequeueAll
                } else {
                    RequeueOp::RequeueOne
                }
            };
            let callback = |_op, r: park::UnparkResult| {
                // Relaxed: queue lock. (Wrapping: no arithmetic here may
                // panic; the sum is at most the waiters counted.)
                let moved = r.requeued_threads.wrapping_add(r.unparked_threads);
                self.waiters.fetch_sub(moved, Ordering::Relaxed);
                // Relaxed: a hint, under the queue lock. Wrapping.
                self.notified.fetch_add(moved as u32, Ordering::Relaxed);
                token::RETRY
            };
            let result = park::unpark_requeue(key, raw.key(), validate, callback);
            if unlocked.get() {
                self.wake_directly(left);
                return;
            }
            if result.requeued_threads == 0 || !result.have_more_threads {
                return;
            }
            left = left.saturating_sub(result.requeued_threads);
        }
    }

    /// Wakes up to `n` waiters to acquire the lock themselves: the fallback
    /// when the lock was found unlocked, so requeueing could strand them.
    fn wake_directly(&self, n: usize) {
        let mut left = n;
        let filter = |_| {
            if left == 0 {
                return FilterOp::Stop;
            }
            left -= 1;
            FilterOp::Unpark
        };
        let callback = |r: park::UnparkResult| {
            // Relaxed: queue lock.
            self.waiters
                .fetch_sub(r.unparked_threads, Ordering::Relaxed);
            // Relaxed: a hint, under the queue lock. Wrapping.
            self.notified
                .fetch_add(r.unparked_threads as u32, Ordering::Relaxed);
            token::RETRY
        };
        park::unpark_filter(self.key(), filter, callback);
    }
}
