//! Loom models of `pysync::Gil`.
//!
//! Under loom a timed park may time out at any interleaving: that is the
//! event "a switch interval (or the minimum slice) has elapsed", after which
//! the waiter becomes a requester and raises the drop request.

use loom::cell::UnsafeCell;
use loom::sync::atomic::AtomicBool;
use loom::sync::{Arc, Mutex};
use loom::thread;
use pysync::Gil;
use std::sync::atomic::Ordering::SeqCst;

struct Shared {
    gil: Gil,
    /// Touched only while holding the GIL: loom reports any overlap.
    data: UnsafeCell<u32>,
    /// The order in which threads ran their critical sections.
    log: Mutex<Vec<&'static str>>,
}

// SAFETY: `data` is only accessed by the GIL holder (which loom checks).
unsafe impl Sync for Shared {}

impl Shared {
    /// With the default interval: a waiter asks once its timer fires (the
    /// model's time passes where loom times a park out).
    fn new() -> Arc<Shared> {
        Shared::with_interval(std::time::Duration::from_millis(5))
    }

    /// With interval zero a waiter is due as soon as the holder has used as
    /// much as it: requests without timers, for the larger models.
    fn with_interval(interval: std::time::Duration) -> Arc<Shared> {
        Arc::new(Shared {
            gil: Gil::with_switch_interval(interval),
            data: UnsafeCell::new(0),
            log: Mutex::new(Vec::new()),
        })
    }

    /// A critical section: must be called holding the GIL.
    fn section(&self, who: &'static str) {
        // SAFETY: the caller holds the GIL.
        self.data.with_mut(|d| unsafe { *d += 1 });
        self.log.lock().unwrap().push(who);
    }

    fn assert_settled(&self, sections: u32) {
        assert!(!self.gil.locked());
        let s = self.gil.stats();
        assert_eq!(s.acquisitions, s.releases(), "{s:?}");
        // SAFETY: every thread is joined.
        assert_eq!(self.data.with(|d| unsafe { *d }), sections);
        // Usable afterwards: nothing is left held or parked.
        assert!(self.gil.try_acquire().is_some());
    }
}

/// A drop request (B's wait may time out anywhere) races the holder's
/// `check`, its voluntary release, and a fresh arrival (C, which only tries).
/// No barging: a switch forced by `check` goes to the requester B, never to
/// C; no lost hand-off and no deadlock (loom reports a parked thread that
/// nobody wakes).
#[test]
fn drop_request_vs_release_vs_arrival() {
    crate::support::model(|| {
        let sh = Shared::new();
        let guard = sh.gil.acquire();
        let b = {
            let sh = sh.clone();
            thread::spawn(move || {
                let _g = sh.gil.acquire();
                sh.section("B");
            })
        };
        let c = {
            let sh = sh.clone();
            thread::spawn(move || {
                if let Some(_g) = sh.gil.try_acquire() {
                    sh.section("C");
                }
            })
        };
        sh.section("A1");
        let forced_before = sh.gil.stats().switches();
        guard.check();
        // Still holding (either nobody asked, or the GIL went to B and
        // came back): the counters are ours to read.
        let forced = sh.gil.stats().switches() - forced_before;
        sh.section("A2");
        drop(guard);
        b.join().unwrap();
        c.join().unwrap();
        let log = sh.log.lock().unwrap().clone();
        if forced == 1 {
            let i = log.iter().position(|w| *w == "A1").unwrap();
            assert_eq!(
                log[i + 1],
                "B",
                "forced switch did not go to the requester: {log:?}"
            );
        }
        assert!(forced <= 1);
        let n = log.len() as u32;
        sh.assert_settled(n);
        assert!(log.contains(&"B"));
    });
}

/// A thread coming back from `allow_threads` (a priority waiter) races a
/// CPU waiter's forced switch: the CPU waiter may request while the holder is
/// in `check`, inside `allow_threads`, or already back; the returning thread
/// may itself request while the other holds.
#[test]
fn allow_threads_reentry_vs_forced_switch() {
    crate::support::model(|| {
        let sh = Shared::new();
        let mut guard = sh.gil.acquire();
        let t = {
            let sh = sh.clone();
            thread::spawn(move || {
                let g = sh.gil.acquire();
                sh.section("T1");
                g.check();
                sh.section("T2");
            })
        };
        sh.section("A1");
        guard.check();
        guard.allow_threads(|| ());
        sh.section("A2");
        drop(guard);
        t.join().unwrap();
        sh.assert_settled(4);
    });
}

