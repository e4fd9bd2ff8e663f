//! [`MutexExt`]: pysync's timed lock forms on [`Mutex<T>`](crate::Mutex),
//! which is lock_api's type (so pysync cannot add inherent methods to it).

use crate::lock::{ArcMutexGuard, Lock, MutexGuard};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// pysync's names for the timed forms of [`Mutex<T>`](crate::Mutex), the
/// same as on [`Lock`]: `lock_timeout(Duration)` and `lock_until(Instant)`
/// (lock_api calls them `try_lock_for` and `try_lock_until`; both work), and
/// their owned (`_arc`) forms. Import it (`use pysync::MutexExt;`); the
/// compiler suggests it when one of these names is not found.
///
/// ```
/// use pysync::{Mutex, MutexExt};
/// use std::time::Duration;
///
/// let m = Mutex::new(1);
/// let g = m.lock_timeout(Duration::from_millis(5)).expect("free");
/// assert!(m.lock_timeout(Duration::ZERO).is_none()); // held: a try fails
/// drop(g);
/// ```
pub trait MutexExt<T: ?Sized> {
    /// Locks, waiting at most `timeout` (`Duration::ZERO`: one try;
    /// `Duration::MAX`: forever). lock_api's `try_lock_for`.
    ///
    /// ```
    /// use pysync::MutexExt;
    /// let m = pysync::Mutex::new(());
    /// assert!(m.lock_timeout(std::time::Duration::from_millis(1)).is_some());
    /// ```
    fn lock_timeout(&self, timeout: Duration) -> Option<MutexGuard<'_, T>>;

    /// Locks, waiting until `deadline` at the latest (past: one try).
    /// lock_api's `try_lock_until`.
    ///
    /// ```
    /// use pysync::MutexExt;
    /// let m = pysync::Mutex::new(());
    /// assert!(m.lock_until(std::time::Instant::now()).is_some());
    /// ```
    fn lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>>;

    /// As [`lock_timeout`](MutexExt::lock_timeout), returning an owned
    /// guard (the mutex is in an `Arc`). lock_api's `try_lock_arc_for`.
    ///
    /// ```
    /// use pysync::MutexExt;
    /// let m = std::sync::Arc::new(pysync::Mutex::new(0));
    /// let mut g = m.lock_arc_timeout(std::time::Duration::from_millis(1)).unwrap();
    /// std::thread::spawn(move || *g += 1).join().unwrap();
    /// assert_eq!(*m.lock(), 1);
    /// ```
    fn lock_arc_timeout(self: &Arc<Self>, timeout: Duration) -> Option<ArcMutexGuard<T>>;

    /// As [`lock_until`](MutexExt::lock_until), returning an owned guard.
    ///
    /// ```
    /// use pysync::MutexExt;
    /// let m = std::sync::Arc::new(pysync::Mutex::new(0));
    /// assert!(m.lock_arc_until(std::time::Instant::now()).is_some());
    /// ```
    fn lock_arc_until(self: &Arc<Self>, deadline: Instant) -> Option<ArcMutexGuard<T>>;
}

impl<T: ?Sized> MutexExt<T> for lock_api::Mutex<Lock, T> {
    #[inline]
    fn lock_timeout(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        self.try_lock_for(timeout)
    }
    #[inline]
    fn lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
        self.try_lock_until(deadline)
    }
    #[inline]
    fn lock_arc_timeout(self: &Arc<Self>, timeout: Duration) -> Option<ArcMutexGuard<T>> {
        self.try_lock_arc_for(timeout)
    }
    #[inline]
    fn lock_arc_until(self: &Arc<Self>, deadline: Instant) -> Option<ArcMutexGuard<T>> {
        self.try_lock_arc_until(deadline)
    }
}
