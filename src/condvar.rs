//! [`Condvar`]: a condition variable that waits with the guard of the data
//! it protects ([`MutexGuard`](crate::MutexGuard) of a
//! [`Mutex<T>`](crate::Mutex)), the shape of `std::sync::Condvar` and
//! parking_lot's `Condvar`, with Python's `Condition` semantics kept: the
//! same state machine as [`Condition`](crate::Condition)
//! (`condition::raw::RawCondition`), bound to a lock while threads wait
//! instead of for life.

use crate::condition::raw::{BoundWhileWaiting, OTHER_LOCK, RawCondition};
use crate::deadline::Deadline;
use crate::error::Error;
use crate::lock::Lock;
use crate::sync::loom_const_fn;
use core::fmt;
use core::ops::DerefMut;
use std::time::{Duration, Instant};

mod sealed {
    /// A guard that proves the calling thread holds a pysync [`Lock`](crate::Lock).
    pub trait Guard {
        /// The lock the guard holds.
        fn held_lock(&self) -> &crate::Lock;
    }
}

/// A guard a [`Condvar`] can wait with: [`MutexGuard`](crate::MutexGuard)
/// and [`ArcMutexGuard`](crate::ArcMutexGuard) of a pysync
/// [`Mutex<T>`](crate::Mutex). Holding one proves the mutex is held, which
/// is why the `Condvar`'s waits cannot fail.
///
/// Sealed: the condvar releases and re-acquires the mutex behind the guard,
/// which only pysync's own lock lets it do. (A
/// [`MappedMutexGuard`](crate::MappedMutexGuard) does not say which mutex it
/// came from: wait with the guard before mapping it.)
///
/// ```
/// fn wait_for_ready<G: pysync::CondvarGuard>(cv: &pysync::Condvar, g: &mut G) {
///     cv.wait_timeout(g, std::time::Duration::ZERO);
/// }
/// let m = pysync::Mutex::new(false);
/// wait_for_ready(&pysync::Condvar::new(), &mut m.lock());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a guard of a `pysync::Mutex<T>`",
    label = "a `pysync::Condvar` waits with `&mut` a `pysync::MutexGuard` or `pysync::ArcMutexGuard`",
    note = "lock a `pysync::Mutex<T>` and pass `&mut guard`; for a `pysync::Lock` or `RLock`, use `pysync::Condition`"
)]
pub trait CondvarGuard: sealed::Guard {}

#[cfg(not(loom))]
impl<T: ?Sized> sealed::Guard for crate::MutexGuard<'_, T> {
    #[inline]
    fn held_lock(&self) -> &Lock {
        // SAFETY: `raw` is unsafe only because it lets a caller unlock the
        // mutex while a guard exists; a Condvar unlocks it only while it
        // holds the guard's `&mut` (so nobody can reach the data), and
        // locks it again before giving the guard back.
        unsafe { crate::MutexGuard::mutex(self).raw() }
    }
}
#[cfg(not(loom))]
impl<T: ?Sized> CondvarGuard for crate::MutexGuard<'_, T> {}

#[cfg(not(loom))]
impl<T: ?Sized> sealed::Guard for crate::ArcMutexGuard<T> {
    #[inline]
    fn held_lock(&self) -> &Lock {
        // SAFETY: as for `MutexGuard`.
        unsafe { crate::ArcMutexGuard::mutex(self).raw() }
    }
}
#[cfg(not(loom))]
impl<T: ?Sized> CondvarGuard for crate::ArcMutexGuard<T> {}

// Under loom there is no `Mutex<T>` (lock_api needs a `const` lock, and
// loom's atomics are not), so the models wait with a `LockGuard`.
#[cfg(loom)]
impl sealed::Guard for crate::LockGuard<'_> {
    fn held_lock(&self) -> &Lock {
        self.held()
    }
}
#[cfg(loom)]
impl CondvarGuard for crate::LockGuard<'_> {}

