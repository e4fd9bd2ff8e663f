//! The most extreme deadline (the latest representable `Instant`), for
//! every primitive's `_until` form.

use super::*;

#[test]
#[cfg_attr(miri, ignore)]
fn every_until_form_waits_for_the_event_it_needs() {
    let _watchdog = common::watchdog();
    let deadline = common::max_instant();

    let lock = Lock::new();
    lock.acquire();
    thread::scope(|s| {
        let w = common::spawn_parked(s, || lock.acquire_until(deadline));
        lock.release().unwrap();
        assert!(w.join().unwrap(), "Lock::acquire_until(max)");
    });
    lock.release().unwrap();

    let r = RLock::new();
    r.acquire();
    thread::scope(|s| {
        let w = common::spawn_parked(s, || {
            let got = r.acquire_until(deadline);
            r.release().unwrap();
            got
        });
        r.release().unwrap();
        assert!(w.join().unwrap(), "RLock::acquire_until(max)");
    });

    let sem = Semaphore::new(0);
    thread::scope(|s| {
        let w = common::spawn_parked(s, || sem.acquire_until(deadline));
        sem.release();
        assert!(w.join().unwrap(), "Semaphore::acquire_until(max)");
    });

    let bsem = BoundedSemaphore::new(1);
    bsem.acquire();
    thread::scope(|s| {
        let w = common::spawn_parked(s, || bsem.acquire_until(deadline));
        bsem.release().unwrap();
        assert!(w.join().unwrap(), "BoundedSemaphore::acquire_until(max)");
    });

    let ev = Event::new();
    thread::scope(|s| {
        let w = common::spawn_parked(s, || ev.wait_until(deadline));
        ev.set();
        assert!(w.join().unwrap(), "Event::wait_until(max)");
    });

    let cond = Condition::with_lock(Lock::new());
    let registered = AtomicBool::new(false);
    thread::scope(|s| {
        let w = s.spawn(|| {
            let _g = cond.lock();
            registered.store(true, SeqCst);
            cond.wait_until(deadline)
        });
        common::until_locked(&cond, || registered.load(SeqCst));
        let g = cond.lock();
        cond.notify_one().unwrap();
        drop(g);
        assert_eq!(w.join().unwrap(), Ok(true), "Condition::wait_until(max)");
    });
    let g = cond.lock();
    assert_eq!(cond.wait_for_until(|| true, deadline), Ok(true));
    drop(g);

    let b = Barrier::new(2);
    thread::scope(|s| {
        let w = s.spawn(|| b.wait_until(deadline));
        common::wait_for("one party waiting", || b.n_waiting() == 1);
        assert!(b.wait_until(deadline).is_ok());
        assert!(w.join().unwrap().is_ok(), "Barrier::wait_until(max)");
    });
}
