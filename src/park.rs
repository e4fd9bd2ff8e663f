//! The parking seam: the few address-keyed parking operations every primitive
//! uses, with one signature and two backends.
//!
//! * normally: thin forwarding to `parking_lot_core` ([`core`](self)),
//! * under `cfg(loom)`: a model of address-keyed FIFO wait queues built from
//!   loom's types, in which a timed park may time out at any interleaving, so
//!   loom explores every "release races a timeout" schedule.
//!
//! A *key* is the address of a state word owned by the calling primitive.
//! Nothing else in the process parks on an address inside a pysync
//! primitive, which is what makes the operations sound (parking_lot_core's
//! safety contract); that is why the functions here are safe to call from
//! inside the crate.
//!
//! Callbacks (`validate`, `timed_out`, `callback`, `filter`) run while the
//! queue is locked: they must not panic, park or unpark.

pub(crate) use parking_lot_core::{
    DEFAULT_PARK_TOKEN, FilterOp, ParkResult, ParkToken, RequeueOp, UnparkToken,
};

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
#[path = "park/core.rs"]
mod backend;

#[cfg(loom)]
#[path = "park/loom.rs"]
mod backend;

pub(crate) use backend::unpark_all;
#[cfg(not(all(feature = "deadlock_detection", not(loom))))]
pub(crate) use backend::{park, unpark_filter, unpark_one, unpark_requeue};
#[cfg(all(feature = "deadlock_detection", not(loom)))]
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

/// The key of a state word: its address.
#[inline]
pub(crate) fn key_of<T>(word: &T) -> usize {
    word as *const T as usize
}

/// Fairness clock: tokens that carry "when this waiter becomes owed a direct
/// hand-off", and the test of whether that moment has passed.
pub(crate) mod fair {
    use super::ParkToken;

    /// A park token holding this waiter's fairness deadline: now plus a
    /// randomised 0.5–1.5 ms (WebKit randomises, CPython uses 1 ms).
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn token() -> ParkToken {
        ParkToken(deadline_from(now_ns()) as usize)
    }

    /// Whether a release should hand the primitive at `key` to the waiter
    /// whose park token is `token`: the waiter's fairness deadline (from
    /// [`token`]) has passed, and so has the key's fairness timer (so
    /// hand-offs happen at most about once per ms per key). One clock read.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn hand_off_due(key: usize, token: ParkToken) -> bool {
        let now = now_ns();
        // Relaxed: a heuristic clock reading; it orders nothing.
        now >= token.0 as u64 && now >= timer(key).load(Ordering::Relaxed)
    }

    /// Records a hand-off at `key`: its timer is next due ~1 ms from now.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn handed_off(key: usize) {
        // Relaxed: as above.
        timer(key).store(deadline_from(now_ns()), Ordering::Relaxed);
    }

    #[cfg(not(loom))]
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Fairness timers, shared by address hash (a collision only makes a
    /// hand-off a little more or less frequent).
    #[cfg(not(loom))]
    fn timer(key: usize) -> &'static AtomicU64 {
        use crossbeam_utils::CachePadded;
        const SLOTS: usize = 64;
        static TIMERS: [CachePadded<AtomicU64>; SLOTS] =
            [const { CachePadded::new(AtomicU64::new(0)) }; SLOTS];
        &TIMERS[(key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) % SLOTS]
    }

    /// `now` plus 0.5–1.5 ms of jitter from the clock's low bits (a
    /// multiplicative hash: it only needs to avoid lock-step, not to be
    /// random).
    #[cfg(not(loom))]
    fn deadline_from(now: u64) -> u64 {
        let jitter = (now.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 44) % 1_000_000;
        now + 500_000 + jitter
    }

    #[cfg(not(loom))]
    use crate::deadline::now_ns;

    // Under loom there is no time: tokens carry nothing.
    #[cfg(loom)]
    pub(crate) fn token() -> ParkToken {
        ParkToken(usize::MAX)
    }

    /// Under loom there is no clock: whether the deadline is due is one of
    /// the model's choices (`crate::sync::choice`), so the models explore
    /// both the plain wake-up and the hand-off at every slow release.
    #[cfg(loom)]
    pub(crate) fn hand_off_due(_key: usize, _token: ParkToken) -> bool {
        crate::sync::choice()
    }

    #[cfg(loom)]
    pub(crate) fn handed_off(_key: usize) {}
}