/// `yield_now` with a waiter hands over at once (no interval elapsed); the
/// waiter may also have timed out and requested meanwhile.
#[test]
fn yield_now_hands_over() {
    crate::support::model(|| {
        let sh = Shared::new();
        let guard = sh.gil.acquire();
        let t = {
            let sh = sh.clone();
            thread::spawn(move || {
                let _g = sh.gil.acquire();
                sh.section("T");
            })
        };
        sh.section("A1");
        guard.yield_now();
        sh.section("A2");
        drop(guard);
        t.join().unwrap();
        sh.assert_settled(3);
    });
}

/// Three threads: a holder, a CPU waiter, and a thread that goes through
/// `allow_threads` (releasing, then re-entering as a priority waiter); both
/// waiters may request at any point and the hand-offs between the two must
/// not lose anyone. (The holder's `check` against a re-entering thread is
/// `allow_threads_reentry_vs_forced_switch`, kept to two threads for time.)
#[test]
fn priority_and_cpu_waiters_with_holder() {
    crate::support::model(|| {
        let sh = Shared::with_interval(std::time::Duration::ZERO);
        let guard = sh.gil.acquire();
        let cpu = {
            let sh = sh.clone();
            thread::spawn(move || {
                let _g = sh.gil.acquire();
                sh.section("C");
            })
        };
        let io = {
            let sh = sh.clone();
            thread::spawn(move || {
                let mut g = sh.gil.acquire();
                g.allow_threads(|| ());
                sh.section("I");
            })
        };
        sh.section("A");
        drop(guard);
        cpu.join().unwrap();
        io.join().unwrap();
        sh.assert_settled(3);
    });
}

/// `set_switch_interval` races a waiter that is about to park with the old
/// interval (`Duration::MAX`: never ask): the waiter must end up asking
/// under the new one (zero: at once), so that the holder's `check()` hands
/// over. A waiter that parked with the old plan and missed the change would
/// sleep until a voluntary release (0.1.0).
#[test]
fn set_switch_interval_reaches_a_parking_waiter() {
    crate::support::model(|| {
        let sh = Shared::with_interval(std::time::Duration::MAX);
        let guard = sh.gil.acquire();
        let w = {
            let sh = sh.clone();
            thread::spawn(move || {
                sh.log.lock().unwrap().push("W-start");
                eprintln!("DBG W start");
                let _g = sh.gil.acquire();
                sh.section("W");
            })
        };
        sh.gil.set_switch_interval(std::time::Duration::ZERO);
        // Poll as a CPU-bound holder would; yielding lets the waiter run
        // until it blocks. Unbounded: a waiter that missed the change would
        // never ask, and the loop would spin until loom's branch limit
        // fails the model.
        while !sh.log.lock().unwrap().contains(&"W") {
            guard.check();
            thread::yield_now();
        }
        drop(guard);
        w.join().unwrap();
        sh.assert_settled(1);
    });
}

/// A waiter's decision to ask for a switch is about one holder under one
/// interval. Here the GIL passes from the first holder to whichever waiter
/// comes first, which at once sets the interval to `Duration::MAX` ("never
/// force a switch") and polls `check()`: no decision made before (about the
/// previous holder, or under the previous interval) may force it to switch.
/// On 0.1.0 a waiter that decided to ask outside the queue lock raised the
/// request against whoever held the GIL when it validated.
#[test]
fn stale_request_never_reaches_the_next_holder() {
    crate::support::model(|| {
        let sh = Shared::with_interval(std::time::Duration::ZERO);
        let guard = sh.gil.acquire();
        let spawn = |who: &'static str| {
            let sh = sh.clone();
            thread::spawn(move || {
                let g = sh.gil.acquire();
                sh.gil.set_switch_interval(std::time::Duration::MAX);
                g.check();
                sh.section(who);
            })
        };
        let a = spawn("A");
        let b = spawn("B");
        sh.section("H");
        drop(guard);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(sh.gil.stats().switches(), 0, "{:?}", sh.gil.stats());
        sh.assert_settled(3);
    });
}