/// A condition variable for data behind a pysync [`Mutex<T>`](crate::Mutex):
/// it waits with the mutex's guard, like `std::sync::Condvar` and
/// parking_lot's `Condvar`, and keeps the semantics of Python's
/// `threading.Condition` (and of [`Condition`](crate::Condition), whose
/// machinery it shares).
///
/// **Why two condition types.** [`Condition`](crate::Condition) is
/// Python's: bound to a lock for life, with Python's verbs, and its calls
/// return `Result` because nothing proves the caller holds the lock.
/// `Condvar` is Rust's: the guard of the data is passed to each wait, so the
/// type system proves the lock is held and **no wait or notify can fail**;
/// the name is the one std and parking_lot use for this shape.
///
/// * **FIFO**: `notify(n)` wakes the `n` longest waiters.
/// * **No thundering herd**: notified waiters are moved onto the mutex's
///   queue (it is usually held by the notifier) and get it one after
///   another, instead of all waking to fight for it.
/// * **No lost notification**: a waiter whose timeout fires as it is
///   notified reports being notified (its wait is not `timed_out()`), or
///   the notification goes to another waiter. No spurious wake-ups either:
///   [`wait`](Condvar::wait) returns only when notified.
/// * Notifying does not require holding the mutex (as in std); change the
///   data the waiters test while holding it, or a waiter about to wait may
///   miss the notification.
/// * Cost: as [`Condition`](crate::Condition); a notify with nobody waiting
///   is one load. 24 bytes (the waiter count, the notification count the
///   first waiter spins on, and the mutex its waiters wait with).
///
/// # One mutex at a time
/// Threads that wait on one `Condvar` at the same time must wait with the
/// same mutex (a notify moves them onto that mutex's queue). A wait with a
/// different mutex while others wait **panics** with "a Condvar was waited
/// on with two different mutexes at once", before releasing its mutex (the
/// panic unwinds through the caller's guard, which unlocks it). Once nobody
/// waits, the condvar may be used with another mutex. (std documents that
/// its `Condvar` may panic when used with several mutexes; parking_lot's
/// panics in the same case as this one.)
///
/// | Python (`threading.Condition`) | pysync `Condvar`              | std `Condvar`             | parking_lot `Condvar` |
/// |--------------------------------|-------------------------------|---------------------------|-----------------------|
/// | `cond.wait()`                  | [`wait(&mut g)`](Condvar::wait) | `wait(g)`               | `wait(&mut g)`        |
/// | `cond.wait(t)`                 | [`wait_timeout(&mut g, t)`](Condvar::wait_timeout) | `wait_timeout(g, t)` | `wait_for(&mut g, t)` |
/// | —                              | [`wait_until(&mut g, instant)`](Condvar::wait_until) | — | `wait_until(&mut g, instant)` |
/// | `cond.wait_for(lambda: not p)` | [`wait_while(&mut g, p)`](Condvar::wait_while) | `wait_while(g, p)` | `wait_while(&mut g, p)` |
/// | `cond.wait_for(lambda: not p, t)` | [`wait_timeout_while(&mut g, t, p)`](Condvar::wait_timeout_while) | `wait_timeout_while(g, t, p)` | `wait_while_for(&mut g, p, t)` |
/// | —                              | [`wait_until_while(&mut g, instant, p)`](Condvar::wait_until_while) | — | `wait_while_until(&mut g, p, instant)` |
/// | `cond.notify()`, `notify(n)`, `notify_all()` | [`notify_one`](Condvar::notify_one), [`notify`](Condvar::notify), [`notify_all`](Condvar::notify_all) | `notify_one`, `notify_all` | `notify_one`, `notify_all` |
///
/// ```
/// use pysync::{Condvar, Mutex};
/// use std::collections::VecDeque;
/// use std::thread;
///
/// let queue = Mutex::new(VecDeque::new());
/// let not_empty = Condvar::new();
/// thread::scope(|s| {
///     s.spawn(|| {
///         let mut q = queue.lock();
///         not_empty.wait_while(&mut q, |q| q.is_empty());
///         assert_eq!(q.pop_front(), Some(42));
///     });
///     queue.lock().push_back(42);
///     not_empty.notify_one();
/// });
/// ```
pub struct Condvar {
    raw: RawCondition<BoundWhileWaiting>,
}

/// Whether a timed wait of a [`Condvar`] ended because its time ran out
/// (std's and parking_lot's `WaitTimeoutResult`).
///
/// ```
/// use std::time::Duration;
/// let m = pysync::Mutex::new(());
/// let r = pysync::Condvar::new().wait_timeout(&mut m.lock(), Duration::ZERO);
/// assert!(r.timed_out());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait timed out: not notified (`wait_timeout`,
    /// `wait_until`), or the condition still true at the deadline
    /// (`wait_timeout_while`, `wait_until_while`). Python's `wait(t)`
    /// returns the opposite.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let m = pysync::Mutex::new(5);
    /// let cv = pysync::Condvar::new();
    /// let r = cv.wait_until_while(&mut m.lock(), Instant::now(), |n| *n == 0);
    /// assert!(!r.timed_out()); // the condition was already false
    /// ```
    #[must_use]
    #[inline]
    pub fn timed_out(self) -> bool {
        self.0
    }
}

impl Condvar {
    loom_const_fn! {
        /// A condition variable nobody waits on (bound to no mutex yet).
        ///
        /// ```
        /// static READY: pysync::Condvar = pysync::Condvar::new();
        /// READY.notify_all(); // nobody waits: one load
        /// ```
        #[must_use]
        #[inline]
        pub fn new() -> Condvar {
            Condvar { raw: RawCondition::new(BoundWhileWaiting::new()) }
        }
    }

