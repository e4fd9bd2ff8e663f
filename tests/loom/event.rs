//! Loom models: Event.
//!
//! Under loom a timed park may time out at any interleaving; an untimed
//! waiter that nobody wakes shows up as a loom deadlock (a lost wake-up).

use loom::sync::Arc;
use loom::thread;
use pysync::Event;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

/// `set` wakes an untimed waiter whatever the interleaving.
#[test]
fn set_wakes_waiter() {
    crate::support::model(|| {
        let ev = Arc::new(Event::new());
        let e2 = Arc::clone(&ev);
        let waiter = thread::spawn(move || e2.wait());
        ev.set();
        waiter.join().unwrap();
        assert!(ev.is_set());
        assert!(format!("{ev:?}").contains("waiters: false"));
    });
}

/// Two waiters, `set` / `clear` / `set`: both return (no lost wake-up).
#[test]
fn set_clear_set_wakes_all() {
    crate::support::model(|| {
        let ev = Arc::new(Event::new());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let e = Arc::clone(&ev);
                thread::spawn(move || e.wait())
            })
            .collect();
        ev.set();
        ev.clear();
        ev.set();
        for w in waiters {
            w.join().unwrap();
        }
        assert!(format!("{ev:?}").contains("waiters: false"));
    });
}

/// A timed waiter racing `set` then `clear`: a waiter removed from the queue
/// by `set` returns true (from the token, not a re-check of the flag that
/// `clear` may already have lowered); one that returns false timed out while
/// still queued, so it must have left the queue before `set` walked it.
/// Either way nobody is left marked as parked.
#[test]
fn set_clear_vs_timed_wait() {
    crate::support::model(|| {
        let ev = Arc::new(Event::new());
        let e2 = Arc::clone(&ev);
        let waiter = thread::spawn(move || e2.wait_timeout(LONG));
        ev.set();
        ev.clear();
        let _ = waiter.join().unwrap();
        assert!(!ev.is_set());
        assert!(format!("{ev:?}").contains("waiters: false"));
    });
}

/// `set` racing a timed wait: if the waiter reports a timeout, the event was
/// not set before it queued; after `set` returns, a fresh wait succeeds.
#[test]
fn set_vs_timed_wait() {
    crate::support::model(|| {
        let ev = Arc::new(Event::new());
        let e2 = Arc::clone(&ev);
        let waiter = thread::spawn(move || {
            let r = e2.wait_timeout(LONG);
            // Whatever happened, once set is visible, waits return at once.
            (r, e2.is_set())
        });
        ev.set();
        let (r, seen) = waiter.join().unwrap();
        if r {
            assert!(seen, "the flag stays up: nobody cleared it");
        }
        assert!(ev.wait_timeout(Duration::ZERO));
        assert!(format!("{ev:?}").contains("waiters: false"));
    });
}

/// Ping-pong for two rounds: a `set` whose wake-up is still in flight must
/// not wake a wait that began after the flag it raised was seen and cleared
/// (a stale wake-up would return `true` without a `set`, and the peer would
/// then block forever: a loom deadlock).
#[test]
fn ping_pong_no_stale_wake_up() {
    crate::support::model(|| {
        let ping = Arc::new(Event::new());
        let pong = Arc::new(Event::new());
        let (pi, po) = (Arc::clone(&ping), Arc::clone(&pong));
        let peer = thread::spawn(move || {
            for _ in 0..2 {
                pi.wait();
                pi.clear();
                po.set();
            }
        });
        for _ in 0..2 {
            ping.set();
            pong.wait();
            pong.clear();
        }
        peer.join().unwrap();
    });
}

/// The destruction promise: a waiter woken by `set` (or seeing the flag
/// already raised), as the last user, may free the event while `set` is
/// still returning; `set` must not touch it after raising the flag.
#[test]
fn woken_waiter_may_free_the_event() {
    crate::support::deep_model(|| {
        let ev = crate::lock::Freeable::new(Event::new());
        let setter = thread::spawn(move || ev.get().set());
        let waiter = thread::spawn(move || ev.get().wait_timeout(LONG));
        if !waiter.join().unwrap() {
            ev.get().wait();
        }
        // SAFETY: the waiter returned; `set` is the only other use, and the
        // flag it raised is what let us through.
        unsafe { ev.free() };
        setter.join().unwrap();
        // SAFETY: freed above; every thread is joined.
        unsafe { ev.dealloc() };
    });
}
