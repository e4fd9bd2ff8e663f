#![no_main]
//! Op sequences on a `Gil` against a model: whether this thread holds it,
//! and what the counters must say. Durations are arbitrary (zero, huge,
//! `Duration::MAX`); nothing may panic or hang. Alone, no acquisition ever
//! waits (so no hand-off, no I/O wait); `Helper` adds a second thread that
//! takes the GIL through every path (newcomer, `check`, `yield_now`,
//! `allow_threads`) while this one polls, which the counters must account
//! for exactly.

use arbitrary::Arbitrary;
use pysync::{Gil, GilGuard, GilStats};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Dur {
    Zero,
    Max,
    Micros(u16),
    Secs(u64),
}

impl Dur {
    fn get(self) -> Duration {
        match self {
            Dur::Zero => Duration::ZERO,
            Dur::Max => Duration::MAX,
            Dur::Micros(n) => Duration::from_micros(u64::from(n % 200)),
            Dur::Secs(s) => Duration::from_secs(s),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Acquire,
    TryAcquire,
    /// Only when not held (a held Gil would make this wait for real).
    AcquireTimeout(Dur),
    AcquireUntilPast,
    Release,
    Check,
    YieldNow,
    /// Runs the nested ops with the GIL released (they may take it).
    AllowThreads(Vec<Op>),
    SetSwitchInterval(Dur),
    Stats,
    /// Only when not held: a helper thread takes the GIL, goes through
    /// `allow_threads`, `check` and `yield_now`, while this thread takes it
    /// and polls `check` / `yield_now` until the helper is done.
    Helper,
}

struct Model {
    acquisitions: u64,
    releases: u64,
    /// Acquisitions and releases by helper threads and by switches: the
    /// counters then only have to add up.
    helped: bool,
}

fn run<'g>(gil: &'g Gil, guard: &mut Option<GilGuard<'g>>, ops: &[Op], m: &mut Model, depth: u32) {
    for op in ops {
        match op {
            Op::Acquire => {
                if guard.is_none() {
                    *guard = Some(gil.acquire());
                    m.acquisitions += 1;
                }
            }
            Op::TryAcquire => match (guard.is_some(), gil.try_acquire()) {
                (true, g) => assert!(g.is_none(), "try_acquire succeeded while held"),
                (false, g) => {
                    assert!(g.is_some(), "try_acquire failed on a free Gil");
                    *guard = g;
                    m.acquisitions += 1;
                }
            },
            Op::AcquireTimeout(d) => {
                if guard.is_none() {
                    *guard = Some(gil.acquire_timeout(d.get()).expect("free Gil"));
                    m.acquisitions += 1;
                } else {
                    // Zero is a try, which must fail without waiting.
                    assert!(gil.acquire_timeout(Duration::ZERO).is_none());
                }
            }
            Op::AcquireUntilPast => {
                let g = gil.acquire_until(Instant::now());
                assert_eq!(g.is_some(), guard.is_none());
                if g.is_some() {
                    *guard = g;
                    m.acquisitions += 1;
                }
            }
            Op::Release => {
                if guard.take().is_some() {
                    m.releases += 1;
                }
            }
            Op::Check => {
                if let Some(g) = guard.as_ref() {
                    g.check();
                }
            }
            Op::YieldNow => {
                if let Some(g) = guard.as_ref() {
                    g.yield_now(); // nobody waits: a no-op
                }
            }
            Op::AllowThreads(inner) => {
                if let Some(g) = guard.as_mut() {
                    if depth < 3 {
                        g.allow_threads(|| {
                            // The release is counted before `f` runs.
                            m.releases += 1;
                            assert!(!gil.locked());
                            let mut inner_guard = None;
                            run(gil, &mut inner_guard, inner, m, depth + 1);
                            if inner_guard.take().is_some() {
                                m.releases += 1;
                            }
                        });
                        m.acquisitions += 1;
                    }
                }
            }
            Op::SetSwitchInterval(d) => {
                gil.set_switch_interval(d.get());
                let got = gil.switch_interval();
                if d.get() == Duration::MAX || d.get().as_nanos() > u128::from(u64::MAX) {
                    assert!(got >= Duration::from_nanos(u64::MAX));
                } else {
                    assert_eq!(got, d.get());
                }
            }
            Op::Stats => {
                let s = gil.stats();
                check_stats(s, &*m);
                assert_eq!(s.acquisitions, s.releases() + u64::from(guard.is_some()));
            }
            Op::Helper => {
                if guard.is_none() {
                    helper_round(gil);
                    m.helped = true;
                    let s = gil.stats();
                    assert_eq!(s.acquisitions, s.releases(), "{s:?}");
                }
            }
        }
        assert_eq!(gil.locked(), guard.is_some());
    }
}

/// What the counters must say: exactly the model's counts while this thread
/// was alone; after a helper round, only the identities.
fn check_stats(s: GilStats, m: &Model) {
    assert!(s.max_wait <= s.total_wait, "{s:?}");
    assert!(
        s.io_max_wait <= s.io_wait && s.io_wait <= s.total_wait,
        "{s:?}"
    );
    assert_eq!(s.cpu_wait(), s.total_wait - s.io_wait, "{s:?}");
    if !m.helped {
        assert_eq!(s.acquisitions, m.acquisitions, "{s:?}");
        assert_eq!(s.voluntary_releases, m.releases, "{s:?}");
        assert_eq!(s.switches(), 0, "{s:?}");
        assert_eq!((s.io_waits, s.io_wait), (0, Duration::ZERO), "{s:?}");
        assert_eq!(s.handoffs_to_spinning + s.handoffs_to_sleeping, 0, "{s:?}");
    } else {
        // Every hand-off ended a wait; a switch is a hand-off.
        assert!(
            s.handoffs_to_spinning + s.handoffs_to_sleeping >= s.switches(),
            "{s:?}"
        );
        assert!(s.io_waits <= s.acquisitions, "{s:?}");
    }
}

/// A helper thread goes through every way of taking the GIL while this
/// thread holds it and polls; both finish (nothing hangs).
fn helper_round(gil: &Gil) {
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            let mut g = gil.acquire(); // a newcomer
            g.check();
            g.allow_threads(|| ()); // a returner
            g.yield_now();
            g.check();
            drop(g);
            done.store(true, Ordering::SeqCst);
        });
        let g = gil.acquire();
        while !done.load(Ordering::SeqCst) {
            g.check();
            g.yield_now(); // hands over whenever the helper waits
            std::thread::yield_now();
        }
        drop(g);
        h.join().expect("the helper does not panic");
    });
}

libfuzzer_sys::fuzz_target!(|ops: Vec<Op>| {
    let gil = Gil::new();
    let mut m = Model {
        acquisitions: 0,
        releases: 0,
        helped: false,
    };
    let mut guard = None;
    run(&gil, &mut guard, &ops, &mut m, 0);
    if guard.take().is_some() {
        m.releases += 1;
    }
    let s = gil.stats();
    assert!(!gil.locked());
    check_stats(s, &m);
    assert_eq!(s.acquisitions, s.releases(), "{s:?}");
    assert!(gil.try_acquire().is_some());
});
