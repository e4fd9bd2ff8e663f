//! # pysync
//!
//! Python's `threading` primitives for Rust, with Python's exact semantics,
//! built on futex-style parking (`parking_lot_core`), plus [`Gil`], a
//! GIL-style fair hand-off lock without CPython's convoy effect.
//!
//! ```
//! use pysync::{Event, Lock, Semaphore};
//! use std::sync::Arc;
//! use std::thread;
//!
//! let lock = Lock::new();
//! {
//!     let _held = lock.lock();
//!     assert!(lock.locked());
//! }
//! assert!(lock.release().is_err()); // Python: RuntimeError("release unlocked lock")
//!
//! let ready = Arc::new(Event::new());
//! let pool = Arc::new(Semaphore::new(2));
//! let workers: Vec<_> = (0..4)
//!     .map(|_| {
//!         let (ready, pool) = (ready.clone(), pool.clone());
//!         thread::spawn(move || {
//!             ready.wait();
//!             let _slot = pool.access(); // at most 2 at a time
//!         })
//!     })
//!     .collect();
//! ready.set();
//! for w in workers {
//!     w.join().unwrap();
//! }
//! assert_eq!(pool.available(), 2);
//! ```
//!
//! ## Python ↔ pysync ↔ std ↔ parking_lot
//!
//! | Python (`threading`) | pysync | std | parking_lot |
//! |---|---|---|---|
//! | `Lock` | [`Lock`], [`Mutex<T>`](Mutex) | `Mutex<()>` | `Mutex<()>`, `RawMutex` |
//! | `RLock` | [`RLock`], [`ReentrantMutex<T>`](ReentrantMutex) | — | `ReentrantMutex<T>` |
//! | `Semaphore` | [`Semaphore`] | — (hand-rolled `Mutex<usize>` + `Condvar`) | — |
//! | `BoundedSemaphore` | [`BoundedSemaphore`] | — | — |
//! | `Event` | [`Event`] | — (`Mutex<bool>` + `Condvar`) | — |
//! | `Condition` | [`Condition<L>`](Condition) | `Condvar` + `Mutex` | `Condvar` + `Mutex` |
//! | `Barrier` | [`Barrier`] | `Barrier` (no timeout, abort, reset, action) | — |
//! | the GIL (`ceval_gil.c`) | [`Gil`] | — | — |
//!
//! Across processes (Linux), Python's `multiprocessing` primitives:
//! `pysync::process` — the same primitives in shared memory, robust to a
//! process killed while it holds or waits on one.
//!
//! Every blocking call has four forms: blocking (`acquire`, `wait`), `try_`
//! (→ `bool`), `_timeout(Duration)` and `_until(Instant)`. `Duration::ZERO`
//! is a try; `Duration::MAX` (or any timeout too large for `Instant`) waits
//! forever and never panics.
//!
//! ## Semantics, and where pysync differs from CPython
//!
//! * **`Lock` is not owned**, exactly like Python's: any thread may release
//!   it, and releasing an unlocked `Lock` is [`Error::ReleaseUnlocked`]
//!   ("release unlocked lock"). Acquiring it twice from one thread blocks.
//!   It is one byte, and **eventually fair**: a waiter that has waited
//!   about a millisecond (counted from when it started waiting, however
//!   often it was woken and overtaken) gets the lock handed to it, so no
//!   thread starves under a tight acquire/release loop (CPython's PyMutex
//!   does the same; its semaphore-based `Lock` before 3.13 did not).
//! * **`RLock`** is owned: releasing it from a thread that does not own it is
//!   [`Error::NotOwned`] ("cannot release un-acquired lock").
//! * **No poisoning**: a panic while holding a guard releases the lock, like a
//!   Python exception leaving a `with` block.
//! * **`Semaphore` is FIFO**: a released permit goes to the longest waiter and
//!   a late arrival never barges past a parked waiter (CPython's `Semaphore`
//!   lets it, so a waiter can starve). A waiter whose timeout fires as a
//!   permit is handed to it keeps it: no permit is ever lost.
//! * **`Condition` never loses a notification**: a waiter that times out at
//!   the moment it is notified reports being notified (CPython's can drop
//!   it, gh-90968). `notify_all` moves the waiters onto the lock's queue
//!   instead of waking them all to fight for it. `wait_for` requires the lock
//!   even when the predicate is already true (CPython only checks when it
//!   has to wait).
//! * **`Barrier`**: a timeout that races the round's completion never breaks
//!   the barrier; `Barrier::new(0)` panics (use [`Barrier::try_new`] for an
//!   `Err`).
//! * **`Gil`** is scheduled by fair share (like Linux's CFS) instead of
//!   CPython's heuristics: every hand-off is direct (no barging) and goes to
//!   the waiter that has used the least GIL time; a thread returning from
//!   [`GilGuard::allow_threads`] (I/O) gets the GIL back at the holder's
//!   next `check` instead of after a whole switch interval (no convoy
//!   effect); and every waiter is served within a stated bound (no
//!   starvation).
//!
//! Misuse is a clear [`Error`], worded like Python's message, never UB, a
//! silent no-op or a hang.
//!
//! ## Destruction: free it as soon as the last call using it has returned
//!
//! A [`Lock`], [`RLock`], [`Mutex<T>`](Mutex),
//! [`ReentrantMutex<T>`](ReentrantMutex), [`Semaphore`],
//! [`BoundedSemaphore`] or [`Event`] may be freed as soon as the last call
//! using it has returned, even if that call was woken, or let in, by a call
//! on another thread that is still returning: the thread that acquires a
//! lock after a release, takes the permit a release provided, or is woken by
//! `set` may destroy the primitive at once. Safe Rust cannot get there (the
//! releasing thread still borrows the primitive), but bindings can: a Python
//! object collected by the acquirer, an FFI handle, an `Arc` whose last
//! clone the acquirer drops. POSIX makes the same promise for
//! `pthread_mutex_destroy` and `sem_destroy` (glibc bug 12674 was a
//! `sem_post` that broke it).
//!
//! It holds because the last access of a release, `set` or wake-up to the
//! primitive's memory is the step that lets the other thread finish: the
//! CAS that frees the lock or hands it over (under the queue lock when
//! threads wait), the CAS that adds a permit to the count or, with waiters,
//! the queue-locked step that hands it over, the queue-locked store that
//! raises the flag. Whatever follows (waking a thread, the fairness timers)
//! uses the primitive's address only as a number. The loom models check it:
//! under `cfg(loom)` touching a dropped primitive panics, and in the models
//! the last user frees the primitive (`tests/loom/lock.rs`, `rlock.rs`,
//! `semaphore.rs`, `event.rs`).
//!
//! ## Cargo features
//!
//! * `deadlock_detection`: `deadlock::check_deadlock` (a module built only
//!   with the feature, so not linked from here) reports cycles of
//!   threads blocked on each other's `Lock`s and `RLock`s, with backtraces.
//!   Zero cost when off.
#![warn(missing_docs, missing_debug_implementations)]

