//! The parking seam: the few address-keyed parking operations every primitive
//! uses, with one signature and two backends.
//!
//! * normally: thin forwarding to `parking_lot_core` ([`core`](self)),
//! * under `cfg(loom)`: a model of address-keyed FIFO wait queues built from
//!   loom's types, in which a timed park may time out at any interleaving, so
//!   loom explores every "release races a timeout" schedule.
//!
//! Beside them: [`token`], the park/unpark token vocabulary every primitive
//! shares, and [`fair`], the fairness clock a lock waiter carries in its park
//! token.
//!
//! A *key* is the address of a state word owned by the calling primitive.
//! Nothing else in the process parks on an address inside a pysync
//! primitive, which is what makes the operations sound (parking_lot_core's
//! safety contract); that is why the functions here are safe to call from
//! inside the crate.
//!
//! # Callbacks: the rules, stated once
//! The callbacks a primitive passes to the seam are named after their role,
//! as parking_lot names them, and written as named closures or methods (a
//! reviewer never has to count positions):
//! * [`park`]: `validate` (park only if it returns `true`), `before_sleep`
//!   (runs after the queue lock is dropped, before sleeping: the spin point
//!   of each primitive, and where a condition releases its lock),
//!   `timed_out(key, was_last)`;
//! * the unparks: `filter` (who is woken, in FIFO order) and `callback`
//!   (runs after the filter, still under the lock, with what was done).
//!
//! Every callback but `before_sleep` runs **under the queue lock of its
//! key** (a parking_lot_core bucket lock, or the loom model's table lock).
//! Hence:
//! 1. **No panic, no park, no unpark** inside one: a panic there leaves the
//!    bucket locked for every other key that hashes to it. So no
//!    `debug_assert!`, `expect`, `unwrap`, unchecked indexing or arithmetic
//!    that can overflow; a "cannot happen" branch does nothing harmful and
//!    is documented instead. No deadlock-detector bookkeeping either (see
//!    `crate::deadlock`; with the feature on, a pysync bug that does it
//!    aborts with a message).
//! 2. **The queue lock orders every access inside a callback.** A state
//!    word a primitive changes only under its key's queue lock, or reads
//!    there to decide what the queue lock protects, needs no ordering of its
//!    own: such an access is `Relaxed` and says only `// Relaxed: queue
//!    lock.` (the argument is this paragraph). An access that also
//!    publishes data to a thread that does not take the queue lock (a
//!    release's CAS, `set` raising the flag) says what it pairs with, as
//!    everywhere else.

pub(crate) use parking_lot_core::{FilterOp, ParkResult, ParkToken, RequeueOp, UnparkToken};

/// What an unpark operation did (parking_lot_core's is `non_exhaustive`, so
/// the loom model could not build it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct UnparkResult {
    /// Threads removed from the queue and woken.
    pub unparked_threads: usize,
    /// Threads moved to the target queue by `unpark_requeue`.
    pub requeued_threads: usize,
    /// Whether threads remain parked on the original key.
    pub have_more_threads: bool,
}

#[cfg(not(loom))]
#[path = "core.rs"]
mod backend;

#[cfg(loom)]
#[path = "loom.rs"]
mod backend;

pub(crate) use backend::unpark_all;
// `unpark_one` is part of the seam, though no primitive needs it right now.
#[cfg(not(all(feature = "deadlock_detection", not(loom))))]
#[allow(unused_imports)]
pub(crate) use backend::{park, unpark_filter, unpark_one, unpark_requeue};
#[cfg(all(feature = "deadlock_detection", not(loom)))]
#[allow(unused_imports)]
pub(crate) use detected::{park, unpark_filter, unpark_one, unpark_requeue};

/// With deadlock detection: the backend's calls, with the parking thread
/// marked as blocked for the detector (see `crate::deadlock`), and every
/// callback run marked as a parking callback (`deadlock::in_callback`), in
/// which the detector's bookkeeping is undefined behaviour by
/// parking_lot_core's contract: a pysync bug that would do it aborts with a
/// message instead.
#[cfg(all(feature = "deadlock_detection", not(loom)))]
mod detected {
    use super::{FilterOp, ParkResult, ParkToken, RequeueOp, UnparkResult, UnparkToken, backend};
    use crate::deadlock::in_callback;

    #[inline]
    pub(crate) fn park(
        key: usize,
        validate: impl FnOnce() -> bool,
        before_sleep: impl FnOnce(),
        timed_out: impl FnOnce(usize, bool),
        token: ParkToken,
        deadline: Option<std::time::Instant>,
    ) -> ParkResult {
        let _blocked = crate::deadlock::Blocked::enter(deadline.is_none());
        backend::park(
            key,
            || in_callback(validate),
            || in_callback(before_sleep),
            |k, last| in_callback(|| timed_out(k, last)),
            token,
            deadline,
        )
    }

