//! [`Barrier`]: Python's `threading.Barrier`, reusable, breakable, with an
//! action and timeouts: the public API over [`raw::RawBarrier`] (rounds,
//! phases and timeouts, all decided under the queue lock; its module docs
//! state the rules and why a timeout never breaks a completed round).

mod raw;

use crate::blocking;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::sync::loom_const_fn;
use core::fmt;
use raw::{MAX_PARTIES, RawBarrier};
use std::time::Duration;

/// A barrier with Python's `threading.Barrier` semantics: `parties` threads
/// wait for each other, then all proceed; reusable round after round.
///
/// * [`wait`](Barrier::wait) returns `Ok(index)`, the arrival index in
///   `0..parties`, unique within a round (the first to arrive gets 0, the
///   last `parties - 1`), as in Python.
/// * The optional action ([`with_action`](Barrier::with_action)) runs once per
///   round, in the last thread to arrive, before anyone is released.
/// * The barrier **breaks** when a wait times out, when [`abort`](Barrier::abort)
///   is called, or when the action panics: every thread waiting gets
///   `Err(Error::BrokenBarrier)`, and so does every later `wait`, until
///   [`reset`](Barrier::reset).
/// * Waiting threads spin briefly (a few µs, already queued, only where that
///   can help: more than one CPU, no `sched_yield`) and then park;
///   a round is released with one wake-up call, and released threads never
///   touch the barrier again, so the next round can start at once.
///
/// | Python                          | pysync                                   |
/// |---------------------------------|------------------------------------------|
/// | `Barrier(n)`                    | [`Barrier::new(n)`](Barrier::new)        |
/// | `Barrier(n, action=f)`          | [`Barrier::with_action(n, f)`](Barrier::with_action) |
/// | `Barrier(n, timeout=t)`         | [`Barrier::with_timeout(n, t)`](Barrier::with_timeout) |
/// | `b.wait()`                      | [`wait`](Barrier::wait)                  |
/// | `b.wait(timeout=t)`             | [`wait_timeout`](Barrier::wait_timeout)  |
/// | `b.reset()`, `b.abort()`        | [`reset`](Barrier::reset), [`abort`](Barrier::abort) |
/// | `b.parties`, `b.n_waiting`, `b.broken` | [`parties`](Barrier::parties), [`n_waiting`](Barrier::n_waiting), [`broken`](Barrier::broken) |
/// | `BrokenBarrierError`            | [`Error::BrokenBarrier`]                 |
///
/// Differences from Python: a panicking action breaks the barrier and the
/// panic continues in the thread that ran it (Python re-raises the action's
/// exception there too); `abort` or `reset` while the action runs make that
/// round fail for every party (Python blocks them until the action is done);
/// a timeout is a deadline for the whole call, including any wait for the
/// previous round's action to finish (Python waits for the action without a
/// timeout): an arrival that times out there gets `Err(BrokenBarrier)` and
/// breaks the round it was waiting to join, so the barrier is broken from
/// then on ([`broken`](Barrier::broken) is true, later waits get `Err`, and
/// so do the arrivals already waiting, once the running round ends), while
/// the round whose action runs still completes for its parties. So even a
/// timed `wait` from inside the barrier's own action returns instead of
/// deadlocking.
///
/// ```
/// use pysync::Barrier;
/// use std::sync::Arc;
/// use std::thread;
///
/// let barrier = Arc::new(Barrier::new(3));
/// let handles: Vec<_> = (0..3)
///     .map(|_| {
///         let b = Arc::clone(&barrier);
///         thread::spawn(move || b.wait().unwrap())
///     })
///     .collect();
/// let mut indices: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
/// indices.sort();
/// assert_eq!(indices, [0, 1, 2]);
/// ```
///
/// # A borrowed action
/// The action type is a parameter, `Box<dyn Fn() + Send + Sync>` (an owned,
/// `'static` action) unless said otherwise, so [`Barrier`] alone names the
/// usual barrier. [`with_scoped_action`](Barrier::with_scoped_action) takes
/// any `Fn() + Sync`, unboxed, and may borrow from the enclosing scope, for
/// a barrier shared in `thread::scope`:
///
/// ```
/// use pysync::Barrier;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::thread;
///
/// let phases = AtomicUsize::new(0); // borrowed by the action, not 'static
/// let barrier = Barrier::with_scoped_action(3, || {
///     phases.fetch_add(1, Ordering::Relaxed);
/// });
/// thread::scope(|s| {
///     for _ in 0..3 {
///         s.spawn(|| {
///             for _ in 0..2 {
///                 barrier.wait().unwrap();
///             }
///         });
///     }
/// });
/// assert_eq!(phases.into_inner(), 2); // the barrier's borrow has ended
/// ```
pub struct Barrier<F = Box<dyn Fn() + Send + Sync>> {
    raw: RawBarrier,
    timeout: Option<Duration>,
    action: Option<F>,
}

