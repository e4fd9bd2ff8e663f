//! [`Semaphore`] and [`BoundedSemaphore`]: Python's `threading.Semaphore`
//! and `threading.BoundedSemaphore`, two thin APIs over one state machine,
//! [`raw::RawSemaphore`] (one word, FIFO hand-off). What they share (the
//! waiting forms, the guard forms, `available`) is written once, in
//! `shared_api!`; they differ in `release` (unchecked, or bounded by the
//! initial value) and in what a guard's release does past the bound.

mod raw;

use crate::blocking;
use crate::error::Error;
use crate::sync::loom_const_fn;
use core::fmt;
use raw::{MAX, RawSemaphore};

/// The API both semaphores share, written once: the waiting forms
/// (`acquire`…), the guard forms (`access`…) and `available`. `$py = $new`
/// name an example with one permit.
macro_rules! shared_api {
    ($py:literal = $new:literal) => {
        blocking::acquire_forms!("a permit (FIFO: the longest waiter is served first)", $py = $new; |s| &s.raw);
        blocking::guard_forms!(
            "a permit", $py = $new;
            access, try_access, access_timeout, access_until -> SemaphoreGuard<'_> = |s| s.guard();
            |s| &s.raw
        );

        #[doc = "The permits available now (Python's `_value`); a snapshot. It is 0 while threads wait."]
        #[doc = ""]
        #[doc = blocking::example!(; $py = $new; "assert_eq!(", $py, ".available(), 1);")]
        #[inline]
        pub fn available(&self) -> usize {
            self.raw.available()
        }
    };
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
        ///
        /// ```compile_fail
        /// // Past MAX_PERMITS in a `static` or `const`: rejected by the compiler.
        /// static TOO_MANY: pysync::Semaphore = pysync::Semaphore::new(usize::MAX);
        /// ```
        #[must_use]
        #[inline]
        pub fn new(permits: usize) -> Semaphore {
            Semaphore { raw: RawSemaphore::new(permits) }
        }
    }

    shared_api!("sem" = "pysync::Semaphore::new(1)");

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

    #[inline]
    pub(crate) fn guard(&self) -> SemaphoreGuard<'_> {
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
        let (available, waiters) = self.raw.snapshot();
        f.debug_struct("Semaphore")
            .field("available", &available)
            .field("waiters", &waiters)
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

    shared_api!("sem" = "pysync::BoundedSemaphore::new(1)");

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

    /// The initial value, which is also the ceiling.
    ///
    /// ```
    /// assert_eq!(pysync::BoundedSemaphore::new(5).initial(), 5);
    /// ```
    #[inline]
    pub fn initial(&self) -> usize {
        self.initial
    }

    #[inline]
    pub(crate) fn guard(&self) -> SemaphoreGuard<'_> {
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
        let (available, waiters) = self.raw.snapshot();
        f.debug_struct("BoundedSemaphore")
            .field("available", &available)
            .field("initial", &self.initial)
            .field("waiters", &waiters)
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
/// **Dropping never panics** (a drop may run while the thread unwinds from
/// a panic, where a second panic aborts the process). If the permit cannot
/// be given back — a [`BoundedSemaphore`] already at its ceiling because
/// somebody released too many times meanwhile (so the permit was, in
/// effect, already returned), or a [`Semaphore`] at
/// [`MAX_PERMITS`](Semaphore::MAX_PERMITS) — the count stays where it is
/// (it saturates). Use [`release`](SemaphoreGuard::release) to get the
/// error instead.
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
        match raw.release(limit) {
            Ok(()) => Ok(()),
            Err(()) if bounded => Err(Error::TooManyReleases),
            Err(()) => overflow(),
        }
    }
}

impl Drop for SemaphoreGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // Never panics (see the type's docs): a permit that does not fit
        // under the ceiling is dropped, the count saturates there.
        let _ = self.raw.release(self.limit);
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
