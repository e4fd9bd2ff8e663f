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
//! * `lock`: the bound lock, for a `Condition`; for a `Condvar`, whose
//!   lock comes with each wait's guard, a [`BoundWhileWaiting`] word instead:
//!   the address of the lock its waiters wait with, 0 while nobody waits
//!   (see [`Binding`]). Set in a waiter's `validate` when the queue is empty
//!   (a waiter with another lock is refused there: `Invalid`, its lock never
//!   released, and the `Condvar` panics), cleared by whoever empties the
//!   queue; always under the queue lock, so it is non-zero exactly while
//!   `waiters` is. A `Condvar`'s notifier reads it as a guess, requeues onto
//!   that lock's key, and touches the lock only in `validate`, after seeing
//!   the binding unchanged under the queue lock (then a waiter, which
//!   borrows the lock, is queued: the lock is alive); a changed binding
//!   means the waiters it saw left and others came, and it notifies those.
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

/// What a wait returns (as `Error::InvalidArgument`) when other threads
/// wait on the same condition with another lock.
pub(crate) const OTHER_LOCK: &str = "a Condvar was waited on with two different mutexes at once";

/// Which lock a condition's waiters wait with. A
/// [`Condition`](super::Condition) is bound to its lock for life (every
/// [`Sealed`] lock: nothing to record); a [`Condvar`](crate::Condvar) learns
/// the lock from each wait's guard, and all the waiters queued at one time
/// must use the same lock, since a notify requeues them onto that lock's
/// queue ([`BoundWhileWaiting`]). Both methods run under the condition
/// key's queue lock: they must not panic.
pub(crate) trait Binding {
    /// A waiter on `lock` is about to queue: whether it may (binding the
    /// condition to `lock` if nobody waits).
    fn bind(&self, lock: &Lock) -> bool;
    /// The queue has just become empty.
    fn unbind(&self);
}

/// A condition's own lock: bound for life.
impl<L: Sealed + ?Sized> Binding for L {
    #[inline]
    fn bind(&self, _lock: &Lock) -> bool {
        true
    }
    #[inline]
    fn unbind(&self) {}
}

/// A condition bound, while threads wait on it, to the lock they wait
/// with: the address of that [`Lock`] (which is also its parking key, see
/// `Lock`'s `repr(transparent)`), 0 while nobody waits. Written only under
/// the condition key's queue lock, and non-zero exactly while `waiters` is.
pub(crate) struct BoundWhileWaiting(AtomicUsize);

impl BoundWhileWaiting {
    loom_const_fn! {
        /// Nobody waiting, so bound to nothing.
        #[inline]
        pub(crate) fn new() -> BoundWhileWaiting {
            BoundWhileWaiting(AtomicUsize::new(0))
        }
    }
}

impl Binding for BoundWhileWaiting {
    #[inline]
    fn bind(&self, lock: &Lock) -> bool {
        let addr = lock as *const Lock as usize;
        // Relaxed: queue lock.
        match self.0.load(Ordering::Relaxed) {
            0 => {
                self.0.store(addr, Ordering::Relaxed);
                true
            }
            bound => bound == addr,
        }
    }
    #[inline]
    fn unbind(&self) {
        // Relaxed: queue lock.
        self.0.store(0, Ordering::Relaxed);
    }
}

/// How a requeue ended.
enum Requeued {
    Done,
    /// The condition was rebound to another lock before anyone was moved:
    /// this many notifications are still to give.
    Rebound(usize),
}

/// A condition's state: how many threads are parked on its key, how many
/// were notified so far, and the bound lock (a field here rather than in
/// `Condition`, so the three pack into 16 bytes with a `Lock`), or for a
/// `Condvar` the binding to its waiters' lock.
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
    #[inline]
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Result<bool, Error> {
        self.wait_with(&self.lock, deadline)
    }

    #[cold]
    #[inline(never)]
    fn notify_slow(&self, n: usize) {
        let raw = self.lock.raw_lock();
        // Bound to `raw` for life: never rebound.
        let _ = self.requeue(raw.key(), || Some(raw), n);
    }
}

impl RawCondition<BoundWhileWaiting> {
    /// Wakes at most `n` waiters, longest first, onto the queue of the lock
    /// they wait with (which the caller need not hold). With nobody
    /// waiting, one load.
    #[inline]
    pub(crate) fn notify_bound(&self, n: usize) {
        // Relaxed: as `notify`. A notifier that does not take the lock at
        // all after changing what the waiters wait for may miss a waiter
        // that is just queueing, as with every condition variable.
        if n != 0 && self.waiters.load(Ordering::Relaxed) != 0 {
            self.notify_bound_slow(n);
        }
    }

