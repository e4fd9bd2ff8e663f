//! Backend: `parking_lot_core`, forwarded as is.
//!
//! SAFETY (for every call below): parking_lot_core requires that keys be
//! addresses the caller controls, so that no unrelated primitive parks on the
//! same key. Every key passed to this module is the address of (a field of) a
//! live pysync primitive, obtained with `park::key_of` by that primitive
//! itself; see the module docs of `park`. The callbacks the primitives pass
//! do not unwind and do not call back into parking_lot_core.

use super::{FilterOp, ParkResult, ParkToken, RequeueOp, UnparkResult, UnparkToken};
use std::time::Instant;

fn convert(r: parking_lot_core::UnparkResult) -> UnparkResult {
    UnparkResult {
        unparked_threads: r.unparked_threads,
        requeued_threads: r.requeued_threads,
        have_more_threads: r.have_more_threads,
    }
}

/// Parks the current thread on `key` if `validate` (run under the queue lock)
/// says so, until unparked or `deadline`.
#[inline]
pub(crate) fn park(
    key: usize,
    validate: impl FnOnce() -> bool,
    before_sleep: impl FnOnce(),
    timed_out: impl FnOnce(usize, bool),
    token: ParkToken,
    deadline: Option<Instant>,
) -> ParkResult {
    // Unit tests count a park that queues the thread (`validate` said yes)
    // as a blocking step (`sync::blocking_steps`).
    #[cfg(test)]
    let validate = || {
        let parks = validate();
        if parks {
            crate::sync::blocking_steps::note();
        }
        parks
    };
    #[cfg(test)]
    testing::count();
    // SAFETY: see the module comment.
    unsafe { parking_lot_core::park(key, validate, before_sleep, timed_out, token, deadline) }
}

/// Unparks the longest waiter on `key`; `callback` runs under the queue lock.
#[allow(dead_code)] // part of the seam; no primitive needs it at the moment
#[inline]
pub(crate) fn unpark_one(
    key: usize,
    callback: impl FnOnce(UnparkResult) -> UnparkToken,
) -> UnparkResult {
    #[cfg(test)]
    testing::count();
    // SAFETY: see the module comment.
    convert(unsafe { parking_lot_core::unpark_one(key, |r| callback(convert(r))) })
}

/// Unparks every waiter on `key`, passing each `token`.
#[inline]
pub(crate) fn unpark_all(key: usize, token: UnparkToken) -> usize {
    #[cfg(test)]
    testing::count();
    // SAFETY: see the module comment.
    unsafe { parking_lot_core::unpark_all(key, token) }
}

/// Moves waiters from `from` to `to` (and maybe wakes one), as `validate`
/// decides under both queue locks.
#[inline]
pub(crate) fn unpark_requeue(
    from: usize,
    to: usize,
    validate: impl FnOnce() -> RequeueOp,
    callback: impl FnOnce(RequeueOp, UnparkResult) -> UnparkToken,
) -> UnparkResult {
    #[cfg(test)]
    testing::count();
    // SAFETY: see the module comment.
    convert(unsafe {
        parking_lot_core::unpark_requeue(from, to, validate, |op, r| callback(op, convert(r)))
    })
}

/// Walks the waiters on `key` in FIFO order, unparking those `filter` picks.
#[inline]
pub(crate) fn unpark_filter(
    key: usize,
    filter: impl FnMut(ParkToken) -> FilterOp,
    callback: impl FnOnce(UnparkResult) -> UnparkToken,
) -> UnparkResult {
    #[cfg(test)]
    testing::count();
    // SAFETY: see the module comment.
    convert(unsafe { parking_lot_core::unpark_filter(key, filter, |r| callback(convert(r))) })
}

/// Unit tests only: how many calls into parking_lot_core the calling thread
/// has made (each takes a queue lock; a park, or an unpark that finds a
/// waiter, is a system call), so that "nobody waits: no parking call" is
/// counted, not assumed.
#[cfg(test)]
pub(crate) mod testing {
    use std::cell::Cell;

    std::thread_local!(static CALLS: Cell<usize> = const { Cell::new(0) });

    pub(super) fn count() {
        CALLS.set(CALLS.get() + 1);
    }

    /// Calls into parking_lot_core made on this thread so far.
    pub(crate) fn calls_on_this_thread() -> usize {
        CALLS.get()
    }
}