impl Barrier {
    loom_const_fn! {
        /// A barrier for `parties` threads (Python's `Barrier(parties)`).
        ///
        /// # Panics
        /// With `parties == 0`: "Barrier needs at least 1 party" (Python raises
        /// `ValueError`); see [`try_new`](Barrier::try_new) for an `Err`
        /// instead. Also past `usize::MAX / 4` parties.
        ///
        /// ```
        /// static B: pysync::Barrier = pysync::Barrier::new(1);
        /// assert_eq!(B.wait(), Ok(0)); // one party never blocks
        /// ```
        #[must_use]
        pub fn new(parties: usize) -> Barrier {
            if parties == 0 {
                panic!("Barrier needs at least 1 party");
            }
            if parties > MAX_PARTIES {
                panic!("Barrier has too many parties");
            }
            Barrier { raw: RawBarrier::new(parties), timeout: None, action: None }
        }
    }

    /// A barrier for `parties` threads, or
    /// `Err(Error::InvalidArgument("parties must be >= 1"))` for 0 (Python's
    /// `ValueError`).
    ///
    /// ```
    /// use pysync::{Barrier, Error};
    /// assert!(matches!(Barrier::try_new(0), Err(Error::InvalidArgument(_))));
    /// assert_eq!(Barrier::try_new(4).unwrap().parties(), 4);
    /// ```
    pub fn try_new(parties: usize) -> Result<Barrier, Error> {
        if parties == 0 {
            Err(Error::InvalidArgument("parties must be >= 1"))
        } else if parties > MAX_PARTIES {
            Err(Error::InvalidArgument("too many parties"))
        } else {
            Ok(Barrier::new(parties))
        }
    }

    /// A barrier whose `action` runs once per round, in the last thread to
    /// arrive, before any thread is released (Python's `action=`).
    ///
    /// If the action panics, the barrier breaks (the other parties get
    /// `Err(Error::BrokenBarrier)`) and the panic continues in the thread
    /// that ran it.
    ///
    /// # Panics
    /// As [`new`](Barrier::new), with `parties == 0`.
    ///
    /// ```
    /// use pysync::Barrier;
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let rounds = Arc::new(AtomicUsize::new(0));
    /// let r = Arc::clone(&rounds);
    /// let b = Barrier::with_action(1, move || { r.fetch_add(1, Ordering::Relaxed); });
    /// b.wait().unwrap();
    /// b.wait().unwrap();
    /// assert_eq!(rounds.load(Ordering::Relaxed), 2);
    /// ```
    pub fn with_action(parties: usize, action: impl Fn() + Send + Sync + 'static) -> Barrier {
        Barrier {
            action: Some(Box::new(action)),
            ..Barrier::new(parties)
        }
    }

    /// A barrier whose [`wait`](Barrier::wait) times out after `default`
    /// (Python's `timeout=`), which breaks the barrier. `Duration::MAX` means
    /// no timeout.
    ///
    /// # Panics
    /// As [`new`](Barrier::new), with `parties == 0`.
    ///
    /// ```
    /// use pysync::{Barrier, Error};
    /// use std::time::Duration;
    /// let b = Barrier::with_timeout(2, Duration::from_millis(10));
    /// assert_eq!(b.wait(), Err(Error::BrokenBarrier)); // nobody else came
    /// assert!(b.broken());
    /// ```
    #[must_use]
    pub fn with_timeout(parties: usize, default: Duration) -> Barrier {
        Barrier {
            timeout: Some(default),
            ..Barrier::new(parties)
        }
    }

    /// Both an action and a default timeout (Python's
    /// `Barrier(parties, action, timeout)`).
    ///
    /// # Panics
    /// As [`new`](Barrier::new), with `parties == 0`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = pysync::Barrier::with_action_and_timeout(1, || {}, Duration::from_secs(1));
    /// assert_eq!(b.default_timeout(), Some(Duration::from_secs(1)));
    /// assert_eq!(b.wait(), Ok(0));
    /// ```
    pub fn with_action_and_timeout(
        parties: usize,
        action: impl Fn() + Send + Sync + 'static,
        default: Duration,
    ) -> Barrier {
        Barrier {
            timeout: Some(default),
            ..Barrier::with_action(parties, action)
        }
    }
}

impl<F: Fn() + Sync> Barrier<F> {
    /// A barrier whose `action` may borrow (any `Fn() + Sync`, not boxed,
    /// not `'static`): for a barrier shared within `thread::scope`. Runs like
    /// [`with_action`](Barrier::with_action)'s. Chain
    /// [`and_timeout`](Barrier::and_timeout) for a default timeout.
    ///
    /// # Panics
    /// As [`new`](Barrier::new), with `parties == 0`.
    ///
    /// ```
    /// let mut log = std::sync::Mutex::new(Vec::new());
    /// let b = pysync::Barrier::with_scoped_action(1, || log.lock().unwrap().push("phase"));
    /// b.wait().unwrap();
    /// assert_eq!(log.get_mut().unwrap().len(), 1);
    /// ```
    pub fn with_scoped_action(parties: usize, action: F) -> Barrier<F> {
        let Barrier { raw, timeout, .. } = Barrier::new(parties);
        Barrier {
            raw,
            timeout,
            action: Some(action),
        }
    }

