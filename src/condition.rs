//! [`Condition`]: Python's `threading.Condition`, bound to a [`Lock`] or an
//! [`RLock`] (owned, borrowed or shared through an `Arc`).
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

use crate::deadline;
use crate::error::Error;
use crate::lock::{Lock, TOKEN_RETRY};
use crate::park::{self, FilterOp, ParkResult, RequeueOp};
use crate::rlock::{RLock, RLockSaved};
use crate::sync::{AtomicU32, AtomicUsize, Ordering, loom_const_fn, spin_before_sleep};
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod sealed {
    use crate::error::Error;
    use crate::lock::Lock;
    use std::time::{Duration, Instant};

    /// What a [`Condition`](super::Condition) needs from its lock. Sealed:
    /// `raw_lock`/`release_save_untracked`/`restore` must agree with the lock's real
    /// state, which only the crate's own locks can promise.
    pub trait Sealed {
        /// What `release_save_untracked` took away (an RLock's depth; nothing for a Lock).
        type Saved;
        fn acquire(&self);
        fn try_acquire(&self) -> bool;
        fn acquire_timeout(&self, timeout: Duration) -> bool;
        fn acquire_until(&self, deadline: Instant) -> bool;
        fn release(&self) -> Result<(), Error>;
        /// The plain lock whose key waiters are requeued onto and whose
        /// acquisition means "holding the condition's lock".
        fn raw_lock(&self) -> &Lock;
        /// Releases every level, without the deadlock detector's
        /// bookkeeping (the waiter did it before parking: this runs in
        /// park's `before_sleep`, where parking_lot_core forbids it);
        /// `None` if it was not held after all (a `Lock` released by
        /// another thread meanwhile). Must not panic.
        fn release_save_untracked(&self) -> Option<Self::Saved>;
        /// Restores what `release_save_untracked` took, after `raw_lock()` was
        /// acquired by the calling thread.
        fn restore(&self, saved: Self::Saved);
    }
}

/// A lock a [`Condition`] can be bound to: [`Lock`], [`RLock`], and `&L` or
/// `Arc<L>` of either (so the lock can be shared with other code).
///
/// The trait is sealed: the condition relies on the lock's internals to
/// requeue waiters onto it.
///
/// ```
/// use pysync::{ConditionLock, Lock, RLock};
/// let lock = Lock::new();
/// assert!(!lock.is_held());
/// let _g = lock.lock();
/// assert!(lock.is_held()); // a Lock is "held" when it is locked
/// let rlock = RLock::new();
/// assert!(!rlock.is_held()); // an RLock must be owned by the caller
/// ```
pub trait ConditionLock: sealed::Sealed {
    /// Whether the calling thread may wait on or notify a condition bound to
    /// this lock (Python's `Condition._is_owned`): for a [`Lock`], whether it
    /// is locked (a `Lock` has no owner); for an [`RLock`], whether the
    /// calling thread owns it.
    ///
    /// ```
    /// use pysync::{ConditionLock, RLock};
    /// use std::sync::Arc;
    /// let r = Arc::new(RLock::new());
    /// let _g = r.lock();
    /// assert!(r.is_held());
    /// let r2 = Arc::clone(&r);
    /// assert!(!std::thread::spawn(move || r2.is_held()).join().unwrap());
    /// ```
    fn is_held(&self) -> bool;
}

impl sealed::Sealed for Lock {
    type Saved = ();
    #[inline]
    fn acquire(&self) {
        Lock::acquire(self)
    }
    #[inline]
    fn try_acquire(&self) -> bool {
        Lock::try_acquire(self)
    }
    #[inline]
    fn acquire_timeout(&self, timeout: Duration) -> bool {
        Lock::acquire_timeout(self, timeout)
    }
    #[inline]
    fn acquire_until(&self, deadline: Instant) -> bool {
        Lock::acquire_until(self, deadline)
    }
    #[inline]
    fn release(&self) -> Result<(), Error> {
        Lock::release(self)
    }
    #[inline]
    fn raw_lock(&self) -> &Lock {
        self
    }
    #[inline]
    fn release_save_untracked(&self) -> Option<()> {
        self.release_untracked().ok()
    }
    #[inline]
    fn restore(&self, (): ()) {}
}

impl ConditionLock for Lock {
    #[inline]
    fn is_held(&self) -> bool {
        self.locked()
    }
}

