//! [`RLock`]: Python's `threading.RLock`, a re-entrant lock owned by a thread.
//!
//! # State
//! * `lock`: a [`Lock`] (one byte) that is held while anybody owns the RLock;
//! * `owner`: the owning thread's id (0: none; ids are never reused, see
//!   `crate::sync::thread_id`), written only by the owner,
//!   right after acquiring `lock` and right before releasing it;
//! * `count`: the recursion depth, read and written only by the owner.
//!
//! Both `owner` and `count` are Relaxed: a thread compares `owner` with its
//! own id, and only it ever writes its own id, so it can never read its id
//! there unless it really is the owner; every other ordering comes from
//! `lock`'s Acquire/Release.

use crate::blocking::{self, RawAcquire};
use crate::error::Error;
use crate::lock::Lock;
use crate::park;
use crate::sync::{AtomicU32, AtomicU64, Ordering, loom_const_fn, thread_id};
use core::fmt;
use core::marker::PhantomData;
use std::time::Instant;

/// A re-entrant lock with Python's `threading.RLock` semantics.
///
/// * Owned by the thread that acquired it; that thread may acquire it again
///   (each `acquire` needs a matching `release`).
/// * Releasing from a thread that does not own it is an error
///   ([`Error::NotOwned`], Python's "cannot release un-acquired lock").
/// * No allocation and no syscall per acquire: the owner is the calling
///   thread's id, a number never given to another thread of the process
///   (cached thread-locally: one load). So an RLock left locked by a thread
///   that exited stays locked, and no later thread ever finds itself its
///   owner (Python's thread idents, like thread-local addresses, can be
///   reused: there a new thread may inherit the lock). At most 16 bytes.
/// * Recursion depth is limited to `u32::MAX`; going past it panics.
/// * Eventually fair, like [`Lock`] (it is one inside).
/// * May be freed as soon as the last call using it has returned: the
///   thread that acquires it after the owner's last `release` may destroy it
///   at once, even while that release is still returning (see the crate
///   docs). The owner's bookkeeping is done before the inner lock's release,
///   whose last access is the one that lets the next owner in.
///
/// ```
/// use pysync::RLock;
///
/// let rlock = RLock::new();
/// rlock.acquire();
/// rlock.acquire(); // re-entry by the owner
/// assert_eq!(rlock.recursion_count(), 2);
/// rlock.release().unwrap();
/// rlock.release().unwrap();
/// assert!(rlock.release().is_err()); // not owned any more
/// ```
pub struct RLock {
    owner: park::Watched<AtomicU64>,
    count: park::Watched<AtomicU32>,
    lock: Lock,
}

/// What [`RLock::release_save`] took away, for [`RLock::acquire_restore`]
/// (Python's `_release_save` / `_acquire_restore`): the recursion depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RLockSaved {
    count: u32,
}

impl RLockSaved {
    /// The recursion depth that was released.
    pub fn depth(&self) -> usize {
        self.count as usize
    }
}

impl RLock {
    loom_const_fn! {
        /// A new, unowned RLock.
        ///
        /// ```
        /// static R: pysync::RLock = pysync::RLock::new();
        /// assert!(!R.locked());
        /// ```
        #[must_use]
        #[inline]
        pub fn new() -> RLock {
            RLock {
                owner: park::watched(AtomicU64::new(0)),
                count: park::watched(AtomicU32::new(0)),
                lock: Lock::new(),
            }
        }
    }

    blocking::acquire_forms!("the lock (or re-enters it, one level deeper, if the calling thread owns it)", "rlock" = "pysync::RLock::new()"; |r| r);
    blocking::guard_forms!(
        "the lock (or one more level of it)", "rlock" = "pysync::RLock::new()";
        lock, try_lock, lock_timeout, lock_until -> RLockGuard<'_> = |r| RLockGuard::new(r);
        |r| r
    );

