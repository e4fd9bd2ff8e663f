//! Loom models of `pysync::Gil`.
//!
//! Under loom a timed park may time out at any interleaving: that is the
//! event "a switch interval (or the minimum slice) has elapsed", after which
//! the waiter becomes a requester and raises the drop request.

use loom::cell::UnsafeCell;
use loom::sync::{Arc, Mutex};
use loom::thread;
use pysync::Gil;

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
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            gil: Gil::new(),
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
        let sh = Shared::new();
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
