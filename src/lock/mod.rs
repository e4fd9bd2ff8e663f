//! [`Lock`]: Python's `threading.Lock`, in one byte: the public API over
//! [`raw::RawLock`] (the state byte, its table and slow paths), the RAII
//! [`LockGuard`], and `lock_api`'s traits for [`Mutex<T>`](crate::Mutex).

mod raw;

use crate::blocking::{self, RawAcquire};
use crate::error::Error;
use crate::park;
use crate::sync::loom_const_fn;
use core::fmt;
use std::time::Instant;

pub(crate) use raw::RawLock;

/// A non-reentrant lock with Python's `threading.Lock` semantics.
///
/// * It is **not owned**: any thread may release it, not only the one that
///   acquired it (Python allows this, and code relies on it for signalling).
/// * Releasing it when unlocked is an error ([`Error::ReleaseUnlocked`]),
///   never a silent no-op.
/// * Acquiring it twice from one thread blocks (deadlocks) like Python's.
/// * One byte of state. Uncontended acquire and release are one atomic
///   instruction each; a release with nobody waiting makes no syscall.
/// * Eventually fair: a waiter that has waited about a millisecond (counted
///   from when it started waiting, however often it was woken and
///   overtaken) gets the lock handed to it on the next release.
/// * Spins briefly before it sleeps, one of two ways: a thread that has
///   waited on a [`Condition`](crate::Condition) or
///   [`Condvar`](crate::Condvar) (a producer, a consumer) takes the lock as
///   soon as it is free, with pauses and never a yield, which keeps a
///   queue's threads running; any other thread checks sparsely, then
///   yields, so that the holder of a contended lock keeps it for runs of
///   acquisitions. Neither spins with one CPU.
/// * May be freed as soon as the last call using it has returned: the
///   thread that acquires it after a release may destroy it at once, even
///   while that release is still returning (see the crate docs).
///
/// For data-protecting use there is [`Mutex<T>`](crate::Mutex) (one line, via
/// `lock_api`), and [`Lock::lock`] gives an RAII [`LockGuard`].
///
/// | Python                        | pysync                              |
/// |-------------------------------|-------------------------------------|
/// | `lock.acquire()`              | [`acquire`](Lock::acquire)          |
/// | `lock.acquire(False)`         | [`try_acquire`](Lock::try_acquire)  |
/// | `lock.acquire(timeout=t)`     | [`acquire_timeout`](Lock::acquire_timeout) |
/// | `lock.release()`              | [`release`](Lock::release)          |
/// | `lock.locked()`               | [`locked`](Lock::locked)            |
/// | `with lock:`                  | [`lock`](Lock::lock) (a guard)      |
///
/// ```
/// use pysync::Lock;
/// use std::sync::Arc;
/// use std::thread;
///
/// let lock = Arc::new(Lock::new());
/// lock.acquire();
/// // Python allows another thread to release it:
/// let l2 = Arc::clone(&lock);
/// thread::spawn(move || l2.release().unwrap()).join().unwrap();
/// assert!(!lock.locked());
/// ```
// `repr(transparent)`, and so is `RawLock`: a `Lock`'s address is its
// parking key, which a `Condvar` relies on (it records the address of the
// lock its waiters wait with and requeues them onto that key).
#[repr(transparent)]
pub struct Lock {
    raw: RawLock,
}

impl Lock {
    loom_const_fn! {
        /// A new, unlocked lock.
        ///
        /// ```
        /// static LOCK: pysync::Lock = pysync::Lock::new();
        /// assert!(!LOCK.locked());
        /// ```
        #[must_use]
        #[inline]
        pub fn new() -> Lock {
            Lock { raw: RawLock::new() }
        }
    }

    blocking::acquire_forms!("the lock", "lock" = "pysync::Lock::new()"; |l| l);
    blocking::guard_forms!(
        "the lock", "lock" = "pysync::Lock::new()";
        lock, try_lock, lock_timeout, lock_until -> LockGuard<'_> = |l| LockGuard { lock: l };
        |l| l
    );

    /// Releases the lock, from any thread (Python's `release()`).
    ///
    /// Returns [`Error::ReleaseUnlocked`] if the lock is not locked.
    ///
    /// ```
    /// use pysync::{Error, Lock};
    /// let lock = Lock::new();
    /// lock.acquire();
    /// assert_eq!(lock.release(), Ok(()));
    /// assert_eq!(lock.release(), Err(Error::ReleaseUnlocked));
    /// ```
    #[inline]
    pub fn release(&self) -> Result<(), Error> {
        // Deadlock detector: drop the record before the release, as
        // parking_lot_core asks (nothing when the feature is off).
        park::release_resource(self.key());
        self.raw.release(false)
    }