    /// Releases one level; the lock is freed when the depth reaches zero.
    ///
    /// Returns [`Error::NotOwned`] if the calling thread does not own it.
    ///
    /// ```
    /// use pysync::{Error, RLock};
    /// let r = RLock::new();
    /// assert_eq!(r.release(), Err(Error::NotOwned));
    /// ```
    #[inline]
    pub fn release(&self) -> Result<(), Error> {
        if !self.is_owned() {
            return Err(Error::NotOwned);
        }
        // Relaxed: only the owner touches `count`.
        let count = self.count.load(Ordering::Relaxed) - 1;
        if count == 0 {
            self.give_up_ownership();
        } else {
            self.count.store(count, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Whether the calling thread owns the lock (Python's `_is_owned()`).
    ///
    /// ```
    /// let r = pysync::RLock::new();
    /// assert!(!r.is_owned());
    /// let _g = r.lock();
    /// assert!(r.is_owned());
    /// ```
    #[inline]
    pub fn is_owned(&self) -> bool {
        // Relaxed: see the module docs; only we ever store our own id.
        self.owner.load(Ordering::Relaxed) == thread_id()
    }

    /// The calling thread's recursion depth: 0 if it does not own the lock
    /// (Python's `_recursion_count()`).
    ///
    /// ```
    /// let r = pysync::RLock::new();
    /// assert_eq!(r.recursion_count(), 0);
    /// let _a = r.lock();
    /// let _b = r.lock();
    /// assert_eq!(r.recursion_count(), 2);
    /// ```
    #[inline]
    pub fn recursion_count(&self) -> usize {
        if self.is_owned() {
            // Relaxed: only the owner (us) touches `count`.
            self.count.load(Ordering::Relaxed) as usize
        } else {
            0
        }
    }

    /// Whether any thread owns the lock (Python 3.14's `RLock.locked()`).
    ///
    /// ```
    /// let r = pysync::RLock::new();
    /// assert!(!r.locked());
    /// ```
    #[inline]
    pub fn locked(&self) -> bool {
        self.lock.locked()
    }

    /// Releases every recursion level at once and returns them, for a later
    /// [`acquire_restore`](RLock::acquire_restore) (Python's
    /// `_release_save`, what `Condition.wait` does).
    ///
    /// ```
    /// let r = pysync::RLock::new();
    /// r.acquire();
    /// r.acquire();
    /// let saved = r.release_save().unwrap();
    /// assert!(!r.locked());
    /// r.acquire_restore(saved);
    /// assert_eq!(r.recursion_count(), 2);
    /// # r.release().unwrap(); r.release().unwrap();
    /// ```
    pub fn release_save(&self) -> Result<RLockSaved, Error> {
        if !self.is_owned() {
            return Err(Error::NotOwned);
        }
        // Relaxed: only the owner touches `count`.
        let count = self.count.load(Ordering::Relaxed);
        self.give_up_ownership();
        Ok(RLockSaved { count })
    }

    /// Blocks until the lock is acquired, then restores the recursion depth
    /// saved by [`release_save`](RLock::release_save) (Python's
    /// `_acquire_restore`).
    pub fn acquire_restore(&self, saved: RLockSaved) {
        self.lock.acquire();
        self.restore_owned(saved);
    }

    // ----- internals -------------------------------------------------------

    /// Re-entry by the owner: bumps the depth and returns true.
    #[inline]
    fn reenter(&self, me: u64) -> bool {
        // Relaxed: see the module docs.
        if self.owner.load(Ordering::Relaxed) != me {
            return false;
        }
        let count = self.count.load(Ordering::Relaxed);
        let count = count
            .checked_add(1)
            .expect("RLock recursion depth overflow (u32::MAX)");
        self.count.store(count, Ordering::Relaxed);
        true
    }

    /// Records ownership if `acquired` (`lock` was just acquired); returns
    /// `acquired`.
    #[inline]
    fn became_owner_if(&self, me: u64, acquired: bool) -> bool {
        if acquired {
            self.became_owner(me, 1);
        }
        acquired
    }

    /// Records ownership right after `lock` was acquired.
    #[inline]
    fn became_owner(&self, me: u64, count: u32) {
        // Relaxed: ordered after the acquire of `lock`; see the module docs.
        self.owner.store(me, Ordering::Relaxed);
        self.count.store(count, Ordering::Relaxed);
    }

    /// Drops ownership and frees `lock`.
    #[inline]
    fn give_up_ownership(&self) {
        // Relaxed: ordered before the Release in `lock.release()`.
        self.count.store(0, Ordering::Relaxed);
        self.owner.store(0, Ordering::Relaxed);
        // We held `lock` (we were the owner), so this cannot fail.
        let released = self.lock.release();
        debug_assert!(released.is_ok());
    }

    /// [`release_save`](RLock::release_save) without the deadlock
    /// detector's bookkeeping, for a Condition's wait: it drops its record
    /// before parking and calls this from park's `before_sleep`, where
    /// parking_lot_core forbids the bookkeeping. `None` if the caller does
    /// not own the lock. Never panics.
    pub(crate) fn release_save_untracked(&self) -> Option<RLockSaved> {
        if !self.is_owned() {
            return None;
        }
        // Relaxed: only the owner touches `count` and writes its own id;
        // ordered before the Release in `release_untracked`.
        let count = self.count.load(Ordering::Relaxed);
        self.count.store(0, Ordering::Relaxed);
        self.owner.store(0, Ordering::Relaxed);
        // We own it, so `lock` is held and this succeeds.
        self.lock.release_untracked().ok()?;
        Some(RLockSaved { count })
    }

    /// The inner lock, whose key a Condition requeues its waiters onto.
    pub(crate) fn raw_lock(&self) -> &Lock {
        &self.lock
    }

    /// Restores ownership after the inner lock was acquired by the caller.
    pub(crate) fn restore_owned(&self, saved: RLockSaved) {
        self.became_owner(thread_id(), saved.count);
    }
}

/// The waiting forms' core: re-entry by the owner, else the inner
/// [`Lock`]'s, then ownership recorded.
impl RawAcquire for RLock {
    #[inline]
    fn try_fast(&self) -> bool {
        let me = thread_id();
        self.reenter(me) || self.became_owner_if(me, self.lock.try_fast())
    }

    #[inline]
    fn try_acquire(&self) -> bool {
        let me = thread_id();
        self.reenter(me) || self.became_owner_if(me, RawAcquire::try_acquire(&self.lock))
    }

    /// Only after `try_fast` failed: the caller is not the owner.
    #[inline]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        self.became_owner_if(thread_id(), self.lock.acquire_slow(deadline))
    }
}

impl Default for RLock {
    /// An unowned RLock.
    fn default() -> RLock {
        RLock::new()
    }
}

impl fmt::Debug for RLock {
    /// Shows whether it is locked and whether the caller owns it, without
    /// touching the lock.
    ///
    /// ```
    /// let r = pysync::RLock::new();
    /// assert_eq!(format!("{r:?}"), "RLock { locked: false, owned_by_caller: false, recursion_count: 0 }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLock")
            .field("locked", &self.locked())
            .field("owned_by_caller", &self.is_owned())
            .field("recursion_count", &self.recursion_count())
            .finish()
    }
}

/// RAII guard of an [`RLock`]: releases one recursion level on drop.
///
/// `!Send`: only the owning thread may release an RLock.
///
/// ```
/// let r = pysync::RLock::new();
/// let g = r.lock();
/// assert_eq!(r.recursion_count(), 1);
/// drop(g);
/// assert_eq!(r.recursion_count(), 0);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    rlock: &'a RLock,
    _not_send: PhantomData<*const ()>,
}

impl<'a> RLockGuard<'a> {
    fn new(rlock: &'a RLock) -> Self {
        RLockGuard {
            rlock,
            _not_send: PhantomData,
        }
    }
}

impl Drop for RLockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // The guard proves one level is held by this thread, unless the
        // caller also released it by hand; then there is nothing left to do.
        let _ = self.rlock.release();
    }
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard")
            .field("rlock", self.rlock)
            .finish()
    }
}

