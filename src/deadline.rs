//! Overflow-safe conversion of timeouts into deadlines, and the crate's one
//! process-wide monotonic clock in nanoseconds (for state that must fit in
//! an atomic word: park tokens, the Gil's timestamps).
//!
//! `None` means "no deadline: wait forever". `Duration::MAX`, or any timeout
//! so large that `Instant::now() + timeout` would overflow, becomes `None`
//! instead of panicking.

use std::time::{Duration, Instant};

/// The deadline `timeout` from now, or `None` (forever) if it is not
/// representable.
#[inline]
pub(crate) fn after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Whether `deadline` has passed (never, for `None`).
///
/// Under loom: never. Time is the model's, and a timed park times out when
/// the model schedules it (see `crate::sync`), so no branch depends on the
/// wall clock.
#[inline]
pub(crate) fn expired(deadline: Option<Instant>) -> bool {
    match deadline {
        Some(t) => !cfg!(loom) && Instant::now() >= t,
        None => false,
    }
}

/// The earlier of two optional deadlines (`None` = never).
#[inline]
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The clock's epoch: the first time anyone asked.
pub(crate) fn epoch() -> Instant {
    use std::sync::OnceLock;
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since [`epoch`], never 0 (callers may use 0 for "unknown").
/// Unused under loom, where time is the model's.
#[cfg_attr(loom, allow(dead_code))]
#[inline]
pub(crate) fn now_ns() -> u64 {
    (epoch().elapsed().as_nanos().min(u128::from(u64::MAX - 1)) as u64).max(1)
}

/// The instant `ns` after [`epoch`], or `None` (never) if unrepresentable
/// or `u64::MAX`.
pub(crate) fn instant_at(ns: u64) -> Option<Instant> {
    if ns == u64::MAX {
        return None;
    }
    epoch().checked_add(Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_timeouts_mean_forever() {
        let _watchdog = crate::test_watchdog::watchdog();
        assert_eq!(after(Duration::MAX), None);
        assert_eq!(after(Duration::from_secs(u64::MAX)), None);
        assert!(!expired(None));
    }

    #[test]
    fn clock_round_trips() {
        let _watchdog = crate::test_watchdog::watchdog();
        let a = now_ns();
        let at = instant_at(a).unwrap();
        assert!(at <= Instant::now());
        assert!(now_ns() >= a);
        assert_eq!(instant_at(u64::MAX), None);
        assert_eq!(earliest(None, Some(at)), Some(at));
        assert_eq!(earliest(Some(at), None), Some(at));
        assert_eq!(earliest(None, None), None);
    }

    #[test]
    fn small_timeouts_are_deadlines() {
        let _watchdog = crate::test_watchdog::watchdog();
        let d = after(Duration::ZERO).expect("now + 0 is representable");
        assert!(expired(Some(d)));
        let later = after(Duration::from_secs(3600)).unwrap();
        assert!(!expired(Some(later)));
    }
}