    #[inline]
    #[allow(dead_code)] // part of the seam; no primitive needs it right now
    pub(crate) fn unpark_one(
        key: usize,
        callback: impl FnOnce(UnparkResult) -> UnparkToken,
    ) -> UnparkResult {
        backend::unpark_one(key, |r| in_callback(|| callback(r)))
    }

    #[inline]
    pub(crate) fn unpark_requeue(
        from: usize,
        to: usize,
        validate: impl FnOnce() -> RequeueOp,
        callback: impl FnOnce(RequeueOp, UnparkResult) -> UnparkToken,
    ) -> UnparkResult {
        backend::unpark_requeue(
            from,
            to,
            || in_callback(validate),
            |op, r| in_callback(|| callback(op, r)),
        )
    }

    #[inline]
    pub(crate) fn unpark_filter(
        key: usize,
        mut filter: impl FnMut(ParkToken) -> FilterOp,
        callback: impl FnOnce(UnparkResult) -> UnparkToken,
    ) -> UnparkResult {
        backend::unpark_filter(
            key,
            |t| in_callback(|| filter(t)),
            |r| in_callback(|| callback(r)),
        )
    }
}

/// [`park`] for the common waiter, whose only `timed_out` duty is this:
/// the last waiter to leave the queue by timing out clears the primitive's
/// "threads may be parked" mark (`clear_mark`, under the queue lock).
#[inline]
pub(crate) fn park_waiter(
    key: usize,
    validate: impl FnOnce() -> bool,
    before_sleep: impl FnOnce(),
    clear_mark: impl FnOnce(),
    token: ParkToken,
    deadline: Option<std::time::Instant>,
) -> ParkResult {
    let timed_out = |_key, was_last| {
        if was_last {
            clear_mark();
        }
    };
    park(key, validate, before_sleep, timed_out, token, deadline)
}

/// Deadlock detector: the calling thread now holds the lock whose parking key
/// is `key` (threads blocked on `key` wait for it). Call right after every
/// successful acquisition, never from a seam callback. Compiled to nothing
/// unless the `deadlock_detection` feature is on (and always under loom).
#[inline(always)]
pub(crate) fn acquire_resource(_key: usize) {
    #[cfg(all(feature = "deadlock_detection", not(loom)))]
    crate::deadlock::acquired(_key);
}

/// Deadlock detector: the lock whose parking key is `key` is about to be
/// released, by the calling thread or (a `Lock` is not owned) another one.
/// Call right before every release, never from a seam callback. Compiled to
/// nothing unless the `deadlock_detection` feature is on (and under loom).
#[inline(always)]
pub(crate) fn release_resource(_key: usize) {
    #[cfg(all(feature = "deadlock_detection", not(loom)))]
    crate::deadlock::releasing(_key);
}

/// The state word of a primitive that promises it may be freed as soon as
/// the last call using it has returned (see the crate docs). Outside loom it
/// is the word itself; under loom it is checked: after the primitive is
/// dropped, any access to the word panics, so a model in which the last
/// user frees the primitive fails if a call still touches it afterwards.
#[cfg(not(loom))]
pub(crate) type Watched<T> = T;
#[cfg(loom)]
pub(crate) use backend::Watched;

/// Wraps a state word as [`Watched`] (the identity outside loom).
#[cfg(not(loom))]
#[inline]
pub(crate) const fn watched<T>(word: T) -> Watched<T> {
    word
}
#[cfg(loom)]
pub(crate) use backend::queued;
#[cfg(loom)]
pub(crate) use backend::watched;

/// The key of a state word: its address.
#[inline]
pub(crate) fn key_of<T>(word: &T) -> usize {
    word as *const T as usize
}

pub(crate) mod fair;
pub(crate) mod token;

/// "Nobody waits: no parking call" — the promise of every release, set and
/// notify (the crate docs, each primitive's docs, README): counted, per
/// thread, at the seam (each call takes a queue lock; a park or a wake-up
/// is a system call), for every primitive's uncontended operations. (A
/// `Barrier` promises no such thing: the arrival that completes a round
/// changes the state under the queue lock, whoever waits.)
#[cfg(all(test, not(loom)))]
mod no_waiters {
    use super::backend::testing::calls_on_this_thread;
    use crate::*;
    use std::time::Duration;

    /// A named case: an uncontended use of one primitive.
    type Case<'a> = (&'static str, Box<dyn Fn() + 'a>);

    /// Runs `f` and returns how many parking calls it made on this thread.
    fn calls(f: impl FnOnce()) -> usize {
        let before = calls_on_this_thread();
        f();
        calls_on_this_thread() - before
    }

