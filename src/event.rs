//! [`Event`]: Python's `threading.Event`, in one byte.
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
//! `TOKEN_SET`, and a wake-up can never outlive its `set` and reach a later
//! wait (which a "raise first, wake later" `set` would allow after a
//! `clear`). A woken waiter returns `true` from the token alone, never from
//! a re-check, so a `clear` right after `set` cannot make it miss the event
//! (Python's guarantee).

use crate::deadline;
use crate::park::{self, DEFAULT_PARK_TOKEN, FilterOp, ParkResult, UnparkToken};
use crate::sync::{AtomicU8, Ordering, loom_const_fn, spin_before_sleep};
use core::fmt;
use std::time::{Duration, Instant};

/// The flag.
const SET_BIT: u8 = 0b01;
/// Threads may be parked on this event's key.
const PARKED_BIT: u8 = 0b10;

/// Unpark token: the event was set while this thread waited.
const TOKEN_SET: UnparkToken = UnparkToken(1);

/// A flag threads can wait for, with Python's `threading.Event` semantics.
///
/// * [`set`](Event::set) raises the flag and wakes **every** waiter;
///   [`clear`](Event::clear) lowers it; [`wait`](Event::wait) blocks until it
///   is raised.
/// * A waiter woken by `set` returns `true` even if `clear` follows at once
///   (Python's guarantee): it never re-checks the flag after waking.
/// * One byte. `wait` on a set event is one load; `set` with nobody waiting
///   is one RMW and makes no parking call.
/// * May be freed as soon as the last call using it has returned: a waiter
///   woken by `set` may destroy it while `set` is still returning (`set`'s
///   last access is the store that raises the flag; see the crate docs).
///
/// | Python                       | pysync                               |
/// |------------------------------|--------------------------------------|
/// | `Event()`                    | [`new`](Event::new)                  |
/// | `ev.set()` / `ev.clear()`    | [`set`](Event::set) / [`clear`](Event::clear) |
/// | `ev.is_set()`                | [`is_set`](Event::is_set)            |
/// | `ev.wait()`                  | [`wait`](Event::wait)                |
/// | `ev.wait(timeout=t)`         | [`wait_timeout`](Event::wait_timeout)|
///
/// ```
/// use pysync::Event;
/// use std::thread;
///
/// let ready = Event::new();
/// thread::scope(|s| {
///     s.spawn(|| {
///         ready.wait();
///         assert!(ready.is_set());
///     });
///     ready.set();
/// });
/// ```
pub struct Event {
    state: park::Watched<AtomicU8>,
}

impl Event {
    loom_const_fn! {
        /// A new event, not set (Python's `Event()`).
        ///
        /// ```
        /// static READY: pysync::Event = pysync::Event::new();
        /// assert!(!READY.is_set());
        /// ```
        #[must_use]
        #[inline]
        pub fn new() -> Event {
            Event { state: park::watched(AtomicU8::new(0)) }
        }
    }