impl sealed::Sealed for RLock {
    type Saved = RLockSaved;
    #[inline]
    fn acquire(&self) {
        RLock::acquire(self)
    }
    #[inline]
    fn try_acquire(&self) -> bool {
        RLock::try_acquire(self)
    }
    #[inline]
    fn acquire_timeout(&self, timeout: Duration) -> bool {
        RLock::acquire_timeout(self, timeout)
    }
    #[inline]
    fn acquire_until(&self, deadline: Instant) -> bool {
        RLock::acquire_until(self, deadline)
    }
    #[inline]
    fn release(&self) -> Result<(), Error> {
        RLock::release(self)
    }
    #[inline]
    fn raw_lock(&self) -> &Lock {
        RLock::raw_lock(self)
    }
    #[inline]
    fn release_save_untracked(&self) -> Option<RLockSaved> {
        // Only ever called by the owner (checked just before), and only the
        // owner can change ownership, so this cannot fail.
        RLock::release_save_untracked(self)
    }
    #[inline]
    fn restore(&self, saved: RLockSaved) {
        self.restore_owned(saved)
    }
}

impl ConditionLock for RLock {
    #[inline]
    fn is_held(&self) -> bool {
        self.is_owned()
    }
}

macro_rules! forward_condition_lock {
    ($($ty:ty),*) => {$(
        impl<L: ConditionLock + ?Sized> sealed::Sealed for $ty {
            type Saved = L::Saved;
            #[inline]
            fn acquire(&self) {
                L::acquire(self)
            }
            #[inline]
            fn try_acquire(&self) -> bool {
                L::try_acquire(self)
            }
            #[inline]
            fn acquire_timeout(&self, timeout: Duration) -> bool {
                L::acquire_timeout(self, timeout)
            }
            #[inline]
            fn acquire_until(&self, deadline: Instant) -> bool {
                L::acquire_until(self, deadline)
            }
            #[inline]
            fn release(&self) -> Result<(), Error> {
                L::release(self)
            }
            #[inline]
            fn raw_lock(&self) -> &Lock {
                L::raw_lock(self)
            }
            #[inline]
            fn release_save_untracked(&self) -> Option<L::Saved> {
                L::release_save_untracked(self)
            }
            #[inline]
            fn restore(&self, saved: L::Saved) {
                L::restore(self, saved)
            }
        }

        impl<L: ConditionLock + ?Sized> ConditionLock for $ty {
            #[inline]
            fn is_held(&self) -> bool {
                L::is_held(self)
            }
        }
    )*};
}
forward_condition_lock!(&L, Arc<L>);

/// A condition variable with Python's `threading.Condition` semantics, bound
/// to a lock `L` ([`RLock`] by default, like Python's).
///
/// * `wait*` and `notify*` require the lock to be held by the caller
///   ([`ConditionLock::is_held`]); otherwise they return
///   [`Error::WaitUnacquired`] / [`Error::NotifyUnacquired`] (Python's
///   `RuntimeError`).
/// * `wait` releases the lock (every recursion level of an RLock), sleeps
///   until notified or timed out, and re-acquires it (restoring the depth)
///   before returning, also on timeout. There are no spurious wake-ups.
/// * `notify(n)` wakes at most `n` waiters, longest waiter first. Woken
///   waiters are moved onto the lock's queue, not woken all at once to fight
///   for the lock.
/// * A notification is never lost: a waiter whose timeout fires as it is
///   notified returns `Ok(true)`, or the notification goes to another waiter.
///   (CPython can drop it in that race, gh-90968.)
/// * `Condition<Lock>` is 16 bytes; notifying with nobody waiting is one
///   load.
///
/// | Python                             | pysync                                   |
/// |------------------------------------|------------------------------------------|
/// | `Condition()`                      | [`Condition::new`]                       |
/// | `Condition(lock)`                  | [`Condition::with_lock`]                 |
/// | `with cond:`                       | [`lock`](Condition::lock) (a guard)      |
/// | `cond.wait()` / `wait(t)`          | [`wait`](Condition::wait) / [`wait_timeout`](Condition::wait_timeout) |
/// | `cond.wait_for(p)` / `wait_for(p, t)` | [`wait_for`](Condition::wait_for) / [`wait_for_timeout`](Condition::wait_for_timeout) |
/// | `cond.notify(n)` / `notify_all()`  | [`notify`](Condition::notify) / [`notify_all`](Condition::notify_all) |
///
/// ```
/// use pysync::{Condition, Lock};
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::thread;
///
/// let pair = Arc::new((Condition::with_lock(Lock::new()), AtomicBool::new(false)));
/// let p2 = Arc::clone(&pair);
/// let t = thread::spawn(move || {
///     let (cond, ready) = &*p2;
///     let _g = cond.lock();
///     ready.store(true, Ordering::Relaxed); // protected by the lock
///     cond.notify_one().unwrap();
/// });
/// let (cond, ready) = &*pair;
/// let _g = cond.lock();
/// cond.wait_for(|| ready.load(Ordering::Relaxed)).unwrap();
/// # drop(_g);
/// t.join().unwrap();
/// ```
pub struct Condition<L: ConditionLock = RLock> {
    /// Threads parked on this condition's key (the address of this word).
    waiters: AtomicUsize,
    /// Waiters notified so far, wrapping (a hint for the spinning waiter).
    notified: AtomicU32,
    lock: L,
}

