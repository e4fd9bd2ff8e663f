//! Overflow-safe conversion of timeouts into deadlines.
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
#[inline]
pub(crate) fn expired(deadline: Option<Instant>) -> bool {
    match deadline {
        Some(t) => Instant::now() >= t,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_timeouts_mean_forever() {
        assert_eq!(after(Duration::MAX), None);
        assert_eq!(after(Duration::from_secs(u64::MAX)), None);
        assert!(!expired(None));
    }

    #[test]
    fn small_timeouts_are_deadlines() {
        let d = after(Duration::ZERO).expect("now + 0 is representable");
        assert!(expired(Some(d)));
        let later = after(Duration::from_secs(3600)).unwrap();
        assert!(!expired(Some(later)));
    }
}