/// A holder that never releases, only polls `check`, still serves a
/// waiter: the waiter's timer fires (model time passes), it raises the
/// drop request, and the next `check` hands over. A waiter parked without
/// a timer or a request would never be served.
#[test]
fn checks_alone_serve_a_waiter() {
    crate::support::model(|| {
        let sh = Shared::new();
        let guard = sh.gil.acquire();
        let w = {
            let sh = sh.clone();
            thread::spawn(move || {
                sh.log.lock().unwrap().push("W-start");
                eprintln!("DBG W start");
                let _g = sh.gil.acquire();
                sh.section("W");
            })
        };
        // Unbounded (see `set_switch_interval_reaches_a_parking_waiter`).
        while !sh.log.lock().unwrap().contains(&"W") {
            guard.check();
            thread::yield_now();
        }
        assert_eq!(sh.gil.stats().forced_switches, 1);
        drop(guard);
        w.join().unwrap();
        sh.assert_settled(1);
    });
}

/// Two waiters behind a holder: both may raise the drop request, and the
/// holder's `check` serves one. If `A` gets the GIL that way, `B`'s
/// request was about the old holder: it is woken to plan against `A`,
/// which only polls `check` until `B` has run. A request lost at the
/// hand-off would leave `B` queued and `A` polling forever.
#[test]
fn a_waiter_whose_request_lost_asks_the_next_holder() {
    crate::support::model(|| {
        let sh = Shared::with_interval(std::time::Duration::ZERO);
        let guard = sh.gil.acquire();
        let a = {
            let sh = sh.clone();
            thread::spawn(move || {
                let g = sh.gil.acquire();
                sh.section("A");
                // Unbounded: it ends once B is served, which loom reaches
                // in every schedule (yielding lets B run until it blocks,
                // and preemptions are bounded); a lost request would spin
                // here until loom's branch limit fails the model.
                while !sh.log.lock().unwrap().contains(&"B") {
                    g.check();
                    thread::yield_now();
                }
            })
        };
        let b = {
            let sh = sh.clone();
            thread::spawn(move || {
                let _g = sh.gil.acquire();
                sh.section("B");
            })
        };
        guard.check();
        sh.section("H");
        drop(guard);
        a.join().unwrap();
        b.join().unwrap();
        sh.assert_settled(3);
    });
}

/// An I/O thread and a CPU-bound one trade the GIL through the spinner
/// slot: coming back from `allow_threads` the I/O thread enters the slot
/// and asks; the holder's `check` hands it the GIL with one store and
/// queues again (itself trying the slot first), and gets the GIL back at the
/// I/O thread's next release. A waiter that leaves the slot just as it is
/// handed the GIL must end up holding it, and one that a hand-off took out
/// of the slot must not be left waiting: either loses the GIL for good.
#[test]
fn io_and_cpu_trade_through_the_spinner_slot() {
    crate::support::model(|| {
        let sh = Shared::new();
        let done = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let mut io = sh.gil.acquire();
        let cpu = {
            let (sh, done) = (sh.clone(), done.clone());
            thread::spawn(move || {
                let g = sh.gil.acquire();
                sh.section("C");
                // Unbounded: see `set_switch_interval_reaches_a_parking_waiter`.
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    g.check();
                    thread::yield_now();
                }
            })
        };
        io.allow_threads(|| ());
        sh.section("I1");
        io.allow_threads(|| ());
        sh.section("I2");
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(io);
        cpu.join().unwrap();
        sh.assert_settled(3);
    });
}

/// Yields until `n` threads are parked in the model: "they are queued" as a
/// state, never a guess.
fn wait_parked(n: usize) {
    while pysync::loom_support::parked() < n {
        thread::yield_now();
    }
}

/// How many critical sections the hogs ran after the log's `"queued"` mark,
/// if the waiter `W` has not run yet (else `None`).
fn hog_turns_since_queued(log: &[&str]) -> Option<usize> {
    if log.contains(&"W") {
        return None;
    }
    let mark = log.iter().position(|w| *w == "queued")?;
    Some(log[mark + 1..].len())
}

/// With interval zero (no sleeper credit, no granularity) the bound in
/// `Gil`'s docs says a waiter is served before the n − 1 other threads
/// complete n − 1 holds (n = 3 here): a hog that would start a third turn
/// while `W` still waits breaks it.
const HOG_TURNS_BOUND: usize = 2;

/// A hog: holds the GIL and gives it up through `allow_threads` (coming
/// back as a returner, which tries the spinner slot first) until `W` has
/// run, asserting the bound at every turn. Without a bound the loop would
/// spin until loom's branch limit; with it a starving schedule fails at
/// once, with the log.
fn trade_until_served(
    sh: &Shared,
    served: &AtomicBool,
    g: &mut pysync::GilGuard<'_>,
    who: &'static str,
) {
    while !served.load(SeqCst) {
        {
            let log = sh.log.lock().unwrap();
            if let Some(turns) = hog_turns_since_queued(&log) {
                assert!(
                    turns < HOG_TURNS_BOUND,
                    "W is queued and not served after {turns} hog turns: {:?}",
                    *log
                );
            }
        }
        sh.section(who);
        g.allow_threads(|| ());
    }
}