impl Condition<RLock> {
    loom_const_fn! {
        /// A condition with its own new [`RLock`] (Python's `Condition()`).
        ///
        /// ```
        /// static COND: pysync::Condition = pysync::Condition::new();
        /// let _g = COND.lock();
        /// assert!(COND.notify_all().is_ok());
        /// ```
        #[must_use]
        #[inline]
        pub fn new() -> Condition<RLock> {
            Condition {
                waiters: AtomicUsize::new(0),
                notified: AtomicU32::new(0),
                lock: RLock::new(),
            }
        }
    }
}

impl<L: ConditionLock + Default> Default for Condition<L> {
    /// A condition with its own new lock (an [`RLock`] unless said otherwise).
    fn default() -> Self {
        Condition::with_lock(L::default())
    }
}

impl<L: ConditionLock> Condition<L> {
    loom_const_fn! {
        /// A condition bound to `lock` (Python's `Condition(lock)`). Pass
        /// `&lock` or an `Arc` to share the lock with other code.
        ///
        /// ```
        /// use pysync::{Condition, Lock};
        /// let lock = Lock::new();
        /// let cond = Condition::with_lock(&lock);
        /// lock.acquire();
        /// assert!(cond.notify_one().is_ok()); // held through `lock`
        /// lock.release().unwrap();
        /// ```
        #[must_use]
        #[inline]
        pub fn with_lock(lock: L) -> Condition<L> {
            Condition {
                waiters: AtomicUsize::new(0),
                notified: AtomicU32::new(0),
                lock,
            }
        }
    }

    /// The bound lock.
    ///
    /// ```
    /// let cond = pysync::Condition::with_lock(pysync::Lock::new());
    /// assert!(!cond.lock_ref().locked());
    /// ```
    #[inline]
    pub fn lock_ref(&self) -> &L {
        &self.lock
    }

    /// Unbinds the lock and returns it.
    ///
    /// ```
    /// let cond = pysync::Condition::with_lock(pysync::Lock::new());
    /// let lock: pysync::Lock = cond.into_inner();
    /// assert!(!lock.locked());
    /// ```
    #[inline]
    pub fn into_inner(self) -> L {
        self.lock
    }

    /// Acquires the bound lock (Python's `cond.acquire()`).
    ///
    /// ```
    /// let cond = pysync::Condition::new();
    /// cond.acquire();
    /// cond.acquire(); // RLock: re-entrant
    /// cond.release().unwrap();
    /// cond.release().unwrap();
    /// ```
    #[inline]
    pub fn acquire(&self) {
        self.lock.acquire()
    }

    /// Acquires the bound lock if that needs no waiting.
    ///
    /// ```
    /// let cond = pysync::Condition::with_lock(pysync::Lock::new());
    /// assert!(cond.try_acquire());
    /// assert!(!cond.try_acquire());
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> bool {
        self.lock.try_acquire()
    }

