//! [`Condition`]: Python's `threading.Condition`, bound to a [`Lock`] or an
//! [`RLock`] (owned, borrowed or shared through an `Arc`): the public API
//! and [`ConditionLock`], over [`raw::RawCondition`] (the waiter count, the
//! wait and the requeueing notify; its module docs state the invariants).

pub(crate) mod raw;

use crate::blocking;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::lock::Lock;
use crate::rlock::{RLock, RLockSaved};
use crate::sync::loom_const_fn;
use core::fmt;
use raw::RawCondition;
use std::sync::Arc;

mod sealed {
    use crate::blocking::RawAcquire;
    use crate::error::Error;
    use crate::lock::Lock;

    /// What a [`Condition`](super::Condition) needs from its lock: its
    /// waiting forms ([`RawAcquire`]) and the rest below. Sealed:
    /// `raw_lock`/`release_save_untracked`/`restore` must agree with the
    /// lock's real state, which only the crate's own locks can promise.
    pub trait Sealed: RawAcquire {
        /// What `release_save_untracked` took away (an RLock's depth;
        /// nothing for a Lock).
        type Saved;
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
        /// Restores what `release_save_untracked` took, after `raw_lock()`
        /// was acquired by the calling thread.
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
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a lock a `pysync::Condition` can be bound to",
    label = "a `Condition` is bound to a `pysync::Lock` or `pysync::RLock` (owned, `&`, or `Arc`)",
    note = "for data behind a `pysync::Mutex<T>`, use `pysync::Condvar`, which waits with the mutex's guard"
)]
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

/// `&L` and `Arc<L>` are bound like `L` itself.
macro_rules! forward_condition_lock {
    ($($ty:ty),*) => {$(
        impl<L: ConditionLock + ?Sized> sealed::Sealed for $ty {
            type Saved = L::Saved;
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
    /// The state machine, with the bound lock (`raw.lock`).
    pub(crate) raw: RawCondition<L>,
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
            Condition { raw: RawCondition::new(RLock::new()) }
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
            Condition { raw: RawCondition::new(lock) }
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
        &self.raw.lock
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
        self.raw.lock
    }

    blocking::acquire_forms!("the bound lock", "cond" = "pysync::Condition::with_lock(pysync::Lock::new())"; |c| &c.raw.lock);

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
        self.raw.lock.release()
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
        blocking::acquire(&self.raw.lock, Deadline::Never);
        ConditionGuard::new(self)
    }

    blocking::condition_forms!("cond" = "pysync::Condition::new()");

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
        if !self.raw.lock.is_held() {
            return Err(Error::NotifyUnacquired);
        }
        self.raw.notify(n);
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

    // ----- the cores of the waiting forms -----------------------------------

    /// `Ok(true)`: notified; `Ok(false)`: timed out (the lock is held again
    /// either way).
    fn wait_core(&self, deadline: Deadline) -> Result<bool, Error> {
        let held = self.raw.lock.is_held();
        blocking::condition_wait(held, deadline, |until| self.raw.wait(until))
    }

    fn wait_for_core(&self, pred: &mut dyn FnMut() -> bool, d: Deadline) -> Result<bool, Error> {
        let held = self.raw.lock.is_held();
        blocking::condition_wait_for(held, pred, d, |d| self.wait_core(d))
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
            .field("lock", &self.raw.lock)
            .field("waiters", &self.raw.waiters())
            .finish()
    }
}

blocking::condition_guard! {
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
    "ConditionGuard"; |c| &c.raw.lock
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