    #[test]
    fn uncontended_operations_make_no_parking_call() {
        let _watchdog = crate::test_watchdog::watchdog();
        let lock = Lock::new();
        let rlock = RLock::new();
        let sem = Semaphore::new(1);
        let bsem = BoundedSemaphore::new(1);
        let event = Event::new();
        let cond = Condition::new();
        let condvar = Condvar::new();
        let mutex = Mutex::new(0);
        let gil = Gil::new();
        let cases: Vec<Case<'_>> = vec![
            (
                "Lock acquire/release",
                Box::new(|| {
                    lock.acquire();
                    lock.release().unwrap();
                }),
            ),
            (
                "Lock try/timeout/release_fair",
                Box::new(|| {
                    assert!(lock.try_acquire());
                    lock.release_fair().unwrap();
                    assert!(lock.acquire_timeout(Duration::from_secs(1)));
                    lock.release().unwrap();
                }),
            ),
            ("Lock guard", Box::new(|| drop(lock.lock()))),
            (
                "RLock recursion",
                Box::new(|| {
                    rlock.acquire();
                    rlock.acquire();
                    rlock.release().unwrap();
                    rlock.release().unwrap();
                }),
            ),
            ("Mutex<T>", Box::new(|| *mutex.lock() += 1)),
            (
                "Semaphore",
                Box::new(|| {
                    sem.acquire();
                    sem.release();
                    assert!(sem.try_acquire());
                    sem.release_n(1);
                }),
            ),
            (
                "BoundedSemaphore",
                Box::new(|| {
                    bsem.acquire();
                    bsem.release().unwrap();
                }),
            ),
            (
                "Event",
                Box::new(|| {
                    event.set();
                    assert!(event.wait_timeout(Duration::from_secs(1)));
                    event.clear();
                    event.set();
                    event.clear();
                }),
            ),
            (
                "Condition notify",
                Box::new(|| {
                    let _g = cond.lock();
                    cond.notify_one().unwrap();
                    cond.notify(3).unwrap();
                    cond.notify_all().unwrap();
                }),
            ),
            (
                "Condvar notify",
                Box::new(|| {
                    condvar.notify_one();
                    condvar.notify_all();
                }),
            ),
            (
                "Gil acquire/check/drop",
                Box::new(|| {
                    let g = gil.acquire();
                    g.check();
                    drop(g);
                    drop(gil.try_acquire());
                }),
            ),
            (
                "Gil allow_threads",
                Box::new(|| {
                    let mut g = gil.acquire();
                    g.allow_threads(|| ());
                }),
            ),
            (
                "Gil yield_now",
                Box::new(|| {
                    let g = gil.acquire();
                    g.yield_now();
                }),
            ),
        ];
        for (what, case) in &cases {
            case(); // a first use may set things up
            assert_eq!(calls(case), 0, "{what}: a parking call with nobody waiting");
        }
    }

    /// The same for `pysync::process`'s primitives: no futex wake (a
    /// system call) and no parking call.
    #[test]
    #[cfg_attr(miri, ignore)] // shared memory
    #[cfg(target_os = "linux")]
    fn uncontended_process_operations_make_no_wake_call() {
        let _watchdog = crate::test_watchdog::watchdog();
        use crate::process::futex::testing::wakes_on_this_thread;
        let region = process::Region::anonymous(1 << 16).unwrap();
        let lock = region.lock("lock").unwrap();
        let rlock = region.rlock("rlock").unwrap();
        let sem = region.semaphore("sem", 1).unwrap();
        let event = region.event("event").unwrap();
        let cond = region.condition("cond").unwrap();
        let cases: Vec<Case<'_>> = vec![
            (
                "Lock",
                Box::new(|| {
                    lock.acquire();
                    lock.release().unwrap();
                    assert!(lock.try_acquire());
                    lock.release().unwrap();
                }),
            ),
            (
                "RLock",
                Box::new(|| {
                    rlock.acquire();
                    rlock.acquire();
                    rlock.release().unwrap();
                    rlock.release().unwrap();
                }),
            ),
            (
                "Semaphore",
                Box::new(|| {
                    sem.acquire();
                    sem.release();
                }),
            ),
            (
                "Event",
                Box::new(|| {
                    event.set();
                    event.clear();
                }),
            ),
            (
                "Condition notify",
                Box::new(|| {
                    let _g = cond.lock();
                    cond.notify_one().unwrap();
                    cond.notify_all().unwrap();
                }),
            ),
        ];
        for (what, case) in &cases {
            case();
            let (wakes, parks) = (wakes_on_this_thread(), calls_on_this_thread());
            case();
            assert_eq!(
                (
                    wakes_on_this_thread() - wakes,
                    calls_on_this_thread() - parks
                ),
                (0, 0),
                "process {what}: a wake-up call with nobody waiting"
            );
        }
    }
}