    /// Releases the guard's mutex, sleeps until notified, and locks it
    /// again before returning (Python's `cond.wait()`). No spurious
    /// wake-ups: it returns only when notified.
    ///
    /// # Panics
    /// If other threads wait on this condvar with another mutex (see
    /// [One mutex at a time](Condvar#one-mutex-at-a-time)).
    ///
    /// ```
    /// use pysync::{Condvar, Mutex};
    /// use std::thread;
    ///
    /// let (flag, cv) = (Mutex::new(false), Condvar::new());
    /// thread::scope(|s| {
    ///     s.spawn(|| {
    ///         *flag.lock() = true;
    ///         cv.notify_one();
    ///     });
    ///     let mut ready = flag.lock();
    ///     while !*ready {
    ///         cv.wait(&mut ready);
    ///     }
    /// });
    /// ```
    #[inline]
    #[track_caller]
    pub fn wait<G: CondvarGuard>(&self, guard: &mut G) {
        self.wait_core(guard.held_lock(), Deadline::Never);
    }

    /// Waits, at most `timeout`, until notified (Python's `cond.wait(t)`,
    /// std's `wait_timeout`); the mutex is locked again either way.
    /// `Duration::ZERO` returns at once, timed out, without releasing the
    /// mutex (nothing can notify a waiter that does not wait); `Duration::MAX`
    /// waits forever.
    ///
    /// # Panics
    /// As [`wait`](Condvar::wait).
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = pysync::Mutex::new(0);
    /// let cv = pysync::Condvar::new();
    /// let mut g = m.lock();
    /// assert!(cv.wait_timeout(&mut g, Duration::from_millis(1)).timed_out());
    /// *g += 1; // still held
    /// ```
    #[inline]
    #[track_caller]
    pub fn wait_timeout<G: CondvarGuard>(
        &self,
        guard: &mut G,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        WaitTimeoutResult(!self.wait_core(guard.held_lock(), Deadline::after(timeout)))
    }

    /// As [`wait_timeout`](Condvar::wait_timeout), until `deadline` at the
    /// latest (a deadline already past returns at once, timed out).
    ///
    /// # Panics
    /// As [`wait`](Condvar::wait).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let m = pysync::Mutex::new(());
    /// let cv = pysync::Condvar::new();
    /// let r = cv.wait_until(&mut m.lock(), Instant::now() + Duration::from_millis(1));
    /// assert!(r.timed_out());
    /// ```
    #[inline]
    #[track_caller]
    pub fn wait_until<G: CondvarGuard>(
        &self,
        guard: &mut G,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        WaitTimeoutResult(!self.wait_core(guard.held_lock(), Deadline::At(deadline)))
    }

    /// Waits while `condition(&mut data)` is true (std's `wait_while`;
    /// Python's `cond.wait_for(pred)` with `pred` negated). `condition` runs
    /// with the mutex held, first before any waiting.
    ///
    /// # Panics
    /// As [`wait`](Condvar::wait); and if `condition` panics (the guard
    /// still holds the mutex).
    ///
    /// ```
    /// use pysync::{Condvar, Mutex};
    /// let (jobs, cv) = (Mutex::new(3), Condvar::new());
    /// std::thread::scope(|s| {
    ///     for _ in 0..3 {
    ///         s.spawn(|| {
    ///             *jobs.lock() -= 1;
    ///             cv.notify_all();
    ///         });
    ///     }
    ///     let mut left = jobs.lock();
    ///     cv.wait_while(&mut left, |left| *left > 0);
    ///     assert_eq!(*left, 0);
    /// });
    /// ```
    #[inline]
    #[track_caller]
    pub fn wait_while<G, F>(&self, guard: &mut G, condition: F)
    where
        G: CondvarGuard + DerefMut,
        F: FnMut(&mut G::Target) -> bool,
    {
        self.wait_while_core(guard, Deadline::Never, condition);
    }

    /// Waits while `condition(&mut data)` is true, at most `timeout` (std's
    /// `wait_timeout_while`): `timed_out()` if the condition was still true
    /// when the time ran out. `condition` is checked first, and once more at
    /// the end.
    ///
    /// # Panics
    /// As [`wait_while`](Condvar::wait_while).
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = pysync::Mutex::new(Vec::<u8>::new());
    /// let cv = pysync::Condvar::new();
    /// let mut v = m.lock();
    /// let r = cv.wait_timeout_while(&mut v, Duration::from_millis(1), |v| v.is_empty());
    /// assert!(r.timed_out());
    /// ```
    #[inline]
    #[track_caller]
    pub fn wait_timeout_while<G, F>(
        &self,
        guard: &mut G,
        timeout: Duration,
        condition: F,
    ) -> WaitTimeoutResult
    where
        G: CondvarGuard + DerefMut,
        F: FnMut(&mut G::Target) -> bool,
    {
        self.wait_while_core(guard, Deadline::after(timeout), condition)
    }

