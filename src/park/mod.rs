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
