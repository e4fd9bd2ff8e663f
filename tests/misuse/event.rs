//! Misuse and odd inputs: `Event`.

use super::*;

#[test]
fn zero_timeout_and_past_deadline_are_checks() {
    let _watchdog = common::watchdog();
    let ev = Event::new();
    prompt(|| {
        assert!(!ev.try_wait());
        assert!(!ev.wait_timeout(Duration::ZERO));
        assert!(!ev.wait_until(past()));
        assert!(!ev.wait_until(Instant::now()));
    });
    ev.set();
    prompt(|| {
        assert!(ev.try_wait());
        assert!(ev.wait_timeout(Duration::ZERO));
        assert!(ev.wait_until(past()));
    });
}

#[test]
fn huge_timeouts_on_a_set_event_return_true_at_once() {
    let _watchdog = common::watchdog();
    let ev = Event::default();
    ev.set();
    prompt(|| {
        for t in HUGE {
            assert!(ev.wait_timeout(t));
        }
        assert!(ev.wait_until(far_future()));
        ev.wait();
    });
}

#[test]
#[cfg_attr(miri, ignore)]
fn huge_timeouts_on_a_clear_event_wait_for_set() {
    let _watchdog = common::watchdog();
    let ev = Event::new();
    for t in HUGE {
        ev.clear();
        thread::scope(|s| {
            let w = common::spawn_parked(s, || ev.wait_timeout(t));
            ev.set();
            assert!(w.join().unwrap(), "{t:?} must mean forever");
        });
    }
    ev.clear();
    thread::scope(|s| {
        let a = common::spawn_parked(s, || ev.wait_until(far_future()));
        let b = common::spawn_parked(s, || ev.wait());
        s.spawn(|| ev.set());
        assert!(a.join().unwrap());
        b.join().unwrap();
    });
    assert_eq!(format!("{ev:?}"), "Event { set: true, waiters: false }");
}

#[test]
fn set_and_clear_are_idempotent() {
    let _watchdog = common::watchdog();
    let ev = Event::new();
    ev.clear();
    ev.clear();
    assert!(!ev.is_set());
    ev.set();
    ev.set();
    assert!(ev.is_set());
    ev.clear();
    assert!(!ev.is_set());
    assert!(!ev.wait_timeout(Duration::from_millis(5)));
}

#[test]
fn timed_out_waiter_leaves_no_waiters_bit() {
    let _watchdog = common::watchdog();
    let ev = Event::new();
    assert!(!ev.wait_timeout(Duration::from_millis(10)));
    assert_eq!(format!("{ev:?}"), "Event { set: false, waiters: false }");
    ev.set();
    ev.clear();
    assert!(!ev.wait_until(Instant::now() + Duration::from_millis(5)));
}
