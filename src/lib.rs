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
//! | `Condition` | [`Condition<L>`](Condition) (bound to a lock, Python's API), [`Condvar`] (waits with a [`MutexGuard`], Rust's API) | `Condvar` + `Mutex` | `Condvar` + `Mutex` |
//! | `Barrier` | [`Barrier`] | `Barrier` (no timeout, abort, reset, action) | — |
//! | the GIL (`ceval_gil.c`) | [`Gil`] | — | — |
//!
//! Across processes (Linux), Python's `multiprocessing` primitives:
//! `pysync::process` — the same primitives in shared memory, robust to a
//! process killed while it holds or waits on one.
//!
//! ## One naming scheme
//!
//! * **Python's verbs return `bool` or `()`**: `acquire`, `release`,
//!   `wait`, `notify`, `set`, `clear`, as in Python; the lock is then held
//!   until a matching `release`, on any scope or thread.
//! * **Rust's verbs return a guard**: `lock` ([`Lock`], [`RLock`],
//!   [`Mutex<T>`](Mutex), [`Condition`]) and `access` (the semaphores), which
//!   give back on drop. ([`Gil::acquire`] returns a guard too: a GIL is only
//!   ever held for a scope.)
//! * **Owned guards** add `_arc` and are called on an `Arc` of the
//!   primitive (`lock_arc`, `access_arc`), lock_api's name for
//!   [`Mutex::lock_arc`](lock_api::Mutex::lock_arc); the guard holds the
//!   `Arc`, so it can move into `thread::spawn`.
//! * **Waiting forms**: blocking (no suffix), `try_` (no waiting),
//!   `_timeout(Duration)`, `_until(Instant)`, for every acquire and every
//!   guard form. A condition's predicate waits are `wait_for` on
//!   [`Condition`] (Python's name: wait *until* true) and `wait_while` on
//!   [`Condvar`] (std's: wait *while* true).
//!
//! | Python | pysync | std | parking_lot |
//! |---|---|---|---|
//! | `lock.acquire()` / `release()` | [`Lock::acquire`] / [`Lock::release`] | — | `RawMutex::lock` / `unlock` |
//! | `lock.acquire(False)` | [`Lock::try_acquire`] → `bool` | — | `RawMutex::try_lock` |
//! | `lock.acquire(timeout=t)` | [`Lock::acquire_timeout`], [`Lock::acquire_until`] → `bool` | — | `RawMutexTimed::try_lock_for` / `_until` |
//! | `with lock:` | [`Lock::lock`] → [`LockGuard`]; [`Mutex::lock`](lock_api::Mutex::lock) → [`MutexGuard`] | `Mutex::lock` | `Mutex::lock` |
//! | `lock.acquire(False)` in `with` | [`Lock::try_lock`], `Mutex::try_lock` → `Option<guard>` | `Mutex::try_lock` | `Mutex::try_lock` |
//! | `lock.acquire(timeout=t)` in `with` | [`Lock::lock_timeout`], [`MutexExt::lock_timeout`] (and `_until`) → `Option<guard>` | — | `Mutex::try_lock_for` / `_until` (also work here) |
//! | — | [`Lock::lock_arc`] → [`ArcLockGuard`]; [`Mutex::lock_arc`](lock_api::Mutex::lock_arc) → [`ArcMutexGuard`] | — | `Mutex::lock_arc` |
//! | — | [`MutexGuard::map`](lock_api::MutexGuard::map) → [`MappedMutexGuard`] | `MutexGuard::map` (unstable) | `MutexGuard::map` |
//! | `with sem:` | [`Semaphore::access`] → [`SemaphoreGuard`]; [`Semaphore::access_arc`] → [`ArcSemaphoreGuard`] | — | — |
//! | `cond.wait()`, `cond.wait(t)` | [`Condition::wait`], [`Condition::wait_timeout`] → `Result`; [`Condvar::wait`], [`Condvar::wait_timeout`] (infallible) | `Condvar::wait`, `wait_timeout` | `Condvar::wait`, `wait_for` |
//! | `cond.wait_for(pred, t)` | [`Condition::wait_for_timeout`]; [`Condvar::wait_timeout_while`] (negated) | `Condvar::wait_timeout_while` | `Condvar::wait_while_for` |
//! | `cond.notify(n)`, `notify_all()` | [`Condition::notify`] / [`Condvar::notify`], `notify_all` | `notify_one`, `notify_all` | `notify_one`, `notify_all` |
//! | `event.wait(t)` | [`Event::wait_timeout`] → `bool` | — | — |
//! | `barrier.wait(t)` | [`Barrier::wait_timeout`] → `Result<usize, _>` | `Barrier::wait` (no timeout) | — |
//!
//! Every blocking call has a blocking form and a `_timeout(Duration)` and
//! an `_until(Instant)` one; what is acquired also has a `try_` form (→
//! `bool`, or `Option<guard>`). `Duration::ZERO` is a try; `Duration::MAX`
//! (or any timeout too large for `Instant`) waits forever and never panics.
//! What the timed forms return depends on what the call reports: `bool`
//! for an acquire or an event's wait, `Result<bool, _>` for a
//! [`Condition`]'s wait (its lock may not be held), [`WaitTimeoutResult`]
//! for a [`Condvar`]'s, `Result<usize, _>` for a [`Barrier`]'s (the
//! arrival index, or broken).
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
//!   Python exception leaving a `with` block (see [No poisoning](#no-poisoning)).
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
//! silent no-op or a hang. Where the type system already proves the lock is
//! held ([`Condvar`] waits with the guard), there is no `Result` at all.
//!
//! ## No poisoning
//!
//! Python has no poisoning and neither has pysync: a panic that unwinds
//! through a guard releases the lock, and the next thread to take it gets
//! it normally (std's `Mutex` would return `Err(PoisonError)` from then
//! on). So **the data may be half-updated**: a panic between two writes
//! that must go together (move an item from one list to another, update a
//! total and its parts) leaves the first done and the second not, and
//! nothing tells the next holder. Guard drops never panic themselves (a
//! second panic during unwinding would abort), see [`SemaphoreGuard`].
//!
//! Code that must know keeps its own flag, set while the invariant is
//! broken, inside the data:
//!
//! ```
//! use pysync::Mutex;
//! use std::panic::{AssertUnwindSafe, catch_unwind};
//!
//! struct Accounts {
//!     a: i64,
//!     b: i64,
//!     /// Set while a transfer is half done; still set if it panicked.
//!     poisoned: bool,
//! }
//!
//! fn transfer(m: &Mutex<Accounts>, amount: i64, fail: bool) -> Result<(), &'static str> {
//!     let mut acc = m.lock();
//!     if acc.poisoned {
//!         return Err("a previous transfer panicked half-way");
//!     }
//!     acc.poisoned = true;
//!     acc.a -= amount;
//!     if fail {
//!         panic!("lost the connection half-way");
//!     }
//!     acc.b += amount;
//!     acc.poisoned = false;
//!     Ok(())
//! }
//!
//! let m = Mutex::new(Accounts { a: 100, b: 0, poisoned: false });
//! transfer(&m, 10, false).unwrap();
//! let r = catch_unwind(AssertUnwindSafe(|| transfer(&m, 10, true)));
//! assert!(r.is_err());
//! assert!(!m.is_locked()); // the panic released the lock...
//! let acc = m.lock();
//! assert_eq!(acc.a + acc.b, 90); // ...over half-updated data: 10 lost
//! drop(acc);
//! assert_eq!(transfer(&m, 10, false), Err("a previous transfer panicked half-way"));
//! ```
//!
//! (A guard wrapper that sets the flag in its constructor and clears it in
//! a `finish(self)` method, checking `std::thread::panicking()` in `Drop`,
//! does the same without remembering to clear it by hand.)
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
#![cfg_attr(
    all(feature = "deadlock_detection", not(loom)),
    doc = "* `deadlock_detection`: [`deadlock::check_deadlock`] reports cycles of"
)]
#![cfg_attr(
    not(all(feature = "deadlock_detection", not(loom))),
    doc = "* `deadlock_detection`: `deadlock::check_deadlock` reports cycles of"
)]
//!   threads blocked on each other's `Lock`s and `RLock`s, with backtraces.
//!   Zero cost when off. (On docs.rs, built with every feature, the
//!   `deadlock` module is marked "Available on crate feature
//!   `deadlock_detection` only".)
//!
//! ## Using it
//!
//! ```toml
//! [dependencies]
//! pysync = "0.1"
//! ```
//!
//! Minimum Rust: 1.95 (edition 2024).
#![warn(missing_docs, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod blocking;
mod deadline;
#[cfg(all(feature = "deadlock_detection", not(loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "deadlock_detection")))]
pub mod deadlock;
mod error;
mod park;
mod sync;

mod lock;
mod rlock;

mod barrier;
mod condition;
mod condvar;
mod event;
mod gil;
#[cfg(not(loom))]
mod mutex_ext;
mod owned;
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
#[cfg(not(loom))]
pub use lock::{ArcMutexGuard, MappedMutexGuard, Mutex, MutexGuard};
pub use lock::{Lock, LockGuard};
pub use rlock::{RLock, RLockGuard, RLockSaved, RawThreadId};
#[cfg(not(loom))]
pub use rlock::{ReentrantMutex, ReentrantMutexGuard};
#[cfg(loom)]
#[doc(hidden)]
pub use sync::loom_support;

pub use barrier::Barrier;
pub use condition::{Condition, ConditionGuard, ConditionLock};
pub use condvar::{Condvar, CondvarGuard, WaitTimeoutResult};
pub use event::Event;
pub use gil::{Gil, GilGuard, GilStats};
#[cfg(not(loom))]
pub use mutex_ext::MutexExt;
pub use owned::{ArcLockGuard, ArcRLockGuard, ArcSemaphoreGuard};
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

/// The README's code samples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