    /// [`release`](Lock::release) without the deadlock detector's
    /// bookkeeping: for a Condition's wait, which drops its record before
    /// parking and releases from park's `before_sleep`, where
    /// parking_lot_core forbids the bookkeeping. Never panics.
    #[inline]
    pub(crate) fn release_untracked(&self) -> Result<(), Error> {
        self.raw.release(false)
    }

    /// Releases the lock and, if anyone waits, hands it directly to the
    /// longest waiter (no barging). Slower than [`release`](Lock::release)
    /// under contention, identical without.
    ///
    /// ```
    /// let lock = pysync::Lock::new();
    /// lock.acquire();
    /// lock.release_fair().unwrap();
    /// assert!(!lock.locked());
    /// ```
    #[inline]
    pub fn release_fair(&self) -> Result<(), Error> {
        park::release_resource(self.key());
        self.raw.release(true)
    }

    /// Whether the lock is held by anyone (Python's `locked()`). A snapshot.
    ///
    /// ```
    /// let lock = pysync::Lock::new();
    /// assert!(!lock.locked());
    /// let _g = lock.lock();
    /// assert!(lock.locked());
    /// ```
    #[inline]
    pub fn locked(&self) -> bool {
        self.raw.locked()
    }

    /// The state machine (for a Condition, which requeues onto this lock).
    #[inline]
    pub(crate) fn raw(&self) -> &RawLock {
        &self.raw
    }

    /// The parking key.
    #[inline]
    pub(crate) fn key(&self) -> usize {
        self.raw.key()
    }

    /// Finishes an acquisition for a thread that was parked on this lock's
    /// key (e.g. requeued from a condition) and woke with `token`.
    pub(crate) fn acquire_after_wake(&self, token: park::UnparkToken) {
        if token == park::token::HANDOFF {
            self.note_acquired(true);
        } else {
            self.acquire();
        }
    }

    /// Tells the deadlock detector that this thread acquired the lock when
    /// `acquired` (nothing when the feature is off); returns `acquired`.
    #[inline(always)]
    fn note_acquired(&self, acquired: bool) -> bool {
        if acquired {
            park::acquire_resource(self.key());
        }
        acquired
    }
}

/// The waiting forms' core: the state machine, each successful acquisition
/// recorded for the deadlock detector.
impl RawAcquire for Lock {
    #[inline]
    fn try_fast(&self) -> bool {
        self.note_acquired(self.raw.try_fast())
    }

    #[inline]
    fn try_acquire(&self) -> bool {
        self.note_acquired(self.raw.try_acquire())
    }

    #[inline]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        self.note_acquired(self.raw.acquire_slow(deadline))
    }
}

impl Default for Lock {
    /// An unlocked lock.
    fn default() -> Lock {
        Lock::new()
    }
}

impl fmt::Debug for Lock {
    /// Shows whether the lock is held, without touching it.
    ///
    /// ```
    /// let lock = pysync::Lock::new();
    /// assert_eq!(format!("{lock:?}"), "Lock { locked: false }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("locked", &self.locked())
            .finish()
    }
}

/// RAII guard of a [`Lock`]: releases it on drop. Returned by [`Lock::lock`].
///
/// It is `Send`: a `Lock` is not owned, so the guard may be dropped on
/// another thread (Python lets any thread release a `Lock`). For the same
/// reason a drop releases the lock whoever holds it now: if it was released
/// by hand meanwhile and another thread took it, the drop releases that
/// hold; if it is unlocked, the drop does nothing (never panics). Do not
/// mix a guard with releases by hand.
///
/// ```
/// let lock = pysync::Lock::new();
/// let guard = lock.lock();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(guard)); // released by another thread
/// });
/// assert!(!lock.locked());
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl<'a> LockGuard<'a> {
    /// The lock held (for a `Condvar` under loom, whose models have no
    /// `Mutex<T>`).
    #[cfg(loom)]
    pub(crate) fn held(&self) -> &'a Lock {
        self.lock
    }

    /// Releases the lock, handing it to the longest waiter if there is one.
    ///
    /// ```
    /// let lock = pysync::Lock::new();
    /// let guard = lock.lock();
    /// guard.release_fair();
    /// assert!(!lock.locked());
    /// ```
    pub fn release_fair(self) {
        let lock = self.lock;
        core::mem::forget(self);
        // The guard proves the lock is held; an error here means someone
        // else released our acquisition, which Python also allows.
        let _ = lock.release_fair();
    }
}

