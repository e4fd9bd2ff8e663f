//! [`Deadline`]: when a blocking call gives up, with the crate's one timeout
//! rule; overflow-safe conversion of timeouts into instants; and the crate's
//! one process-wide monotonic clock in nanoseconds (for state that must fit
//! in an atomic word: park tokens, the Gil's timestamps).
//!
//! For the slow paths, `Option<Instant>`: `None` means "no deadline: wait
//! forever". `Duration::MAX`, or any timeout so large that
//! `Instant::now() + timeout` would overflow, becomes `None` instead of
//! panicking.

use std::time::{Duration, Instant};

/// When a blocking call gives up. Every public blocking form builds one
/// (see `crate::blocking`), so the rule lives here and nowhere else:
///
/// * `Duration::ZERO` is [`Now`](Deadline::Now), and so is (checked with
///   [`is_now`](Deadline::is_now)) an instant already past: **exactly one
///   non-blocking try**, no spinning, yielding or parking;
/// * `Duration::MAX`, or any timeout `Instant` cannot represent, is
///   [`Never`](Deadline::Never): wait forever, never panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// Wait as long as it takes.
    Never,
    /// Do not wait: one non-blocking try.
    Now,
    /// Wait at most this long (never zero: that is `Now`), counted from when
    /// the instant is first needed ([`instant`](Deadline::instant),
    /// [`fixed`](Deadline::fixed)): after the uncontended attempt failed, so
    /// a timed form that succeeds at once reads no clock.
    After(Duration),
    /// Wait until this instant at the latest (one already past: as `Now`).
    At(Instant),
}

impl Deadline {
    /// The deadline `timeout` from now (the clock is read when the instant
    /// is first needed: see [`After`](Deadline::After)).
    #[inline]
    pub(crate) fn after(timeout: Duration) -> Deadline {
        if timeout.is_zero() {
            Deadline::Now
        } else {
            Deadline::After(timeout)
        }
    }

    /// The same deadline with a relative timeout turned into its instant
    /// (from now), for a caller that waits more than once against it.
    #[inline]
    pub(crate) fn fixed(self) -> Deadline {
        match self {
            Deadline::After(d) => after(d).map_or(Deadline::Never, Deadline::At),
            other => other,
        }
    }

    /// Whether the call must not wait: `Now`, or an instant already past
    /// (one clock read; under loom never, as [`expired`] says).
    #[inline]
    pub(crate) fn is_now(self) -> bool {
        match self {
            Deadline::Never | Deadline::After(_) => false,
            Deadline::Now => true,
            Deadline::At(t) => expired(Some(t)),
        }
    }

    /// The instant a slow path waits until (`None`: forever). `Now` is the
    /// current instant: a slow path given it gives up at its first check.
    #[inline]
    pub(crate) fn instant(self) -> Option<Instant> {
        match self {
            Deadline::Never => None,
            Deadline::Now => Some(Instant::now()),
            Deadline::After(d) => after(d),
            Deadline::At(t) => Some(t),
        }
    }
}

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
    fn the_one_timeout_rule() {
        let _watchdog = crate::test_watchdog::watchdog();
        assert_eq!(Deadline::after(Duration::ZERO), Deadline::Now);
        // Duration::MAX: forever, whether asked for the instant or fixed.
        assert_eq!(Deadline::after(Duration::MAX).instant(), None);
        assert_eq!(Deadline::after(Duration::MAX).fixed(), Deadline::Never);
        assert!(Deadline::Now.is_now());
        assert!(!Deadline::Never.is_now());
        assert!(Deadline::At(Instant::now()).is_now());
        // A relative timeout reads no clock until its instant is needed.
        let later = Deadline::after(Duration::from_secs(3600));
        assert_eq!(later, Deadline::After(Duration::from_secs(3600)));
        assert!(!later.is_now());
        let before = Instant::now();
        let fixed = later.fixed();
        assert!(matches!(fixed, Deadline::At(t) if t >= before + Duration::from_secs(3600)));
        assert!(!fixed.is_now());
        assert_eq!(fixed.fixed(), fixed, "fixing is idempotent");
        assert_eq!(Deadline::Never.instant(), None);
        assert!(Deadline::Now.instant().is_some());
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