/// The thread-id source for [`ReentrantMutex`]: the same id [`RLock`] uses.
#[derive(Debug, Default, Clone, Copy)]
pub struct RawThreadId;

// SAFETY: lock_api requires an id that no two live threads share.
// 64-bit targets: `thread_id` is non-zero and never given to two threads
// (the conversion is exact), so even a thread that exits holding the mutex
// is never taken for a later one. Other targets: a 64-bit id cut to `usize`
// could collide (ids `k` and `k + 2^32`), so the id there is the address of
// a thread-local, which no two live threads share (a later thread may get
// an exited one's address again, which lock_api allows: on those targets a
// `ReentrantMutex` left locked by a thread that exited may pass to a
// thread that reuses its address; `RLock` keeps the full 64-bit id).
unsafe impl lock_api::GetThreadId for RawThreadId {
    const INIT: RawThreadId = RawThreadId;

    #[inline]
    fn nonzero_thread_id(&self) -> core::num::NonZeroUsize {
        #[cfg(target_pointer_width = "64")]
        {
            core::num::NonZeroUsize::new(thread_id() as usize)
                .unwrap_or(core::num::NonZeroUsize::MIN)
        }
        #[cfg(not(target_pointer_width = "64"))]
        {
            std::thread_local!(static MARK: u8 = const { 0 });
            // A thread-local's address is non-null and distinct among live
            // threads.
            MARK.with(|m| {
                core::num::NonZeroUsize::new(core::ptr::from_ref(m) as usize)
                    .unwrap_or(core::num::NonZeroUsize::MIN)
            })
        }
    }
}