    /// As [`wait_timeout_while`](Condvar::wait_timeout_while), until
    /// `deadline` at the latest.
    ///
    /// # Panics
    /// As [`wait_while`](Condvar::wait_while).
    ///
    /// ```
    /// use std::time::Instant;
    /// let m = pysync::Mutex::new(Vec::<u8>::new());
    /// let cv = pysync::Condvar::new();
    /// let r = cv.wait_until_while(&mut m.lock(), Instant::now(), |v| v.is_empty());
    /// assert!(r.timed_out());
    /// ```
    #[inline]
    #[track_caller]
    pub fn wait_until_while<G, F>(
        &self,
        guard: &mut G,
        deadline: Instant,
        condition: F,
    ) -> WaitTimeoutResult
    where
        G: CondvarGuard + DerefMut,
        F: FnMut(&mut G::Target) -> bool,
    {
        self.wait_while_core(guard, Deadline::At(deadline), condition)
    }

    /// Wakes the longest waiter, if any (Python's `notify()`). It gets the
    /// mutex once the notifier (or whoever holds it) releases it. With
    /// nobody waiting, one load.
    ///
    /// ```
    /// let cv = pysync::Condvar::new();
    /// cv.notify_one(); // nobody waits: nothing happens
    /// ```
    #[inline]
    pub fn notify_one(&self) {
        self.raw.notify_bound(1);
    }

    /// Wakes at most `n` waiters, longest first (Python's `notify(n)`).
    ///
    /// ```
    /// let cv = pysync::Condvar::new();
    /// cv.notify(3);
    /// ```
    #[inline]
    pub fn notify(&self, n: usize) {
        self.raw.notify_bound(n);
    }

    /// Wakes every waiter (Python's `notify_all()`): they are moved onto the
    /// mutex's queue and get it one after another.
    ///
    /// ```
    /// let cv = pysync::Condvar::new();
    /// cv.notify_all();
    /// ```
    #[inline]
    pub fn notify_all(&self) {
        self.raw.notify_bound(usize::MAX);
    }

    /// How many threads wait now (a snapshot).
    ///
    /// ```
    /// assert_eq!(pysync::Condvar::new().waiters(), 0);
    /// ```
    #[inline]
    pub fn waiters(&self) -> usize {
        self.raw.waiters()
    }

    // ----- the cores ---------------------------------------------------------

    /// Whether notified (else timed out). A try keeps the lock.
    #[inline]
    #[track_caller]
    fn wait_core(&self, lock: &Lock, deadline: Deadline) -> bool {
        if deadline.is_now() {
            return false;
        }
        match self.raw.wait_with(lock, deadline.instant()) {
            Ok(notified) => notified,
            Err(e) => misuse(e),
        }
    }

    #[inline]
    #[track_caller]
    fn wait_while_core<G, F>(
        &self,
        guard: &mut G,
        deadline: Deadline,
        mut condition: F,
    ) -> WaitTimeoutResult
    where
        G: CondvarGuard + DerefMut,
        F: FnMut(&mut G::Target) -> bool,
    {
        // One deadline for the whole call, however many waits it takes.
        let deadline = deadline.fixed();
        loop {
            if !condition(&mut **guard) {
                return WaitTimeoutResult(false);
            }
            if deadline.is_now() {
                return WaitTimeoutResult(true);
            }
            self.wait_core(guard.held_lock(), deadline);
        }
    }
}

/// A wait found the condvar in use with another mutex, or its mutex
/// unlocked behind the guard's back (only `unsafe` code can do that).
#[cold]
#[inline(never)]
#[track_caller]
fn misuse(e: Error) -> ! {
    match e {
        Error::InvalidArgument(OTHER_LOCK) => panic!("{OTHER_LOCK}"),
        _ => panic!("Condvar::wait: the mutex was unlocked behind its guard's back"),
    }
}

impl Default for Condvar {
    /// As [`Condvar::new`].
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    /// Shows how many threads wait, without touching any lock.
    ///
    /// ```
    /// assert_eq!(format!("{:?}", pysync::Condvar::new()), "Condvar { waiters: 0 }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("waiters", &self.waiters())
            .finish()
    }
}

#[cfg(not(loom))]
mod assertions {
    use super::*;
    use static_assertions::{assert_impl_all, const_assert};

    const_assert!(core::mem::size_of::<Condvar>() <= 24);
    assert_impl_all!(Condvar: Send, Sync, Default, fmt::Debug);
    assert_impl_all!(WaitTimeoutResult: Send, Sync, Copy, fmt::Debug);
}