/// Every queued waiter is served, however two others trade the GIL. `B`
/// queues behind `A`; `A` hands the GIL to `B` through `allow_threads` and,
/// while `B` holds it, `W` queues (asking: interval zero). From then on
/// `A` and `B` trade the GIL through `allow_threads` for as long as `W` has
/// not run: each release may find `W` parked and the other hog parked, in
/// the spinner slot (a thread still spinning, the cheap hand-off), or not
/// back yet; loom explores every one. `W` must be served within the bound
/// (`HOG_TURNS_BOUND` hog turns after it queued). A hand-off that preferred
/// the thread coming back from `allow_threads`, or the spinner beyond the
/// granularity, would let the hogs trade for ever (checked: both fail
/// here).
///
/// Why `W` queues before the trading starts: loom's schedules are not fair.
/// A thread that is runnable but not queued (not yet parked) may be left
/// unscheduled for ever while others run, which no lock can help; so the
/// model lets nobody else spin until `W` is parked, and from then on `W`
/// only becomes runnable when it is served (or, with a broken hand-off,
/// woken to plan again, which the bound catches first).
#[test]
fn a_queued_waiter_is_served_while_two_threads_trade_the_gil() {
    // Bound 2: three threads loop here (bound 3 ran > 10 min).
    crate::support::shallow_model(|| {
        let sh = Shared::with_interval(std::time::Duration::ZERO);
        let served = Arc::new(AtomicBool::new(false));
        // B waits on this gate (blocked, not spinning: a second thread
        // spinning beside `wait_parked` could starve W in loom's unfair
        // schedules) until W is queued.
        let gate = Arc::new(Mutex::new(()));
        let closed = gate.lock().unwrap();
        let mut a = sh.gil.acquire();
        let b = {
            let (sh, served, gate) = (sh.clone(), served.clone(), gate.clone());
            thread::spawn(move || {
                let mut g = sh.gil.acquire();
                // Holding: wait until W is queued behind us.
                drop(gate.lock().unwrap());
                trade_until_served(&sh, &served, &mut g, "B");
            })
        };
        wait_parked(1);
        let w = a.allow_threads(|| {
            // B holds the GIL now; nobody is queued.
            let w = {
                let (sh, served) = (sh.clone(), served.clone());
                thread::spawn(move || {
                    let _g = sh.gil.acquire();
                    sh.section("W");
                    served.store(true, SeqCst);
                })
            };
            wait_parked(1);
            sh.log.lock().unwrap().push("queued");
            drop(closed);
            w
        });
        trade_until_served(&sh, &served, &mut a, "A");
        drop(a);
        b.join().unwrap();
        w.join().unwrap();
        let n = sh
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|w| **w != "queued")
            .count() as u32;
        sh.assert_settled(n);
    });
}

/// Holders that never release, only poll `check`, serve every queued
/// waiter in turn: `W` and then `B` queue (both asking) behind `A`, which
/// polls `check` until both have run; each forced switch goes to the
/// waiter that has used least (ties: the one queued first), and the
/// thread switched out queues again and asks in its turn.
#[test]
fn checks_alone_serve_every_queued_waiter_in_turn() {
    crate::support::model(|| {
        let sh = Shared::with_interval(std::time::Duration::ZERO);
        let a = sh.gil.acquire();
        let spawn = |who: &'static str| {
            let sh = sh.clone();
            thread::spawn(move || {
                let _g = sh.gil.acquire();
                sh.section(who);
            })
        };
        let w = spawn("W");
        wait_parked(1);
        let b = spawn("B");
        wait_parked(2);
        // Unbounded: a waiter never served would spin this loop until
        // loom's branch limit fails the model.
        loop {
            let log = sh.log.lock().unwrap().clone();
            if log.contains(&"W") && log.contains(&"B") {
                // Queued first, served first (equal virtual times).
                assert_eq!(log, ["W", "B"]);
                break;
            }
            drop(log);
            a.check();
            thread::yield_now();
        }
        drop(a);
        w.join().unwrap();
        b.join().unwrap();
        sh.assert_settled(2);
    });
}
