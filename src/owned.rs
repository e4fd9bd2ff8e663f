//! Owned guards: a guard that holds an `Arc` of the primitive instead of a
//! borrow, so it can move into `thread::spawn`, be stored in a struct
//! without a lifetime, or outlive the scope that acquired it (tokio's
//! `acquire_owned`, async-lock's `acquire_arc`, lock_api's `lock_arc`).
//!
//! One naming scheme, lock_api's (which [`Mutex<T>`](crate::Mutex) already
//! has, as [`lock_arc`](lock_api::Mutex::lock_arc)): the borrowed guard
//! form's name with `_arc`, called on an `Arc` of the primitive:
//!
//! | primitive | borrowed guard | owned guard |
//! |---|---|---|
//! | [`Lock`] | `lock`, `try_lock`, `lock_timeout`, `lock_until` → [`LockGuard`](crate::LockGuard) | `lock_arc`, `try_lock_arc`, `lock_arc_timeout`, `lock_arc_until` → [`ArcLockGuard`] |
//! | [`RLock`] | `lock`… → [`RLockGuard`](crate::RLockGuard) | `lock_arc`… → [`ArcRLockGuard`] |
//! | [`Semaphore`], [`BoundedSemaphore`] | `access`… → [`SemaphoreGuard`](crate::SemaphoreGuard) | `access_arc`, `try_access_arc`, `access_arc_timeout`, `access_arc_until` → [`ArcSemaphoreGuard`] |
//! | [`Mutex<T>`](crate::Mutex) | `lock`… → [`MutexGuard`](crate::MutexGuard) | `lock_arc`, `try_lock_arc` (lock_api), [`MutexExt::lock_arc_timeout`](crate::MutexExt::lock_arc_timeout)… → [`ArcMutexGuard`](crate::ArcMutexGuard) |
//!
//! The owned forms call the primitive's own waiting forms, so they cost
//! what those do, plus the `Arc` clone.

use crate::error::Error;
use crate::lock::Lock;
use crate::rlock::RLock;
use crate::semaphore::{BoundedSemaphore, Semaphore};
use core::fmt;
use core::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The four owned guard forms of a primitive with `acquire`,
/// `try_acquire`, `acquire_timeout`, `acquire_until`: `$b`, `$t`, `$d`,
/// `$u` returning `$guard` built by `$make(arc)`; `$new` builds an
/// available one for the examples.
macro_rules! arc_forms {
    ($ty:ty, $what:literal, $new:literal; $b:ident, $t:ident, $d:ident, $u:ident -> $guard:ty = $make:expr) => {
        impl $ty {
            #[doc = concat!("Takes ", $what, ", blocking until it can, and returns an owned guard that holds an `Arc` of it and gives it back when dropped. As `", stringify!($b), "` without `_arc`, with no lifetime.")]
            #[doc = ""]
            #[doc = concat!("```\nlet p = std::sync::Arc::new(", $new, ");\nlet guard = p.", stringify!($b), "();\ndrop(p); // the guard holds its own Arc: no borrow\ndrop(guard);\n```")]
            #[inline]
            pub fn $b(self: &Arc<Self>) -> $guard {
                self.acquire();
                $make(Arc::clone(self))
            }

            #[doc = concat!("An owned guard, if ", $what, " can be taken without waiting. It never spins, yields or parks.")]
            #[doc = ""]
            #[doc = concat!("```\nlet p = std::sync::Arc::new(", $new, ");\nassert!(p.", stringify!($t), "().is_some());\n```")]
            #[inline]
            pub fn $t(self: &Arc<Self>) -> Option<$guard> {
                self.try_acquire().then(|| $make(Arc::clone(self)))
            }

            #[doc = concat!("An owned guard, if ", $what, " can be taken within `timeout` (`Duration::ZERO`: one try; `Duration::MAX`: forever).")]
            #[doc = ""]
            #[doc = concat!("```\nuse std::time::Duration;\nlet p = std::sync::Arc::new(", $new, ");\nassert!(p.", stringify!($d), "(Duration::from_millis(5)).is_some());\n```")]
            #[inline]
            pub fn $d(self: &Arc<Self>, timeout: Duration) -> Option<$guard> {
                self.acquire_timeout(timeout).then(|| $make(Arc::clone(self)))
            }

            #[doc = concat!("An owned guard, if ", $what, " can be taken by `deadline` (already past: one try).")]
            #[doc = ""]
            #[doc = concat!("```\nuse std::time::{Duration, Instant};\nlet p = std::sync::Arc::new(", $new, ");\nassert!(p.", stringify!($u), "(Instant::now() + Duration::from_millis(5)).is_some());\n```")]
            #[inline]
            pub fn $u(self: &Arc<Self>, deadline: Instant) -> Option<$guard> {
                self.acquire_until(deadline).then(|| $make(Arc::clone(self)))
            }
        }
    };
}

