//! The one place atomics, thread ids and spinning come from.
//!
//! Under `cfg(loom)` everything here is loom's model; otherwise it is
//! `core`/`std`. Primitives import from here and nowhere else, so a loom build
//! sees every synchronising operation.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Defines a `const fn` normally and a plain `fn` under loom (loom's atomics
/// have no `const` constructors).
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        #[cfg(not(loom))]
        $(#[$attr])*
        $vis const fn $name($($arg: $ty),*) -> $ret $body
        #[cfg(loom)]
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use loom_const_fn;

/// A non-zero id for the calling thread, unique among live threads.
///
/// It is the address of a thread-local byte: no allocation, no syscall, one
/// TLS access. An id may be reused by a thread started after this one exits
/// (like Python's `threading.get_ident()`).
#[inline]
pub(crate) fn thread_id() -> usize {
    #[cfg(not(loom))]
    std::thread_local!(static ID: u8 = const { 0 });
    #[cfg(loom)]
    loom::thread_local!(static ID: u8 = 0);
    ID.with(|b| b as *const u8 as usize)
}

/// Bounded spin-then-park backoff (`parking_lot_core::SpinWait`).
///
/// Under loom spinning is pointless (and would only multiply the explored
/// interleavings), so `spin` always says "stop spinning, park".
#[derive(Default)]
pub(crate) struct SpinWait {
    #[cfg(not(loom))]
    inner: parking_lot_core::SpinWait,
}

impl SpinWait {
    #[inline]
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Spins a little; returns `false` once spinning should give way to parking.
    #[inline]
    pub(crate) fn spin(&mut self) -> bool {
        #[cfg(not(loom))]
        {
            self.inner.spin()
        }
        #[cfg(loom)]
        {
            false
        }
    }
}
