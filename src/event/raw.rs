//! [`RawEvent`]: the state machine of [`Event`](super::Event), one byte.
//!
//! # State byte
//!
//! | bit          | meaning                                                   |
//! |--------------|-----------------------------------------------------------|
//! | `SET_BIT`    | the flag                                                  |
//! | `PARKED_BIT` | threads may be parked on the key (queue non-empty, or one about to park) |
//!
//! | transition              | who                                        | ordering |
//! |-------------------------|--------------------------------------------|----------|
//! | `x → x\|S` (no `P`)     | `set`, fast path CAS                       | Release  |
//! | `P → S`                 | `set` with waiters: raise + wake all, under the queue lock | Release |
//! | `x → x & !S`            | `clear`                                    | Relaxed  |
//! | `0 → P`                 | waiter about to park                       | Relaxed (queue lock orders it) |
//! | `P → 0`                 | last waiter timing out, under the queue lock | Relaxed |
//!
//! A waiter parks only if, under the queue lock, the byte is exactly `P`
//! (flag clear, `P` set). While `P` is set, `set` raises the flag only under
//! the queue lock, in the same step that wakes every queued waiter, so either
//! a waiter's check sees the flag, or it is queued and woken with
//! `token::HANDOFF` (the `set` is handed to it), and a wake-up can never outlive its `set` and reach a later
//! wait (which a "raise first, wake later" `set` would allow after a
//! `clear`). A woken waiter returns `true` from the token alone, never from
//! a re-check, so a `clear` right after `set` cannot make it miss the event
//! (Python's guarantee).

use crate::blocking::RawAcquire;
use crate::deadline;
use crate::park::{self, FilterOp, ParkResult, token};
use crate::sync::{AtomicU8, Ordering, loom_const_fn, spin_before_sleep};
use std::time::Instant;

/// The flag.
const SET_BIT: u8 = 0b01;
/// Threads may be parked on this event's key.
const PARKED_BIT: u8 = 0b10;

/// The state byte of an [`Event`](super::Event) and its transitions.
pub(crate) struct RawEvent {
    state: park::Watched<AtomicU8>,
}

impl RawEvent {
    loom_const_fn! {
        /// Not set.
        #[inline]
        pub(crate) fn new() -> RawEvent {
            RawEvent { state: park::watched(AtomicU8::new(0)) }
        }
    }

    /// Whether the flag is set. A `true` synchronises with the `set` that
    /// raised it.
    #[inline]
    pub(crate) fn is_set(&self) -> bool {
        // Acquire: pairs with the Release in `set`.
        self.state.load(Ordering::Acquire) & SET_BIT != 0
    }

    /// Raises the flag and wakes every waiter: one CAS with nobody waiting.
    #[inline]
    pub(crate) fn set(&self) {
        // Relaxed: only a guess for the CAS, which orders.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & PARKED_BIT != 0 {
                return self.set_slow();
            }
            // Release: publishes the setter's work to waiters and `is_set`
            // readers (pairs with their Acquire). A CAS rather than a
            // fetch_or, so that the flag is never raised outside the queue
            // lock while a waiter is queued (see `set_slow`).
            match self.state.compare_exchange_weak(
                state,
                state | SET_BIT,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(s) => state = s,
            }
        }
    }

    /// Lowers the flag.
    #[inline]
    pub(crate) fn clear(&self) {
        // Relaxed: lowering the flag publishes nothing; coherence of the one
        // byte is all a later `wait` needs.
        self.state.fetch_and(!SET_BIT, Ordering::Relaxed);
    }

    /// Whether threads wait, and the flag, from one load (for `Debug`).
    #[inline]
    pub(crate) fn snapshot(&self) -> (bool, bool) {
        // Relaxed: a snapshot that orders nothing.
        let state = self.state.load(Ordering::Relaxed);
        (state & SET_BIT != 0, state & PARKED_BIT != 0)
    }

    #[inline]
    fn key(&self) -> usize {
        park::key_of(&self.state)
    }

    #[cold]
    #[inline(never)]
    fn wait_slow(&self, deadline: Option<Instant>) -> bool {
        // Acquire: pairs with the Release in `set`, for the early return.
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & SET_BIT != 0 {
                return true;
            }
            if deadline::expired(deadline) {
                return false;
            }
            if state & PARKED_BIT == 0 {
                // Announce that we will park. Relaxed: the queue lock orders
                // it with `set`, which wakes under it.
                if let Err(s) = self.state.compare_exchange_weak(
                    state,
                    state | PARKED_BIT,
                    Ordering::Relaxed,
                    Ordering::Acquire,
                ) {
                    state = s;
                    continue;
                }
            }
            // Park only while the flag is down and PARKED_BIT up, so a `set`
            // is bound to see us. Relaxed (both): queue lock.
            let validate = || self.state.load(Ordering::Relaxed) == PARKED_BIT;
            let before_sleep = || self.before_sleep();
            let clear_mark = || _ = self.state.fetch_and(!PARKED_BIT, Ordering::Relaxed);
            let (key, token) = (self.key(), token::DEFAULT);
            let result =
                park::park_waiter(key, validate, before_sleep, clear_mark, token, deadline);
            match result {
                // Woken by `set`: true, whatever the flag is now. The wake-up
                // (through the queue lock) orders the setter's work first.
                ParkResult::Unparked(token::HANDOFF) => return true,
                // The timeout removed us before any `set` reached us.
                ParkResult::TimedOut => return false,
                ParkResult::Unparked(_) | ParkResult::Invalid => {}
            }
            // Acquire: pairs with the Release in `set`.
            state = self.state.load(Ordering::Acquire);
        }
    }

    /// A queued waiter's `before_sleep` (the spin point): spin a few µs
    /// before sleeping (where that can help: `sync::spin_before_sleep`). A
    /// `set` during the spin wakes us before we sleep, so `park` returns
    /// without a futex sleep (ping-pong, hand-over signals). Only reads;
    /// never spins under loom.
    #[inline]
    fn before_sleep(&self) {
        // Relaxed: a snapshot; the result comes from the token.
        spin_before_sleep(|| self.state.load(Ordering::Relaxed) & SET_BIT != 0);
    }

    /// `set` with waiters: raises the flag and wakes every queued waiter in
    /// one step under the queue lock. Waiters queued before it are woken
    /// with `token::HANDOFF`; a waiter validating after it sees the flag. So a
    /// wake-up can never be stale: it cannot reach a wait that began after
    /// this `set`'s flag was seen and cleared (which raising the flag first
    /// and waking later would allow).
    #[cold]
    #[inline(never)]
    fn set_slow(&self) {
        let filter = |_| FilterOp::Unpark;
        let callback = |_result| {
            // Every waiter is being woken: the queue is empty, so clear
            // PARKED_BIT with the raise. Release: publishes the setter's
            // work to the woken waiters and `is_set` readers (pairs with
            // their Acquire; the woken are also ordered by the unpark).
            let _ = self
                .state
                .fetch_update(Ordering::Release, Ordering::Relaxed, |s| {
                    Some((s | SET_BIT) & !PARKED_BIT)
                });
            token::HANDOFF
        };
        park::unpark_filter(self.key(), filter, callback);
    }
}

/// The waiting forms' core: "acquiring" an event is seeing it set.
impl RawAcquire for RawEvent {
    #[inline]
    fn try_acquire(&self) -> bool {
        self.is_set()
    }

    #[inline]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        self.wait_slow(deadline)
    }
}