arc_forms!(Lock, "the lock", "pysync::Lock::new()";
    lock_arc, try_lock_arc, lock_arc_timeout, lock_arc_until -> ArcLockGuard = |lock| ArcLockGuard { lock });
arc_forms!(RLock, "the lock (or one more level of it)", "pysync::RLock::new()";
    lock_arc, try_lock_arc, lock_arc_timeout, lock_arc_until -> ArcRLockGuard = |rlock| ArcRLockGuard { rlock, _not_send: PhantomData });
arc_forms!(Semaphore, "a permit", "pysync::Semaphore::new(1)";
    access_arc, try_access_arc, access_arc_timeout, access_arc_until -> ArcSemaphoreGuard = |s| ArcSemaphoreGuard::new(Permit::Plain(s)));
arc_forms!(BoundedSemaphore, "a permit", "pysync::BoundedSemaphore::new(1)";
    access_arc, try_access_arc, access_arc_timeout, access_arc_until -> ArcSemaphoreGuard = |s| ArcSemaphoreGuard::new(Permit::Bounded(s)));

/// An owned guard of a [`Lock`] held through an `Arc`: releases it on
/// drop. From [`Lock::lock_arc`] and its `try_`/`_timeout`/`_until` forms.
///
/// `Send`, like [`LockGuard`](crate::LockGuard): a `Lock` has no owner, so
/// the guard may be dropped on another thread. Dropping releases the lock
/// whoever holds it now, and never panics: if the lock was released by
/// hand meanwhile ([`Lock::release`]) and another thread took it since, the
/// drop releases *that* hold (Python's `Lock` has no owner); if it is
/// unlocked, the drop does nothing. Do not mix a guard with releases by
/// hand.
///
/// ```
/// use std::sync::Arc;
/// let lock = Arc::new(pysync::Lock::new());
/// let guard: pysync::ArcLockGuard = lock.lock_arc();
/// let t = std::thread::spawn(move || drop(guard));
/// t.join().unwrap();
/// assert!(!lock.locked());
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ArcLockGuard {
    lock: Arc<Lock>,
}

impl ArcLockGuard {
    /// The lock this guard holds.
    ///
    /// ```
    /// let lock = std::sync::Arc::new(pysync::Lock::new());
    /// let g = lock.lock_arc();
    /// assert!(std::sync::Arc::ptr_eq(g.lock(), &lock));
    /// ```
    #[must_use]
    pub fn lock(&self) -> &Arc<Lock> {
        &self.lock
    }
}

impl Drop for ArcLockGuard {
    #[inline]
    fn drop(&mut self) {
        // Never panics: an Err only means the acquisition was released by
        // hand already (a `Lock` is not owned).
        let _ = self.lock.release();
    }
}

impl fmt::Debug for ArcLockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArcLockGuard")
            .field("lock", &*self.lock)
            .finish()
    }
}

/// An owned guard of an [`RLock`] held through an `Arc`: releases one
/// level on drop. From [`RLock::lock_arc`] and its forms.
///
/// `!Send`, like [`RLockGuard`](crate::RLockGuard): only the owning thread
/// may release an RLock. It is `'static`, so it can be stored without a
/// lifetime. Dropping never panics.
///
/// ```
/// use std::sync::Arc;
/// let r = Arc::new(pysync::RLock::new());
/// let outer = r.lock_arc();
/// let inner = r.lock_arc();
/// assert_eq!(r.recursion_count(), 2);
/// drop((inner, outer));
/// assert!(!r.locked());
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ArcRLockGuard {
    rlock: Arc<RLock>,
    _not_send: PhantomData<*const ()>,
}

impl ArcRLockGuard {
    /// The RLock this guard holds a level of.
    ///
    /// ```
    /// let r = std::sync::Arc::new(pysync::RLock::new());
    /// let g = r.lock_arc();
    /// assert!(g.rlock().is_owned());
    /// ```
    #[must_use]
    pub fn rlock(&self) -> &Arc<RLock> {
        &self.rlock
    }
}

