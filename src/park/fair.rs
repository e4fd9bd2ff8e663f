//! Fairness clock: when a waiter becomes owed a direct hand-off, carried in
//! its park token, and the test of whether that moment has passed.
//!
//! A waiter's [`Deadline`] is fixed when it *starts* waiting (its first
//! yield or park of this acquisition: a `Lock` contender spinning for
//! throughput yields before it parks, one spinning for a hand-off never
//! yields; see `lock::raw`) and reused on every re-park after a wake-up it
//! lost, so it comes due however often it is woken and overtaken.
//!
//! # Tokens and wrap-around (32-bit targets)
//! A park token is a `usize`. It carries the deadline in ticks of 1024 ns
//! (about 1 µs; plenty for a ~1 ms deadline), truncated to `usize` and
//! compared with wrapping arithmetic: due when `now - deadline` (mod
//! 2^BITS) is below 2^(BITS-1). On 64-bit targets that never wraps (2^63
//! ticks are ~300 000 years). On 32-bit targets it wraps every 2^32 ticks
//! (~73 min), and a deadline more than 2^31 ticks (~36 min) past would read
//! as "not due yet". That cannot starve anyone: the waiter keeps its
//! deadline at full width (`u64` nanoseconds) and, every time it parks,
//! compares it with the clock itself; once it is past, it parks with the
//! [`OVERDUE`] token, which is due whatever the clock says. So a waiter
//! parked for more than ~36 min without being woken at all may be passed
//! over once (a plain wake-up instead of the hand-off), and is owed the lock
//! at the very next release after it re-parks.

use super::ParkToken;

/// The token of a waiter whose deadline has already passed: always due.
#[cfg(not(loom))]
const OVERDUE: ParkToken = ParkToken(usize::MAX);

/// How many nanoseconds one token tick is: `ns >> TICK_SHIFT` ticks.
#[cfg(not(loom))]
const TICK_SHIFT: u32 = 10;

/// When a waiter becomes owed a direct hand-off: a randomised
/// 0.5–1.5 ms after it started waiting (WebKit randomises, CPython uses
/// 1 ms). Taken once per acquisition, at the first yield or park.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    /// Nanoseconds on the crate's clock (`deadline::now_ns`).
    #[cfg(not(loom))]
    at_ns: u64,
}

impl Deadline {
    /// A waiter starts waiting now.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn start() -> Deadline {
        #[cfg(test)]
        if testing::FAR.get() {
            // 2^40 ns (~18 min) ahead: far beyond any test, and, unlike
            // `u64::MAX / 2`, also ahead in the tokens' 32-bit ticks on
            // 32-bit targets (2^30 ticks ahead, within the 2^31 the
            // wrapping comparison reads as "not yet"; `u64::MAX / 2`
            // truncated to tick 0 there, which read as due).
            return Deadline {
                at_ns: now_ns().saturating_add(1 << 40),
            };
        }
        #[cfg(test)]
        if testing::OVERDUE.get() {
            return Deadline { at_ns: 0 };
        }
        Deadline {
            at_ns: deadline_from(now_ns()),
        }
    }

    /// The park token for this waiter's next park: the deadline in
    /// ticks, or [`OVERDUE`] once it has passed (see the module docs).
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn token(self) -> ParkToken {
        if self.passed() {
            OVERDUE
        } else {
            ParkToken(ticks(self.at_ns).min(OVERDUE.0 - 1))
        }
    }

    /// [`token`](Deadline::token) for a deadline just returned by
    /// [`start`](Deadline::start): at least 0.5 ms away, so not passed, and
    /// one clock read fewer (a condition wait and a first park read the
    /// clock once, not twice: 2 of the 6 reads of a condition ping-pong's
    /// round trip, on a VM ~25 ns each).
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn fresh_token(self) -> ParkToken {
        ParkToken(ticks(self.at_ns).min(OVERDUE.0 - 1))
    }

    /// Whether the deadline has passed (full width: never wraps).
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn passed(self) -> bool {
        now_ns() >= self.at_ns
    }

    /// Under loom there is no time: whether a deadline is due is the
    /// model's choice (see [`hand_off_due`]).
    #[cfg(loom)]
    pub(crate) fn start() -> Deadline {
        Deadline {}
    }

    #[cfg(loom)]
    pub(crate) fn token(self) -> ParkToken {
        ParkToken(usize::MAX)
    }

    #[cfg(loom)]
    pub(crate) fn fresh_token(self) -> ParkToken {
        self.token()
    }

    /// Under loom nothing spins, so nothing asks.
    #[cfg(loom)]
    pub(crate) fn passed(self) -> bool {
        false
    }
}

/// Unit tests only: deadlines that do not come within a test on the calling thread, for a
/// test of what a waiter does before it is owed the lock that a slow
/// machine must not cut short.
#[cfg(all(test, not(loom)))]
pub(crate) mod testing {
    use std::cell::Cell;