impl Drop for LockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // An Err only means the lock is unlocked: someone released it by
        // hand (a `Lock` is not owned). If another thread took it since,
        // this releases that hold, as Python's would: see the guard docs.
        let _ = self.lock.release();
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("lock", self.lock)
            .finish()
    }
}

#[cfg(not(loom))]
mod lock_api_impls {
    use super::Lock;
    use std::time::{Duration, Instant};

    // SAFETY: `lock`/`try_lock`/`try_lock_*` return a guard only after the
    // byte's LOCKED_BIT was set by this call, so at most one acquisition is
    // live at a time; `unlock` clears it. Nothing unwinds mid-acquisition.
    unsafe impl lock_api::RawMutex for Lock {
        #[allow(clippy::declare_interior_mutable_const)]
        const INIT: Lock = Lock::new();
        type Guard = lock_api::GuardSend;

        #[inline]
        fn lock(&self) -> Self::Guard {
            self.acquire();
            lock_api::GuardSend::new()
        }

        #[inline]
        fn try_lock(&self) -> Option<Self::Guard> {
            self.try_acquire().then(lock_api::GuardSend::new)
        }

        #[inline]
        unsafe fn unlock(&self, _guard: Self::Guard) {
            // The caller holds the lock (the trait's contract), so this is Ok.
            let _ = self.release();
        }

        #[inline]
        fn is_locked(&self) -> bool {
            self.locked()
        }
    }

    // SAFETY: as above; `unlock_fair` releases the held acquisition.
    unsafe impl lock_api::RawMutexFair for Lock {
        #[inline]
        unsafe fn unlock_fair(&self, _guard: Self::Guard) {
            let _ = self.release_fair();
        }
    }

    // SAFETY: timed forms return a guard only on a successful acquisition.
    unsafe impl lock_api::RawMutexTimed for Lock {
        type Duration = Duration;
        type Instant = Instant;

        #[inline]
        fn try_lock_for(&self, timeout: Duration) -> Option<Self::Guard> {
            self.acquire_timeout(timeout).then(lock_api::GuardSend::new)
        }

        #[inline]
        fn try_lock_until(&self, deadline: Instant) -> Option<Self::Guard> {
            self.acquire_until(deadline).then(lock_api::GuardSend::new)
        }
    }
}

/// A mutex protecting data, built on [`Lock`]: `lock_api::Mutex<Lock, T>`.
///
/// ```
/// let counter = pysync::Mutex::new(0);
/// *counter.lock() += 1;
/// assert_eq!(*counter.lock(), 1);
/// ```
#[cfg(not(loom))]
pub type Mutex<T> = lock_api::Mutex<Lock, T>;

/// The guard of a [`Mutex`].
#[cfg(not(loom))]
pub type MutexGuard<'a, T> = lock_api::MutexGuard<'a, Lock, T>;

/// The guard of a [`Mutex`] held through an `Arc`, from
/// [`Mutex::lock_arc`](lock_api::Mutex::lock_arc): owned, so it can move into
/// `thread::spawn` or be stored without a lifetime.
///
/// ```
/// use std::sync::Arc;
/// let m = Arc::new(pysync::Mutex::new(1));
/// let mut g: pysync::ArcMutexGuard<i32> = m.lock_arc();
/// std::thread::spawn(move || *g += 1).join().unwrap();
/// assert_eq!(*m.lock(), 2);
/// ```
#[cfg(not(loom))]
pub type ArcMutexGuard<T> = lock_api::ArcMutexGuard<Lock, T>;

/// A [`MutexGuard`] narrowed to a part of the data by
/// [`MutexGuard::map`](lock_api::MutexGuard::map).
///
/// ```
/// let m = pysync::Mutex::new((1, String::from("a")));
/// let mut s: pysync::MappedMutexGuard<String> = pysync::MutexGuard::map(m.lock(), |p| &mut p.1);
/// s.push('b');
/// drop(s);
/// assert_eq!(m.lock().1, "ab");
/// ```
#[cfg(not(loom))]
pub type MappedMutexGuard<'a, T> = lock_api::MappedMutexGuard<'a, Lock, T>;