mod blocking;
mod deadline;
#[cfg(all(feature = "deadlock_detection", not(loom)))]
pub mod deadlock;
mod error;
mod park;
mod sync;

mod lock;
mod rlock;

mod barrier;
mod condition;
mod event;
mod gil;
mod semaphore;

// The primitives across processes, in shared memory (Linux only: the module
// is absent elsewhere, see its docs).
#[cfg(target_os = "linux")]
pub mod process;

/// The behaviour tests' watchdog, for the unit tests here too: each starts
/// with `let _watchdog = crate::test_watchdog::watchdog();` (checked by
/// `tests/meta.rs`).
#[cfg(test)]
#[path = "../tests/common/watchdog.rs"]
mod test_watchdog;

pub use error::Error;
pub use lock::{Lock, LockGuard};
#[cfg(not(loom))]
pub use lock::{Mutex, MutexGuard};
pub use rlock::{RLock, RLockGuard, RLockSaved, RawThreadId};
#[cfg(not(loom))]
pub use rlock::{ReentrantMutex, ReentrantMutexGuard};
#[cfg(loom)]
#[doc(hidden)]
pub use sync::loom_support;

pub use barrier::Barrier;
pub use condition::{Condition, ConditionGuard, ConditionLock};
pub use event::Event;
pub use gil::{Gil, GilGuard, GilStats};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreGuard};

#[cfg(not(loom))]
mod assertions {
    use super::*;
    use static_assertions::{assert_impl_all, assert_not_impl_any, const_assert};

    const_assert!(core::mem::size_of::<Lock>() == 1);
    const_assert!(core::mem::size_of::<RLock>() <= 16);
    assert_impl_all!(Lock: Send, Sync, Default, core::fmt::Debug);
    assert_impl_all!(RLock: Send, Sync, Default, core::fmt::Debug);
    assert_impl_all!(LockGuard<'static>: Send, Sync);
    assert_not_impl_any!(RLockGuard<'static>: Send);
    assert_impl_all!(Error: std::error::Error, Send, Sync, Copy);
}
