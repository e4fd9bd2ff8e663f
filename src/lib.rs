//! # pysync
//!
//! Python's `threading` primitives for Rust, with Python's exact semantics,
//! built on futex-style parking (`parking_lot_core`), plus [`Gil`], a
//! GIL-style fair hand-off lock without CPython's convoy effect.
//!
//! | Python (`threading`) | pysync              | std                 | parking_lot            |
//! |----------------------|---------------------|---------------------|------------------------|
//! | `Lock`               | [`Lock`], [`Mutex`] | `Mutex<()>`         | `Mutex<()>`, `RawMutex`|
//! | `RLock`              | [`RLock`], [`ReentrantMutex`] | —         | `ReentrantMutex`       |
//!
//! ```
//! use pysync::Lock;
//! let lock = Lock::new();
//! {
//!     let _held = lock.lock();
//!     assert!(lock.locked());
//! }
//! assert!(lock.release().is_err()); // Python: RuntimeError("release unlocked lock")
//! ```
#![warn(missing_docs, missing_debug_implementations)]
// TEMPORARY while the primitives that use the whole seam are being written.
#![allow(dead_code)]

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

pub use error::Error;
pub use lock::{Lock, LockGuard};
#[cfg(not(loom))]
pub use lock::{Mutex, MutexGuard};
pub use rlock::{RLock, RLockGuard, RLockSaved, RawThreadId};
#[cfg(not(loom))]
pub use rlock::{ReentrantMutex, ReentrantMutexGuard};

#[allow(unused_imports)]
pub use barrier::*;
#[allow(unused_imports)]
pub use condition::*;
#[allow(unused_imports)]
pub use event::*;
#[allow(unused_imports)]
pub use gil::*;
#[allow(unused_imports)]
pub use semaphore::*;

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