    std::thread_local!(pub(super) static FAR: Cell<bool> = const { Cell::new(false) });
    std::thread_local!(pub(super) static OVERDUE: Cell<bool> = const { Cell::new(false) });
    std::thread_local!(pub(super) static HANDED_OFF: Cell<usize> = const { Cell::new(0) });

    /// From now on the calling thread's fairness deadlines do not pass
    /// within a test (they are ~18 minutes away).
    pub(crate) fn far_deadlines_on_this_thread() {
        FAR.set(true);
    }

    /// From now on the calling thread's fairness deadlines have passed
    /// when it starts waiting: it is owed the lock at once.
    pub(crate) fn overdue_deadlines_on_this_thread() {
        OVERDUE.set(true);
    }

    /// How many fairness hand-offs releases on the calling thread have
    /// made so far (per thread: other tests' releases do not count).
    pub(crate) fn hand_offs_on_this_thread() -> usize {
        HANDED_OFF.get()
    }

    /// Forgets a recent hand-off at `key` (an earlier primitive at the same
    /// address may have made one), so its next release may hand off.
    pub(crate) fn forget_hand_offs(key: usize) {
        let timer = super::timer(key);
        // Relaxed: as every access to the timers, a heuristic that orders
        // nothing; the test calls this before any thread uses `key`.
        if timer.key.load(super::Ordering::Relaxed) == key {
            timer.key.store(0, super::Ordering::Relaxed);
        }
    }
}

/// A park token for a waiter that starts waiting now and parks once
/// (e.g. a condition waiter): `Deadline::start().fresh_token()`.
#[inline]
pub(crate) fn token() -> ParkToken {
    Deadline::start().fresh_token()
}

/// Whether a release should hand the primitive at `key` to the waiter
/// whose park token is `token`: the waiter's fairness deadline has
/// passed, and so has the key's fairness timer (so hand-offs happen at
/// most about once per ms per key). One clock read.
#[cfg(not(loom))]
#[inline]
pub(crate) fn hand_off_due(key: usize, token: ParkToken) -> bool {
    let now = now_ns();
    if !tick_due(ticks(now), token) {
        return false;
    }
    let timer = timer(key);
    // Relaxed: a heuristic clock reading; it orders nothing. A timer
    // last set for another key (a slot collision) says nothing about
    // this one: due.
    timer.key.load(Ordering::Relaxed) != key || now >= timer.due_ns.load(Ordering::Relaxed)
}

/// Whether a waiter whose token is `token` is due at tick `now`:
/// wrapping comparison (see the module docs).
#[cfg(not(loom))]
#[inline]
fn tick_due(now: usize, token: ParkToken) -> bool {
    token == OVERDUE || now.wrapping_sub(token.0) <= usize::MAX >> 1
}

/// `ns` in ticks, truncated to `usize` (wraps on 32-bit targets).
#[cfg(not(loom))]
#[inline]
fn ticks(ns: u64) -> usize {
    (ns >> TICK_SHIFT) as usize
}

/// Records a hand-off at `key`: its timer is next due ~1 ms from now.
#[cfg(not(loom))]
#[inline]
pub(crate) fn handed_off(key: usize) {
    #[cfg(test)]
    testing::HANDED_OFF.set(testing::HANDED_OFF.get() + 1);
    let timer = timer(key);
    // Relaxed: as above.
    timer
        .due_ns
        .store(deadline_from(now_ns()), Ordering::Relaxed);
    timer.key.store(key, Ordering::Relaxed);
}

#[cfg(not(loom))]
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A fairness timer: when the key that last handed off may hand off
/// again. Full-width nanoseconds, so it never wraps, on any target.
#[cfg(not(loom))]
struct Timer {
    /// The key whose hand-off set `due_ns`.
    key: AtomicUsize,
    /// When that key may hand off again.
    due_ns: AtomicU64,
}

/// Fairness timers, shared by address hash and tagged with the key that
/// set them, so a collision can only make hand-offs more frequent: a
/// busy primitive in the same slot can never hold back another's
/// hand-offs (it overwrites the tag, and a timer tagged with another key
/// is due). The two fields are read and written separately: a torn pair
/// delays a hand-off by at most one timer period, or allows one early.
#[cfg(not(loom))]
fn timer(key: usize) -> &'static Timer {
    use crossbeam_utils::CachePadded;
    const SLOTS: usize = 64;
    static TIMERS: [CachePadded<Timer>; SLOTS] = [const {
        CachePadded::new(Timer {
            key: AtomicUsize::new(0),
            due_ns: AtomicU64::new(0),
        })
    }; SLOTS];
    &TIMERS[slot(key, SLOTS)]
}

