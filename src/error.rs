//! [`Error`]: the one error type, worded like Python's `RuntimeError`s.

use core::fmt;

/// Misuse of a primitive, or a broken barrier.
///
/// Messages are worded like the `RuntimeError`/`ValueError` CPython raises for
/// the same mistake, so code ported from Python reads the same.
///
/// ```
/// use pysync::{Error, Lock};
///
/// let lock = Lock::new();
/// assert_eq!(lock.release(), Err(Error::ReleaseUnlocked));
/// assert_eq!(Error::ReleaseUnlocked.to_string(), "release unlocked lock");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// Releasing a [`Lock`](crate::Lock) that is not locked
    /// ("release unlocked lock").
    ReleaseUnlocked,
    /// Releasing an [`RLock`](crate::RLock) the calling thread does not own
    /// ("cannot release un-acquired lock").
    NotOwned,
    /// Releasing a [`BoundedSemaphore`](crate::BoundedSemaphore) past its
    /// initial value ("Semaphore released too many times").
    TooManyReleases,
    /// Waiting on a [`Condition`](crate::Condition) whose lock the caller does
    /// not hold ("cannot wait on un-acquired lock").
    WaitUnacquired,
    /// Notifying a [`Condition`](crate::Condition) whose lock the caller does
    /// not hold ("cannot notify on un-acquired lock").
    NotifyUnacquired,
    /// The [`Barrier`](crate::Barrier) is broken: aborted, reset while
    /// waiting, timed out, or its action panicked (Python's
    /// `BrokenBarrierError`).
    BrokenBarrier,
    /// An argument out of range (Python's `ValueError`), with what was wrong.
    InvalidArgument(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::ReleaseUnlocked => "release unlocked lock",
            Error::NotOwned => "cannot release un-acquired lock",
            Error::TooManyReleases => "Semaphore released too many times",
            Error::WaitUnacquired => "cannot wait on un-acquired lock",
            Error::NotifyUnacquired => "cannot notify on un-acquired lock",
            Error::BrokenBarrier => "barrier is broken",
            Error::InvalidArgument(what) => what,
        })
    }
}

impl std::error::Error for Error {}