impl Drop for ArcRLockGuard {
    #[inline]
    fn drop(&mut self) {
        // Never panics: an Err only means the level was released by hand.
        let _ = self.rlock.release();
    }
}

impl fmt::Debug for ArcRLockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArcRLockGuard")
            .field("rlock", &*self.rlock)
            .finish()
    }
}

/// Which semaphore an [`ArcSemaphoreGuard`] holds a permit of.
enum Permit {
    Plain(Arc<Semaphore>),
    Bounded(Arc<BoundedSemaphore>),
}

/// An owned permit of a [`Semaphore`] or [`BoundedSemaphore`] held through
/// an `Arc`: gives the permit back on drop. From `access_arc` and its forms
/// ([`Semaphore::access_arc`], [`BoundedSemaphore::access_arc`]). The
/// connection-pool guard: it can move into a worker thread or be stored
/// beside the connection it guards.
///
/// `Send`, like [`SemaphoreGuard`](crate::SemaphoreGuard). **Dropping never
/// panics**: a permit that does not fit under the ceiling (the semaphore
/// was over-released meanwhile) is dropped and the count saturates, as for
/// `SemaphoreGuard`; [`release`](ArcSemaphoreGuard::release) reports it.
///
/// ```
/// use pysync::{ArcSemaphoreGuard, BoundedSemaphore};
/// use std::sync::Arc;
///
/// let slots = Arc::new(BoundedSemaphore::new(2));
/// let workers: Vec<_> = (0..4)
///     .map(|i| {
///         let permit: ArcSemaphoreGuard = slots.access_arc(); // taken here,
///         std::thread::spawn(move || {
///             let _permit = permit; // given back when the worker ends
///             i * 2
///         })
///     })
///     .collect();
/// let total: i32 = workers.into_iter().map(|w| w.join().unwrap()).sum();
/// assert_eq!(total, 12);
/// assert_eq!(slots.available(), 2);
/// ```
#[must_use = "the permit is given back as soon as the guard is dropped"]
pub struct ArcSemaphoreGuard {
    /// `None` once given back by `release`.
    permit: Option<Permit>,
}

impl ArcSemaphoreGuard {
    fn new(permit: Permit) -> Self {
        ArcSemaphoreGuard {
            permit: Some(permit),
        }
    }

    /// Gives the permit back now: [`Error::TooManyReleases`] if a bounded
    /// semaphore is already at its ceiling (the permit is then dropped).
    ///
    /// # Panics
    /// If a [`Semaphore`] would pass
    /// [`MAX_PERMITS`](Semaphore::MAX_PERMITS) (as
    /// [`SemaphoreGuard::release`](crate::SemaphoreGuard::release)).
    ///
    /// ```
    /// use pysync::{BoundedSemaphore, Error};
    /// let sem = std::sync::Arc::new(BoundedSemaphore::new(1));
    /// let g = sem.access_arc();
    /// sem.release().unwrap(); // someone gives it back for us
    /// assert_eq!(g.release(), Err(Error::TooManyReleases));
    /// ```
    pub fn release(mut self) -> Result<(), Error> {
        match self.permit.take() {
            Some(Permit::Plain(s)) => s.guard().release(),
            Some(Permit::Bounded(s)) => s.guard().release(),
            None => Ok(()),
        }
    }
}

impl Drop for ArcSemaphoreGuard {
    #[inline]
    fn drop(&mut self) {
        // The borrowed guard's drop gives the permit back, and never panics.
        match &self.permit {
            Some(Permit::Plain(s)) => drop(s.guard()),
            Some(Permit::Bounded(s)) => drop(s.guard()),
            None => {}
        }
    }
}

impl fmt::Debug for ArcSemaphoreGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ArcSemaphoreGuard");
        match &self.permit {
            Some(Permit::Plain(s)) => d.field("semaphore", &**s),
            Some(Permit::Bounded(s)) => d.field("semaphore", &**s),
            None => d.field("semaphore", &"released"),
        };
        d.finish()
    }
}

#[cfg(not(loom))]
mod assertions {
    use super::*;
    use static_assertions::{assert_impl_all, assert_not_impl_any};

    assert_impl_all!(ArcLockGuard: Send, Sync, fmt::Debug);
    assert_impl_all!(ArcSemaphoreGuard: Send, Sync, fmt::Debug);
    assert_impl_all!(ArcRLockGuard: fmt::Debug);
    assert_not_impl_any!(ArcRLockGuard: Send);
}