/// A re-entrant mutex protecting data, built on the same raw [`Lock`]:
/// `lock_api::ReentrantMutex<Lock, RawThreadId, T>`.
///
/// ```
/// let m = pysync::ReentrantMutex::new(5);
/// let a = m.lock();
/// let b = m.lock(); // same thread: no deadlock
/// assert_eq!(*a + *b, 10);
/// ```
#[cfg(not(loom))]
pub type ReentrantMutex<T> = lock_api::ReentrantMutex<Lock, RawThreadId, T>;

/// The guard of a [`ReentrantMutex`].
#[cfg(not(loom))]
pub type ReentrantMutexGuard<'a, T> = lock_api::ReentrantMutexGuard<'a, Lock, RawThreadId, T>;

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::time::Duration;

    /// The message of the panic `f` raised; panics if `f` returned.
    fn panic_text(f: impl FnOnce() -> bool) -> String {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => panic!("expected a panic, but it returned {r}"),
            Err(p) => p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default(),
        }
    }

    /// "Recursion depth is limited to `u32::MAX`; going past it panics":
    /// every re-entering form panics at the limit, and leaves the depth and
    /// the ownership as they were (no wrap to 0 with the owner still set).
    #[test]
    fn recursion_past_u32_max_panics_and_changes_nothing() {
        let _watchdog = crate::test_watchdog::watchdog();
        let r = RLock::new();
        r.acquire();
        // Only the owner (this thread) touches `count`.
        r.count.store(u32::MAX, Ordering::Relaxed);
        let forms: [(&str, &dyn Fn() -> bool); 4] = [
            ("acquire", &|| {
                r.acquire();
                true
            }),
            ("try_acquire", &|| r.try_acquire()),
            ("acquire_timeout(ZERO)", &|| {
                r.acquire_timeout(Duration::ZERO)
            }),
            ("acquire_timeout(1 s)", &|| {
                r.acquire_timeout(Duration::from_secs(1))
            }),
        ];
        for (name, form) in forms {
            let msg = panic_text(form);
            assert!(
                msg.contains("RLock recursion depth overflow"),
                "{name}: {msg:?}"
            );
            assert_eq!(r.recursion_count(), u32::MAX as usize, "{name}");
            assert!(r.is_owned(), "{name}");
            assert!(r.locked(), "{name}");
        }
        r.count.store(1, Ordering::Relaxed);
        r.release().unwrap();
        assert!(!r.locked());
        assert!(!r.is_owned());
    }
}