    /// Waits at most `timeout` for the bound lock.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cond = pysync::Condition::with_lock(pysync::Lock::new());
    /// assert!(cond.acquire_timeout(Duration::from_millis(5)));
    /// assert!(!cond.acquire_timeout(Duration::from_millis(5)));
    /// ```
    #[inline]
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.lock.acquire_timeout(timeout)
    }

    /// Waits until `deadline` for the bound lock.
    ///
    /// ```
    /// use std::time::Instant;
    /// let cond = pysync::Condition::with_lock(pysync::Lock::new());
    /// assert!(cond.acquire_until(Instant::now()));
    /// ```
    #[inline]
    pub fn acquire_until(&self, deadline: Instant) -> bool {
        self.lock.acquire_until(deadline)
    }

    /// Releases the bound lock (one level of an RLock), with the lock's own
    /// error if it is not held.
    ///
    /// ```
    /// use pysync::{Condition, Error};
    /// let cond = Condition::new();
    /// assert_eq!(cond.release(), Err(Error::NotOwned));
    /// ```
    #[inline]
    pub fn release(&self) -> Result<(), Error> {
        self.lock.release()
    }

    /// Acquires the bound lock and returns a guard that releases it on drop
    /// (Python's `with cond:`).
    ///
    /// ```
    /// let cond = pysync::Condition::new();
    /// {
    ///     let _g = cond.lock();
    ///     cond.notify_all().unwrap();
    /// }
    /// assert!(cond.notify_all().is_err());
    /// ```
    #[inline]
    pub fn lock(&self) -> ConditionGuard<'_, L> {
        self.lock.acquire();
        ConditionGuard {
            cond: self,
            _not_send: PhantomData,
        }
    }

    /// Releases the lock, waits until notified, re-acquires the lock
    /// (Python's `wait()`). On an RLock-bound condition every recursion level
    /// is released and restored.
    ///
    /// Returns [`Error::WaitUnacquired`] if the lock is not held.
    ///
    /// ```
    /// use pysync::{Condition, Error};
    /// let cond = Condition::new();
    /// assert_eq!(cond.wait(), Err(Error::WaitUnacquired));
    /// ```
    pub fn wait(&self) -> Result<(), Error> {
        self.wait_deadline(None).map(|_| ())
    }

    /// Like [`wait`](Condition::wait), for at most `timeout`:
    /// `Ok(true)` if notified, `Ok(false)` on timeout (the lock is held again
    /// either way). `Duration::ZERO` still releases and re-acquires the lock,
    /// like Python's `wait(0)`; `Duration::MAX` waits forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cond = pysync::Condition::new();
    /// let _g = cond.lock();
    /// assert_eq!(cond.wait_timeout(Duration::from_millis(5)), Ok(false));
    /// assert!(cond.lock_ref().is_owned());
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        self.wait_deadline(deadline::after(timeout))
    }

    /// Like [`wait_timeout`](Condition::wait_timeout), until `deadline`.
    ///
    /// ```
    /// use std::time::Instant;
    /// let cond = pysync::Condition::new();
    /// let _g = cond.lock();
    /// assert_eq!(cond.wait_until(Instant::now()), Ok(false));
    /// ```
    pub fn wait_until(&self, deadline: Instant) -> Result<bool, Error> {
        self.wait_deadline(Some(deadline))
    }

    /// Waits until `pred()` is true (Python's `wait_for(pred)`); `pred` runs
    /// with the lock held, first before any waiting.
    ///
    /// Unlike Python, which only complains if it actually has to wait, this
    /// returns [`Error::WaitUnacquired`] whenever the lock is not held.
    ///
    /// ```
    /// let cond = pysync::Condition::new();
    /// let _g = cond.lock();
    /// cond.wait_for(|| true).unwrap(); // true at once: no waiting
    /// ```
    pub fn wait_for(&self, mut pred: impl FnMut() -> bool) -> Result<(), Error> {
        self.wait_for_deadline(&mut pred, None).map(|_| ())
    }

    /// Waits at most `timeout` until `pred()` is true; returns pred's last
    /// value (Python's `wait_for(pred, timeout)`). `pred` is checked first
    /// and once more after the time runs out.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cond = pysync::Condition::new();
    /// let _g = cond.lock();
    /// assert_eq!(cond.wait_for_timeout(|| false, Duration::from_millis(5)), Ok(false));
    /// assert_eq!(cond.wait_for_timeout(|| true, Duration::ZERO), Ok(true));
    /// ```
    pub fn wait_for_timeout(
        &self,
        mut pred: impl FnMut() -> bool,
        timeout: Duration,
    ) -> Result<bool, Error> {
        self.wait_for_deadline(&mut pred, deadline::after(timeout))
    }

    /// Waits until `deadline` for `pred()` to be true; returns pred's last
    /// value.
    ///
    /// ```
    /// use std::time::Instant;
    /// let cond = pysync::Condition::new();
    /// let _g = cond.lock();
    /// assert_eq!(cond.wait_for_until(|| false, Instant::now()), Ok(false));
    /// ```
    pub fn wait_for_until(
        &self,
        mut pred: impl FnMut() -> bool,
        deadline: Instant,
    ) -> Result<bool, Error> {
        self.wait_for_deadline(&mut pred, Some(deadline))
    }

    /// Wakes at most `n` waiters, longest waiter first (Python's
    /// `notify(n)`). They run once they get the lock, which the caller holds.
    ///
    /// Returns [`Error::NotifyUnacquired`] if the lock is not held. With
    /// nobody waiting it is one load.
    ///
    /// ```
    /// use pysync::{Condition, Error};
    /// let cond = Condition::new();
    /// assert_eq!(cond.notify(2), Err(Error::NotifyUnacquired));
    /// let _g = cond.lock();
    /// assert_eq!(cond.notify(2), Ok(()));
    /// ```
    #[inline]
    pub fn notify(&self, n: usize) -> Result<(), Error> {
        if !self.lock.is_held() {
            return Err(Error::NotifyUnacquired);
        }
        // Relaxed: every waiter registered (under the queue lock) before it
        // released the lock, and we acquired the lock after that release, so
        // its increment happens-before this load. Stale non-zero values
        // (waiters that timed out) are rechecked under the queue lock.
        if n != 0 && self.waiters.load(Ordering::Relaxed) != 0 {
            self.notify_slow(n);
        }
        Ok(())
    }

    /// Wakes the longest waiter, if any (Python's `notify()`).
    ///
    /// ```
    /// let cond = pysync::Condition::new();
    /// let _g = cond.lock();
    /// cond.notify_one().unwrap();
    /// ```
    #[inline]
    pub fn notify_one(&self) -> Result<(), Error> {
        self.notify(1)
    }

    /// Wakes every waiter (Python's `notify_all()`): they are moved onto the
    /// lock's queue and get the lock one after another.
    ///
    /// ```
    /// let cond = pysync::Condition::with_lock(pysync::Lock::new());
    /// assert!(cond.notify_all().is_err());
    /// let _g = cond.lock();
    /// cond.notify_all().unwrap();
    /// ```
    #[inline]
    pub fn notify_all(&self) -> Result<(), Error> {
        self.notify(usize::MAX)
    }

    // ----- internals -------------------------------------------------------

    /// The condition's parking key: the address of its own state word, so
    /// never the lock's key even when the lock is a field.
    #[inline]
    fn key(&self) -> usize {
        park::key_of(&self.waiters)
    }

    fn wait_for_deadline(
        &self,
        pred: &mut dyn FnMut() -> bool,
        deadline: Option<Instant>,
    ) -> Result<bool, Error> {
        if !self.lock.is_held() {
            return Err(Error::WaitUnacquired);
        }
        loop {
            if pred() {
                return Ok(true);
            }
            if deadline::expired(deadline) {
                return Ok(false);
            }
            self.wait_deadline(deadline)?;
        }
    }

    /// `Ok(true)`: notified; `Ok(false)`: timed out. The lock is held again.
    fn wait_deadline(&self, deadline: Option<Instant>) -> Result<bool, Error> {
        if !self.lock.is_held() {
            return Err(Error::WaitUnacquired);
        }
        let raw = self.lock.raw_lock();
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
        let result = park::park(
            key,
            || {
                // Relaxed: under the queue lock (see the state table); the
                // release in before_sleep publishes it to notifiers.
                let ahead = self.waiters.fetch_add(1, Ordering::Relaxed);
                ticket.set((ahead, self.notified.load(Ordering::Relaxed)));
                true
            },
            // Queued: now the lock may go (and may unpark lock waiters).
            // Then, if we are next to be notified, spin a few µs until our
            // notification and the notifier's release have woken us, so
            // `park` returns without a futex sleep (ping-pong, queues);
            // see "Spinning before sleeping". Only reads; only delays the
            // sleep; never under loom.
            || {
                saved.set(self.lock.release_save_untracked());
                let (ahead, seen) = ticket.get();
                if ahead == 0 {
                    // Relaxed: hints (see the state table).
                    spin_before_sleep(|| {
                        self.notified.load(Ordering::Relaxed) != seen && !raw.locked()
                    });
                }
            },
            |timed_out_key, was_last| {
                if timed_out_key == key {
                    // Still on the condition: a real timeout, not notified.
                    // Relaxed: under the queue lock.
                    self.waiters.fetch_sub(1, Ordering::Relaxed);
                } else {
                    // A notifier had already moved us to the lock's queue:
                    // we were notified, and are leaving the lock's queue.
                    requeued.set(true);
                    if was_last {
                        raw.clear_parked_bit();
                    }
                }
            },
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
                self.lock.restore(saved);
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

    #[cold]
    #[inline(never)]
    fn notify_slow(&self, n: usize) {
        let raw = self.lock.raw_lock();
        let key = self.key();
        let mut left = n;
        while left != 0 {
            let unlocked = Cell::new(false);
            let result = park::unpark_requeue(
                key,
                raw.key(),
                || {
                    // Relaxed: under the queue lock, like every change.
                    let waiting = self.waiters.load(Ordering::Relaxed);
                    if waiting == 0 {
                        return RequeueOp::Abort;
                    }
                    // Requeued threads are woken by the lock's release only
                    // if its PARKED_BIT is set; the notifier normally holds
                    // the lock, but a `Lock` may be released by anyone.
                    if !raw.mark_parked_if_locked() {
                        unlocked.set(true);
                        return RequeueOp::Abort;
                    }
                    if left >= waiting {
                        RequeueOp::RequeueAll
                    } else {
                        RequeueOp::RequeueOne
                    }
                },
                |_op, r| {
                    // Relaxed: under the queue lock.
                    let moved = r.requeued_threads + r.unparked_threads;
                    self.waiters.fetch_sub(moved, Ordering::Relaxed);
                    // Relaxed: a hint, under the queue lock. Wrapping.
                    self.notified.fetch_add(moved as u32, Ordering::Relaxed);
                    TOKEN_RETRY
                },
            );
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
        park::unpark_filter(
            self.key(),
            |_| {
                if left == 0 {
                    return FilterOp::Stop;
                }
                left -= 1;
                FilterOp::Unpark
            },
            |r| {
                // Relaxed: under the queue lock.
                self.waiters
                    .fetch_sub(r.unparked_threads, Ordering::Relaxed);
                // Relaxed: a hint, under the queue lock. Wrapping.
                self.notified
                    .fetch_add(r.unparked_threads as u32, Ordering::Relaxed);
                TOKEN_RETRY
            },
        );
    }
}

impl<L: ConditionLock + fmt::Debug> fmt::Debug for Condition<L> {
    /// Shows the lock and how many threads wait, without taking the lock.
    ///
    /// ```
    /// let cond = pysync::Condition::with_lock(pysync::Lock::new());
    /// assert_eq!(format!("{cond:?}"), "Condition { lock: Lock { locked: false }, waiters: 0 }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("lock", &self.lock)
            // Relaxed: a snapshot.
            .field("waiters", &self.waiters.load(Ordering::Relaxed))
            .finish()
    }
}

/// RAII guard of a [`Condition`]'s lock: releases it (one level) on drop.
/// Returned by [`Condition::lock`]. `!Send`, since an RLock must be released
/// by its owner.
///
/// ```
/// let cond = pysync::Condition::new();
/// let g = cond.lock();
/// assert!(cond.lock_ref().is_owned());
/// drop(g);
/// assert!(!cond.lock_ref().locked());
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ConditionGuard<'a, L: ConditionLock> {
    cond: &'a Condition<L>,
    _not_send: PhantomData<*const ()>,
}

impl<L: ConditionLock> Drop for ConditionGuard<'_, L> {
    #[inline]
    fn drop(&mut self) {
        // The guard proves the acquisition; an Err only means the caller (or,
        // for a Lock, another thread) already released it by hand.
        let _ = self.cond.lock.release();
    }
}

impl<L: ConditionLock + fmt::Debug> fmt::Debug for ConditionGuard<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionGuard")
            .field("cond", self.cond)
            .finish()
    }
}

#[cfg(not(loom))]
mod assertions {
    use super::*;
    use static_assertions::{assert_impl_all, assert_not_impl_any, const_assert};

    const_assert!(core::mem::size_of::<Condition<Lock>>() <= 16);
    assert_impl_all!(Condition: Send, Sync, Default, fmt::Debug);
    assert_impl_all!(Condition<Lock>: Send, Sync, fmt::Debug);
    assert_impl_all!(Condition<&'static Lock>: Send, Sync, fmt::Debug);
    assert_impl_all!(Condition<Arc<RLock>>: Send, Sync, fmt::Debug);
    assert_not_impl_any!(ConditionGuard<'static, Lock>: Send);
}