    /// Whether the flag is set (Python's `is_set()`).
    ///
    /// A `true` synchronises with the `set` that raised it: what the setter
    /// did before `set` is visible after.
    ///
    /// ```
    /// let ev = pysync::Event::new();
    /// assert!(!ev.is_set());
    /// ev.set();
    /// assert!(ev.is_set());
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        // Acquire: pairs with the Release in `set`.
        self.state.load(Ordering::Acquire) & SET_BIT != 0
    }

    /// Raises the flag and wakes every waiter (Python's `set()`).
    ///
    /// ```
    /// let ev = pysync::Event::new();
    /// ev.set();
    /// ev.set(); // idempotent
    /// assert!(ev.is_set());
    /// ```
    #[inline]
    pub fn set(&self) {
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

    /// Lowers the flag (Python's `clear()`). Threads already woken by a
    /// `set` still return `true`.
    ///
    /// ```
    /// let ev = pysync::Event::new();
    /// ev.set();
    /// ev.clear();
    /// assert!(!ev.is_set());
    /// ```
    #[inline]
    pub fn clear(&self) {
        // Relaxed: lowering the flag publishes nothing; coherence of the one
        // byte is all a later `wait` needs.
        self.state.fetch_and(!SET_BIT, Ordering::Relaxed);
    }

    /// Blocks until the flag is set (Python's `wait()`). Returns at once if
    /// it is already set (one load).
    ///
    /// ```
    /// let ev = pysync::Event::new();
    /// ev.set();
    /// ev.wait();
    /// ```
    #[inline]
    pub fn wait(&self) {
        if !self.is_set() {
            self.wait_slow(None);
        }
    }

    /// Returns `true` if the flag is set now, without blocking.
    ///
    /// ```
    /// let ev = pysync::Event::new();
    /// assert!(!ev.try_wait());
    /// ev.set();
    /// assert!(ev.try_wait());
    /// ```
    #[inline]
    pub fn try_wait(&self) -> bool {
        self.is_set()
    }

    /// Waits at most `timeout` for the flag (Python's `wait(timeout=t)`):
    /// `true` if it was set (or a `set` woke us), `false` on timeout.
    /// `Duration::ZERO` is a check; `Duration::MAX` waits forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let ev = pysync::Event::new();
    /// assert!(!ev.wait_timeout(Duration::from_millis(5)));
    /// ev.set();
    /// assert!(ev.wait_timeout(Duration::from_millis(5)));
    /// ```
    #[inline]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.is_set() || self.wait_slow(deadline::after(timeout))
    }

    /// Waits until `deadline` for the flag; a deadline in the past is a
    /// check.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let ev = pysync::Event::new();
    /// assert!(!ev.wait_until(Instant::now() + Duration::from_millis(5)));
    /// ```
    #[inline]
    pub fn wait_until(&self, deadline: Instant) -> bool {
        self.is_set() || self.wait_slow(Some(deadline))
    }

    // ----- internals -------------------------------------------------------

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
            let result = park::park(
                self.key(),
                // Under the queue lock: park only while the flag is down and
                // PARKED_BIT up, so a `set` is bound to see us. Relaxed: the
                // queue lock orders it with `set`'s wake-up.
                || self.state.load(Ordering::Relaxed) == PARKED_BIT,
                // Already queued: spin a few µs before sleeping (where that
                // can help: `sync::spin_before_sleep`). A `set` during the
                // spin wakes us before we sleep, so `park` returns without a
                // futex sleep (ping-pong, hand-over signals). Only reads;
                // never spins under loom.
                || {
                    // Relaxed: a snapshot; the result comes from the token.
                    spin_before_sleep(|| self.state.load(Ordering::Relaxed) & SET_BIT != 0);
                },
                |_key, was_last| {
                    if was_last {
                        // Relaxed: under the queue lock; it orders no data.
                        self.state.fetch_and(!PARKED_BIT, Ordering::Relaxed);
                    }
                },
                DEFAULT_PARK_TOKEN,
                deadline,
            );
            match result {
                // Woken by `set`: true, whatever the flag is now. The wake-up
                // (through the queue lock) orders the setter's work first.
                ParkResult::Unparked(TOKEN_SET) => return true,
                // The timeout removed us before any `set` reached us.
                ParkResult::TimedOut => return false,
                ParkResult::Unparked(_) | ParkResult::Invalid => {}
            }
            // Acquire: pairs with the Release in `set`.
            state = self.state.load(Ordering::Acquire);
        }
    }

    /// `set` with waiters: raises the flag and wakes every queued waiter in
    /// one step under the queue lock. Waiters queued before it are woken
    /// with `TOKEN_SET`; a waiter validating after it sees the flag. So a
    /// wake-up can never be stale: it cannot reach a wait that began after
    /// this `set`'s flag was seen and cleared (which raising the flag first
    /// and waking later would allow).
    #[cold]
    #[inline(never)]
    fn set_slow(&self) {
        park::unpark_filter(
            self.key(),
            |_| FilterOp::Unpark,
            |_result| {
                // Under the queue lock, every waiter is being woken: the
                // queue is empty, so clear PARKED_BIT with the raise.
                // Release: publishes the setter's work to the woken waiters
                // and `is_set` readers (pairs with their Acquire; the woken
                // are also ordered by the unpark itself).
                let _ = self
                    .state
                    .fetch_update(Ordering::Release, Ordering::Relaxed, |s| {
                        Some((s | SET_BIT) & !PARKED_BIT)
                    });
                TOKEN_SET
            },
        );
    }
}

impl Default for Event {
    /// A new event, not set.
    ///
    /// ```
    /// assert!(!pysync::Event::default().is_set());
    /// ```
    fn default() -> Event {
        Event::new()
    }
}

impl fmt::Debug for Event {
    /// Shows whether the flag is set and whether threads wait, with one load.
    ///
    /// ```
    /// let ev = pysync::Event::new();
    /// ev.set();
    /// assert_eq!(format!("{ev:?}"), "Event { set: true, waiters: false }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Relaxed: a snapshot.
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("Event")
            .field("set", &(state & SET_BIT != 0))
            .field("waiters", &(state & PARKED_BIT != 0))
            .finish()
    }
}

#[cfg(not(loom))]
mod assertions {
    use super::*;
    use static_assertions::{assert_impl_all, const_assert};

    const_assert!(core::mem::size_of::<Event>() == 1);
    assert_impl_all!(Event: Send, Sync, Default, fmt::Debug);
}
