//! Misuse and odd inputs: `Lock` and its `Mutex<T>`.

use super::*;

#[test]
fn release_unlocked_is_err_with_python_message() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    assert_err(
        lock.release(),
        Error::ReleaseUnlocked,
        "release unlocked lock",
    );
    assert_err(
        lock.release_fair(),
        Error::ReleaseUnlocked,
        "release unlocked lock",
    );
    assert!(!lock.locked(), "a failed release must not change the state");
    assert!(lock.try_acquire());
}

#[test]
fn double_release_second_is_err() {
    let _watchdog = common::watchdog();
    let lock = Lock::default();
    lock.acquire();
    assert_eq!(lock.release(), Ok(()));
    assert_err(
        lock.release(),
        Error::ReleaseUnlocked,
        "release unlocked lock",
    );
    lock.acquire();
    assert_eq!(lock.release_fair(), Ok(()));
    assert_err(
        lock.release_fair(),
        Error::ReleaseUnlocked,
        "release unlocked lock",
    );
}

#[test]
fn release_by_another_thread_is_allowed() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    lock.acquire();
    thread::scope(|s| {
        s.spawn(|| assert_eq!(lock.release(), Ok(())));
    });
    assert!(!lock.locked());
    // And the next release, from yet another thread, is the misuse.
    thread::scope(|s| {
        s.spawn(|| {
            assert_err(
                lock.release(),
                Error::ReleaseUnlocked,
                "release unlocked lock",
            )
        });
    });
}

#[test]
fn two_threads_releasing_one_acquisition_exactly_one_succeeds() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    for _ in 0..200 {
        lock.acquire();
        let gate = std::sync::Barrier::new(2);
        let results: Vec<_> = thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        gate.wait();
                        lock.release()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let oks = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            oks, 1,
            "one acquisition, one successful release: {results:?}"
        );
        assert!(results.contains(&Err(Error::ReleaseUnlocked)));
        assert!(!lock.locked());
    }
}

#[test]
fn zero_timeout_and_past_deadline_are_tries() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    // Free: a try succeeds.
    assert!(lock.acquire_timeout(Duration::ZERO));
    // Held (by us: not re-entrant): every form fails, promptly.
    prompt(|| {
        assert!(!lock.try_acquire());
        assert!(!lock.acquire_timeout(Duration::ZERO));
        assert!(!lock.acquire_until(past()));
        assert!(!lock.acquire_until(Instant::now()));
        assert!(lock.try_lock().is_none());
        assert!(lock.lock_timeout(Duration::ZERO).is_none());
        assert!(lock.lock_until(past()).is_none());
    });
    lock.release().unwrap();
    // Free again: a past deadline is still a try, and succeeds.
    assert!(lock.acquire_until(past()));
    lock.release().unwrap();
    assert!(lock.lock_until(past()).is_some());
    assert!(!lock.locked());
}

#[test]
fn own_lock_short_timeout_times_out_instead_of_deadlocking() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    lock.acquire();
    assert!(!lock.acquire_timeout(Duration::from_millis(20)));
    assert!(!lock.acquire_until(Instant::now() + Duration::from_millis(20)));
    assert!(
        lock.locked(),
        "a timed-out acquire leaves the holder's lock alone"
    );
    lock.release().unwrap();
}

#[test]
fn huge_timeouts_on_free_lock_succeed_at_once() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    for t in HUGE {
        prompt(|| assert!(lock.acquire_timeout(t)));
        lock.release().unwrap();
        prompt(|| assert!(lock.lock_timeout(t).is_some()));
    }
    prompt(|| assert!(lock.acquire_until(far_future())));
    lock.release().unwrap();
    prompt(|| assert!(lock.lock_until(far_future()).is_some()));
}

#[test]
#[cfg_attr(miri, ignore)]
fn huge_timeouts_wait_for_the_release() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    for t in HUGE {
        lock.acquire();
        thread::scope(|s| {
            let w = common::spawn_parked(s, || {
                let got = lock.acquire_timeout(t);
                lock.release().unwrap();
                got
            });
            lock.release().unwrap();
            assert!(w.join().unwrap(), "{t:?} must mean forever, not fail");
        });
    }
    lock.acquire();
    thread::scope(|s| {
        let w = common::spawn_parked(s, || lock.lock_until(far_future()).is_some());
        lock.release_fair().unwrap();
        assert!(w.join().unwrap());
    });
    assert!(!lock.locked());
}

#[test]
fn guard_dropped_on_another_thread_releases() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    let guard = lock.lock();
    thread::scope(|s| {
        let waiter = s.spawn(|| lock.acquire_timeout(Duration::MAX));
        s.spawn(move || drop(guard));
        assert!(waiter.join().unwrap());
    });
    assert!(lock.locked(), "the waiter holds it now");
    lock.release().unwrap();
}

#[test]
fn guard_after_manual_release_drops_quietly() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    let guard = lock.lock();
    lock.release().unwrap(); // Python-style release under the guard
    drop(guard); // Err(ReleaseUnlocked) swallowed, no panic
    assert!(!lock.locked());
    let guard = lock.lock();
    lock.release().unwrap();
    guard.release_fair(); // same for the fair form
    assert!(!lock.locked());
}

#[test]
fn panic_inside_guard_scope_does_not_poison() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    let msg = panic_message(|| {
        let _g = lock.lock();
        panic!("boom in Lock guard");
    });
    assert_eq!(msg, "boom in Lock guard");
    assert!(!lock.locked());
    assert!(lock.try_lock().is_some());

    let m = Mutex::new(5);
    panic_message(|| {
        let mut g = m.lock();
        *g += 1;
        panic!("boom in Mutex guard");
    });
    assert!(!m.is_locked());
    assert_eq!(*m.lock(), 6, "no poisoning: the data is there");
}

#[test]
fn mutex_timed_forms_with_odd_timeouts() {
    let _watchdog = common::watchdog();
    let m = Mutex::new(());
    for t in HUGE {
        assert!(m.try_lock_for(t).is_some());
    }
    assert!(m.try_lock_until(past()).is_some());
    assert!(m.try_lock_until(far_future()).is_some());
    let g = m.lock();
    assert!(m.try_lock_for(Duration::ZERO).is_none());
    assert!(m.try_lock_until(past()).is_none());
    drop(g);
}

#[test]
fn debug_never_blocks_while_held_elsewhere() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    lock.acquire();
    thread::scope(|s| {
        s.spawn(|| assert_eq!(format!("{lock:?}"), "Lock { locked: true }"));
        s.spawn(|| assert!(lock.locked()));
    });
    assert!(lock.try_lock().is_none());
    lock.release().unwrap();
}
