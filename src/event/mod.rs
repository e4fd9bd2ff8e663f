//! [`Event`]: Python's `threading.Event`, in one byte: the public API over
//! [`raw::RawEvent`] (the state byte, its table, the waits and `set`'s slow
//! path).

mod raw;

use crate::blocking;
use crate::sync::loom_const_fn;
use core::fmt;
use raw::RawEvent;

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
    raw: RawEvent,
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
            Event { raw: RawEvent::new() }
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
        self.raw.is_set()
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
        self.raw.set();
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
        self.raw.clear();
    }

    blocking::event_forms!("ev" = "pysync::Event::new()"; |e| &e.raw);
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
        let (set, waiters) = self.raw.snapshot();
        f.debug_struct("Event")
            .field("set", &set)
            .field("waiters", &waiters)
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
