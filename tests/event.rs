//! Python-semantics behaviour tests for `Event` (what CPython's
//! lock_tests.EventTests check). Timings are only generous sanity bounds.

mod common;
use pysync::Event;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn is_set_set_clear() {
    let _watchdog = common::watchdog();
    let ev = Event::new();
    assert!(!ev.is_set());
    assert!(!ev.try_wait());
    ev.set();
    assert!(ev.is_set());
    ev.set();
    assert!(ev.is_set());
    assert!(ev.try_wait());
    ev.clear();
    assert!(!ev.is_set());
    ev.clear();
    assert!(!ev.is_set());
    assert!(!Event::default().is_set());
    assert_eq!(format!("{ev:?}"), "Event { set: false, waiters: false }");
    ev.set();
    assert_eq!(format!("{ev:?}"), "Event { set: true, waiters: false }");
}

#[test]
fn wait_on_set_event_returns_at_once() {
    let _watchdog = common::watchdog();
    let ev = Event::new();
    ev.set();
    ev.wait();
    assert!(ev.wait_timeout(Duration::ZERO));
    assert!(ev.wait_timeout(Duration::MAX));
    assert!(ev.wait_until(Instant::now() - Duration::from_secs(1)));
}

#[test]
fn timeouts() {
    let _watchdog = common::watchdog();
    let ev = Event::new();
    assert!(!ev.wait_timeout(Duration::ZERO));
    assert!(!ev.wait_until(Instant::now() - Duration::from_millis(1)));
    let start = Instant::now();
    assert!(!ev.wait_timeout(Duration::from_millis(30)));
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert!(start.elapsed() < Duration::from_secs(10));
    let start = Instant::now();
    assert!(!ev.wait_until(Instant::now() + Duration::from_millis(20)));
    assert!(start.elapsed() >= Duration::from_millis(20));
    // A timed-out waiter leaves no trace.
    assert_eq!(format!("{ev:?}"), "Event { set: false, waiters: false }");
}

#[test]
#[cfg_attr(miri, ignore)]
fn wait_blocks_until_set() {
    let _watchdog = common::watchdog();
    let ev = Arc::new(Event::new());
    let done = Arc::new(AtomicBool::new(false));
    let (t, tid) = {
        let (ev, done) = (Arc::clone(&ev), Arc::clone(&done));
        common::spawn_static_tid(move || {
            ev.wait();
            done.store(true, SeqCst);
        })
    };
    common::wait_until_settled(&[tid]);
    assert!(!done.load(SeqCst), "wait must block on a clear event");
    ev.set();
    t.join().unwrap();
    assert!(done.load(SeqCst));
}

#[test]
#[cfg_attr(miri, ignore)]
fn forever_timeout_is_woken_by_set() {
    let _watchdog = common::watchdog();
    let ev = Arc::new(Event::new());
    let e2 = Arc::clone(&ev);
    let t = common::spawn_static_parked(move || e2.wait_timeout(Duration::MAX));
    ev.set();
    assert!(t.join().unwrap());
}

#[test]
#[cfg_attr(miri, ignore)]
fn set_wakes_every_waiter() {
    let _watchdog = common::watchdog();
    let ev = Arc::new(Event::new());
    let woken = Arc::new(AtomicUsize::new(0));
    let (threads, tids): (Vec<_>, Vec<_>) = (0..6)
        .map(|i| {
            let (ev, woken) = (Arc::clone(&ev), Arc::clone(&woken));
            common::spawn_static_tid(move || {
                let ok = match i % 3 {
                    0 => {
                        ev.wait();
                        true
                    }
                    1 => ev.wait_timeout(Duration::from_secs(10)),
                    _ => ev.wait_until(Instant::now() + Duration::from_secs(10)),
                };
                assert!(ok);
                woken.fetch_add(1, SeqCst);
            })
        })
        .unzip();
    tids.iter().for_each(common::wait_until_parked);
    ev.set();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(woken.load(SeqCst), 6);
    assert_eq!(format!("{ev:?}"), "Event { set: true, waiters: false }");
}

#[test]
#[cfg_attr(miri, ignore)]
fn woken_waiter_returns_true_even_if_cleared_at_once() {
    let _watchdog = common::watchdog();
    // Python's guarantee (lock_tests.EventTests.test_set_and_clear).
    let ev = Arc::new(Event::new());
    let threads: Vec<_> = (0..5)
        .map(|_| {
            let ev = Arc::clone(&ev);
            // Every waiter is parked before the set (else it could see the
            // event already cleared, and rightly time out).
            common::spawn_static_parked(move || ev.wait_timeout(Duration::from_secs(10)))
        })
        .collect();
    ev.set();
    ev.clear();
    for t in threads {
        assert!(t.join().unwrap(), "a waiter woken by set must return true");
    }
    assert!(!ev.is_set());
}

#[test]
fn set_is_visible_to_waiters() {
    let _watchdog = common::watchdog();
    // What the setter wrote before set() is visible after wait().
    for _ in 0..50 {
        let ev = Event::new();
        let data = AtomicUsize::new(0);
        thread::scope(|s| {
            s.spawn(|| {
                ev.wait();
                assert_eq!(data.load(std::sync::atomic::Ordering::Relaxed), 42);
            });
            data.store(42, std::sync::atomic::Ordering::Relaxed);
            ev.set();
        });
    }
}

#[test]
fn ping_pong_loses_no_wake_up() {
    let _watchdog = common::watchdog();
    let ping = Event::new();
    let pong = Event::new();
    const ROUNDS: usize = 2000;
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..ROUNDS {
                ping.wait();
                ping.clear();
                pong.set();
            }
        });
        for _ in 0..ROUNDS {
            ping.set();
            pong.wait();
            pong.clear();
        }
    });
}

#[test]
fn set_clear_wait_races() {
    let _watchdog = common::watchdog();
    let ev = Event::new();
    let stop = AtomicBool::new(false);
    let hits = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !stop.load(SeqCst) {
                    if ev.wait_timeout(Duration::from_micros(50)) {
                        hits.fetch_add(1, SeqCst);
                    }
                }
            });
        }
        s.spawn(|| {
            for i in 0..500 {
                ev.set();
                if i % 2 == 0 {
                    thread::yield_now();
                }
                ev.clear();
            }
            // Finally set and leave it set: the waiters must see it.
            let before = hits.load(SeqCst);
            ev.set();
            common::wait_for("a waiter sees the final set", || hits.load(SeqCst) > before);
            stop.store(true, SeqCst);
        });
    });
    assert!(ev.is_set());
    assert!(hits.load(SeqCst) > 0);
    // Nobody is left parked, and the event still works.
    assert_eq!(format!("{ev:?}"), "Event { set: true, waiters: false }");
    ev.clear();
    assert!(!ev.wait_timeout(Duration::from_millis(1)));
}