/// `key`'s slot among `slots` (a power of two up to 2^32): a 64-bit
/// multiplicative (Fibonacci) hash, the same on 32- and 64-bit targets.
#[cfg(not(loom))]
fn slot(key: usize, slots: usize) -> usize {
    let hash = (key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (hash >> (64 - slots.trailing_zeros())) as usize
}

/// `now` plus 0.5–1.5 ms of jitter from the clock's low bits (a
/// multiplicative hash: it only needs to avoid lock-step, not to be
/// random).
#[cfg(not(loom))]
fn deadline_from(now: u64) -> u64 {
    let jitter = (now.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 44) % 1_000_000;
    now + 500_000 + jitter
}

#[cfg(not(loom))]
use crate::deadline::now_ns;

/// Under loom there is no clock: whether the deadline is due is one of
/// the model's choices (`crate::sync::choice`), so the models explore
/// both the plain wake-up and the hand-off at every slow release.
#[cfg(loom)]
pub(crate) fn hand_off_due(_key: usize, _token: ParkToken) -> bool {
    crate::sync::choice()
}

#[cfg(loom)]
pub(crate) fn handed_off(_key: usize) {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_is_due_once_it_has_passed_and_not_before() {
        let _watchdog = crate::test_watchdog::watchdog();
        // `start` lies 0.5..1.5 ms after the moment it was taken. (No
        // assumption about how long the lines between run: under Miri
        // a line can take longer than 0.5 ms of the crate's clock.)
        let before = now_ns();
        let start = Deadline::start();
        let after = now_ns();
        assert!(start.at_ns >= before + 500_000, "at least 0.5 ms");
        assert!(start.at_ns < after + 1_500_000, "under 1.5 ms");
        // A deadline a second away: not due now, due at and after it.
        let later = Deadline {
            at_ns: now_ns() + 1_000_000_000,
        };
        let token = later.token();
        assert_ne!(token, OVERDUE, "a second cannot have passed already");
        assert!(!tick_due(ticks(now_ns()), token));
        assert!(tick_due(ticks(later.at_ns), token));
        assert!(tick_due(ticks(later.at_ns + 1_000_000), token));
        let past = Deadline {
            at_ns: now_ns() - 1,
        };
        assert_eq!(past.token(), OVERDUE);
    }

    #[test]
    fn wrapping_tick_comparison_across_the_wrap() {
        let _watchdog = crate::test_watchdog::watchdog();
        // Whatever the width of usize: a deadline just before the wrap
        // is due just after it, and one just after is not due before.
        let before_wrap = ParkToken(usize::MAX - 5);
        assert!(tick_due(3, before_wrap));
        assert!(!tick_due(usize::MAX - 6, before_wrap));
        assert!(!tick_due(usize::MAX - 7, ParkToken(2)));
        assert!(tick_due(2, ParkToken(2)));
        // Half a period late reads as early: the waiter's own full-width
        // check (OVERDUE) covers that case.
        assert!(!tick_due(usize::MAX / 2 + 2, ParkToken(0)));
        assert!(tick_due(0, OVERDUE));
    }

    #[test]
    fn tokens_stay_clear_of_overdue() {
        let _watchdog = crate::test_watchdog::watchdog();
        assert_ne!(ParkToken(ticks(u64::MAX).min(OVERDUE.0 - 1)), OVERDUE);
    }

    #[test]
    fn the_timer_holds_back_its_own_key_only_and_only_for_a_while() {
        let _watchdog = crate::test_watchdog::watchdog();
        // Two keys sharing a timer slot (a collision).
        let mine = 0x1000usize;
        let other = (1..)
            .map(|i| mine + 8 * i)
            .find(|&k| slot(k, 64) == slot(mine, 64))
            .expect("the hash spreads, so some key collides");
        // (Retried: a lock of a test running alongside may share the
        // slot and overwrite it in between, which makes it due.)
        assert!(
            (0..100).any(|_| {
                handed_off(mine);
                !hand_off_due(mine, OVERDUE)
            }),
            "a hand-off was just made at this key: not again for ~1 ms"
        );
        assert!(
            hand_off_due(other, OVERDUE),
            "a colliding key's hand-off must not hold this one back"
        );
        let not_yet = Deadline {
            at_ns: now_ns() + 1_000_000_000,
        };
        assert!(!hand_off_due(other, not_yet.token()));
        // At most 1.5 ms later the key may hand off again.
        let start = now_ns();
        while now_ns() < start + 1_500_000 {
            std::thread::yield_now();
        }
        assert!(hand_off_due(mine, OVERDUE));
    }

    #[test]
    fn a_waiter_keeps_its_token_until_it_is_overdue() {
        let _watchdog = crate::test_watchdog::watchdog();
        let d = Deadline::start();
        let first = d.token();
        if !d.passed() {
            assert!(d.token() == first || d.passed());
        }
        while !d.passed() {
            std::thread::yield_now();
        }
        assert_eq!(d.token(), OVERDUE);
    }

    #[test]
    fn timer_slots_are_in_range_and_spread() {
        let _watchdog = crate::test_watchdog::watchdog();
        let mut hit = [false; 64];
        for i in 0..4096usize {
            let s = slot(i * 8, 64);
            assert!(s < 64);
            hit[s] = true;
        }
        assert!(hit.iter().filter(|&&h| h).count() > 48);
    }
}