    #[cold]
    #[inline(never)]
    fn notify_bound_slow(&self, n: usize) {
        let mut left = n;
        loop {
            // Relaxed: a guess, checked under the queue lock before the
            // lock is touched.
            let addr = self.lock.0.load(Ordering::Relaxed);
            if addr == 0 {
                return;
            }
            let target = || {
                // Relaxed: queue lock. While it still says `addr`, threads
                // wait with that lock, each borrowing it until its wait
                // returns, so the lock is alive.
                (self.lock.0.load(Ordering::Relaxed) == addr).then(|| {
                    // SAFETY: `addr` is the address of a live `Lock` (see
                    // above), and only shared references to it exist.
                    unsafe { &*(addr as *const Lock) }
                })
            };
            match self.requeue(addr, target, left) {
                Requeued::Done => return,
                // The waiters we saw left and others, on another lock,
                // came: notify those.
                Requeued::Rebound(l) => left = l,
            }
        }
    }
}

impl<B: Binding> RawCondition<B> {
    /// Waiters left the queue (`gone` of them, moved or woken by a
    /// notifier when `notified`, else timed out): updates the counts and,
    /// if the queue is now empty, the binding. Under the queue lock; never
    /// panics (wrapping: the count is at least `gone`).
    #[inline]
    fn left_queue(&self, gone: usize, notified: bool) {
        // Relaxed: queue lock.
        if self.waiters.fetch_sub(gone, Ordering::Relaxed) == gone {
            self.lock.unbind();
        }
        if notified {
            // Relaxed: a hint, under the queue lock. Wrapping.
            self.notified.fetch_add(gone as u32, Ordering::Relaxed);
        }
    }

    /// [`wait`](RawCondition::wait) with `lock`, which the waiters of this
    /// condition wait with (its own for a `Condition`, the guard's for a
    /// `Condvar`). `Err(InvalidArgument(OTHER_LOCK))`: others wait with
    /// another lock; nothing was released.
    pub(crate) fn wait_with<K: Sealed + ?Sized>(
        &self,
        lock: &K,
        deadline: Option<Instant>,
    ) -> Result<bool, Error> {
        // This thread waits for hand-offs: its lock acquisitions spin to
        // take the lock as soon as it is free (`sync::LockSpin`).
        crate::sync::note_handoff_thread();
        let raw = lock.raw_lock();
        let key = self.key();
        let saved = Cell::new(None);
        let requeued = Cell::new(false);
        let other_lock = Cell::new(false);
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
            if !self.lock.bind(raw) {
                // Others wait with another lock (a Condvar misused).
                other_lock.set(true);
                return false;
            }
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
                self.left_queue(1, false);
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
            ParkResult::Invalid => {
                // Not queued, and the lock was never released: record it
                // again for the deadlock detector and report the misuse.
                debug_assert!(other_lock.get(), "validate refuses only a second lock");
                park::acquire_resource(raw.key());
                return Err(Error::InvalidArgument(OTHER_LOCK));
            }
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

    /// Requeues up to `n` waiters onto the queue of the lock `target()`
    /// returns (whose key is `lock_key`), or wakes them if that lock is
    /// free. `target` runs under the condition's queue lock and returns
    /// `None` if the waiters no longer wait with that lock.
    fn requeue<'l>(
        &self,
        lock_key: usize,
        target: impl Fn() -> Option<&'l Lock>,
        n: usize,
    ) -> Requeued {
        let key = self.key();
        let mut left = n;
        while left != 0 {
            let unlocked = Cell::new(false);
            let rebound = Cell::new(false);
            let validate = || {
                // Relaxed: queue lock.
                let waiting = self.waiters.load(Ordering::Relaxed);
                if waiting == 0 {
                    return RequeueOp::Abort;
                }
                let Some(raw) = target() else {
                    rebound.set(true);
                    return RequeueOp::Abort;
                };
                // Requeued threads are woken by the lock's release only if
                // its PARKED_BIT is set; the notifier normally holds the
                // lock, but a `Lock` may be released by anyone (and a
                // Condvar may be notified without its mutex).
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
                // (Wrapping: no arithmetic here may panic; the sum is at
                // most the waiters counted.)
                let moved = r.requeued_threads.wrapping_add(r.unparked_threads);
                if moved != 0 {
                    self.left_queue(moved, true);
                }
                token::RETRY
            };
            let result = park::unpark_requeue(key, lock_key, validate, callback);
            if rebound.get() {
                return Requeued::Rebound(left);
            }
            if unlocked.get() {
                self.wake_directly(left);
                return Requeued::Done;
            }
            if result.requeued_threads == 0 || !result.have_more_threads {
                return Requeued::Done;
            }
            left = left.saturating_sub(result.requeued_threads);
        }
        Requeued::Done
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
            if r.unparked_threads != 0 {
                self.left_queue(r.unparked_threads, true);
            }
            token::RETRY
        };
        park::unpark_filter(self.key(), filter, callback);
    }
}