    /// The same barrier with a default timeout for [`wait`](Barrier::wait)
    /// (as [`with_timeout`](Barrier::with_timeout)).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = pysync::Barrier::with_scoped_action(2, || {}).and_timeout(Duration::from_millis(1));
    /// assert!(b.wait().is_err()); // nobody else came: broken
    /// ```
    #[must_use]
    pub fn and_timeout(self, default: Duration) -> Barrier<F> {
        Barrier {
            timeout: Some(default),
            ..self
        }
    }

    blocking::barrier_forms!("b" = "pysync::Barrier::new(1)");

    /// Puts the barrier back in its empty, unbroken state (Python's
    /// `reset()`). Threads waiting in the current round get
    /// `Err(Error::BrokenBarrier)`; threads arriving afterwards start a new
    /// round.
    ///
    /// ```
    /// use pysync::{Barrier, Error};
    /// let b = Barrier::new(2);
    /// b.abort();
    /// assert_eq!(b.wait(), Err(Error::BrokenBarrier));
    /// b.reset();
    /// assert!(!b.broken());
    /// ```
    pub fn reset(&self) {
        self.raw.reset();
    }

    /// Breaks the barrier (Python's `abort()`): threads waiting now and every
    /// later `wait` get `Err(Error::BrokenBarrier)` until
    /// [`reset`](Barrier::reset).
    ///
    /// ```
    /// use pysync::{Barrier, Error};
    /// use std::thread;
    ///
    /// let b = Barrier::new(2);
    /// thread::scope(|s| {
    ///     let waiter = s.spawn(|| b.wait());
    ///     while b.n_waiting() == 0 { thread::yield_now(); }
    ///     b.abort();
    ///     assert_eq!(waiter.join().unwrap(), Err(Error::BrokenBarrier));
    /// });
    /// assert!(b.broken());
    /// ```
    pub fn abort(&self) {
        self.raw.abort();
    }

    /// The number of threads required to pass the barrier (Python's
    /// `parties`).
    ///
    /// ```
    /// assert_eq!(pysync::Barrier::new(5).parties(), 5);
    /// ```
    #[inline]
    pub fn parties(&self) -> usize {
        self.raw.parties()
    }

    /// The number of threads waiting in the current round (Python's
    /// `n_waiting`); while the action runs, all parties. A snapshot.
    ///
    /// ```
    /// let b = pysync::Barrier::new(3);
    /// assert_eq!(b.n_waiting(), 0);
    /// ```
    #[inline]
    pub fn n_waiting(&self) -> usize {
        self.raw.n_waiting()
    }

    /// Whether the barrier is broken (Python's `broken`). A snapshot.
    ///
    /// True from the moment a `wait` breaks it (by its timeout, also one
    /// that fired while the previous round's action ran), an action panics
    /// or [`abort`](Barrier::abort) is called, until [`reset`](Barrier::reset):
    /// a `wait` that returned `Err(BrokenBarrier)` always finds it true
    /// (unless someone reset it since).
    ///
    /// ```
    /// let b = pysync::Barrier::new(3);
    /// assert!(!b.broken());
    /// b.abort();
    /// assert!(b.broken());
    /// ```
    #[inline]
    pub fn broken(&self) -> bool {
        self.raw.broken()
    }

    /// The default timeout of [`wait`](Barrier::wait), if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(pysync::Barrier::new(2).default_timeout(), None);
    /// let b = pysync::Barrier::with_timeout(2, Duration::from_secs(3));
    /// assert_eq!(b.default_timeout(), Some(Duration::from_secs(3)));
    /// ```
    #[inline]
    pub fn default_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    // ----- the core of the waiting forms ------------------------------------

    /// `wait`'s deadline: the default timeout's, or none.
    #[inline]
    fn default_deadline(&self) -> Deadline {
        self.timeout.map_or(Deadline::Never, Deadline::after)
    }

    #[inline]
    fn wait_core(&self, deadline: Deadline) -> Result<usize, Error> {
        let action = self.action.as_ref().map(|f| f as &(dyn Fn() + Sync));
        self.raw.wait(deadline, action)
    }
}

impl<F: Fn() + Sync> fmt::Debug for Barrier<F> {
    /// Shows `parties`, `n_waiting` and `broken` (snapshots; never blocks).
    ///
    /// ```
    /// let b = pysync::Barrier::new(2);
    /// assert_eq!(format!("{b:?}"), "Barrier { parties: 2, n_waiting: 0, broken: false }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties())
            .field("n_waiting", &self.n_waiting())
            .field("broken", &self.broken())
            .finish()
    }
}

#[cfg(not(loom))]
mod assertions {
    use super::Barrier;
    use static_assertions::assert_impl_all;
    assert_impl_all!(Barrier: Send, Sync, core::fmt::Debug);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "Barrier needs at least 1 party")]
    fn zero_parties_panics() {
        let _watchdog = crate::test_watchdog::watchdog();
        let _ = Barrier::new(0);
    }

    #[test]
    fn too_many_parties_is_an_error() {
        let _watchdog = crate::test_watchdog::watchdog();
        assert!(Barrier::try_new(MAX_PARTIES + 1).is_err());
        assert!(Barrier::try_new(MAX_PARTIES).is_ok());
    }
}
