//! Misuse and odd inputs: `RLock` and its `ReentrantMutex<T>`.

use super::*;

const NOT_OWNED: &str = "cannot release un-acquired lock";

#[test]
fn release_unowned_is_err_with_python_message() {
    let _watchdog = common::watchdog();
    let r = RLock::new();
    assert_err(r.release(), Error::NotOwned, NOT_OWNED);
    assert_err(r.release_save(), Error::NotOwned, NOT_OWNED);
    assert!(!r.locked());
    assert_eq!(r.recursion_count(), 0);
}

#[test]
fn double_release_second_is_err() {
    let _watchdog = common::watchdog();
    let r = RLock::default();
    r.acquire();
    assert_eq!(r.release(), Ok(()));
    assert_err(r.release(), Error::NotOwned, NOT_OWNED);
    assert!(!r.locked());
}

#[test]
fn release_by_non_owner_thread_is_err_and_changes_nothing() {
    let _watchdog = common::watchdog();
    let r = RLock::new();
    r.acquire();
    r.acquire();
    thread::scope(|s| {
        s.spawn(|| {
            assert_err(r.release(), Error::NotOwned, NOT_OWNED);
            assert_err(r.release_save(), Error::NotOwned, NOT_OWNED);
            assert!(!r.is_owned());
            assert_eq!(r.recursion_count(), 0);
            assert!(r.locked(), "locked by someone else");
            // Non-owners cannot get in, with any "try" form.
            assert!(!r.try_acquire());
            assert!(!r.acquire_timeout(Duration::ZERO));
            assert!(!r.acquire_until(past()));
            assert!(r.try_lock().is_none());
            assert!(r.lock_timeout(Duration::from_millis(5)).is_none());
            assert!(r.lock_until(past()).is_none());
            assert_eq!(
                format!("{r:?}"),
                "RLock { locked: true, owned_by_caller: false, recursion_count: 0 }"
            );
        });
    });
    assert!(r.is_owned());
    assert_eq!(r.recursion_count(), 2, "the failed release took nothing");
    r.release().unwrap();
    r.release().unwrap();
    assert!(!r.locked());
}

#[test]
fn owner_reentry_never_blocks_with_zero_or_past_timeouts() {
    let _watchdog = common::watchdog();
    let r = RLock::new();
    assert!(
        r.acquire_until(past()),
        "free: a past deadline is a successful try"
    );
    prompt(|| {
        assert!(r.acquire_timeout(Duration::ZERO));
        assert!(r.acquire_until(past()));
        assert!(r.try_acquire());
        for t in HUGE {
            assert!(r.acquire_timeout(t));
        }
        assert!(r.acquire_until(far_future()));
    });
    assert_eq!(r.recursion_count(), 7);
    for _ in 0..7 {
        r.release().unwrap();
    }
    assert_err(r.release(), Error::NotOwned, NOT_OWNED);
}

#[test]
#[cfg_attr(miri, ignore)]
fn huge_timeouts_wait_for_the_owner() {
    let _watchdog = common::watchdog();
    let r = RLock::new();
    for t in HUGE {
        r.acquire();
        r.acquire();
        thread::scope(|s| {
            let (w, tid) = common::spawn_tid(s, || {
                let got = r.acquire_timeout(t);
                assert_eq!(r.recursion_count(), 1);
                r.release().unwrap();
                got
            });
            common::wait_until_queued(&tid, &r, 1);
            r.release().unwrap();
            // Had that release let the waiter in, it would have run by now.
            common::wait_until_settled(&[tid]);
            r.release().unwrap(); // only now is it free
            assert!(w.join().unwrap());
        });
    }
    r.acquire();
    thread::scope(|s| {
        let w = common::spawn_parked(s, || r.lock_until(far_future()).is_some());
        r.release().unwrap();
        assert!(w.join().unwrap());
    });
    assert!(!r.locked());
}

#[test]
fn nested_guards_three_deep_dropped_in_any_order() {
    let _watchdog = common::watchdog();
    let r = RLock::new();
    let g1 = r.lock();
    let g2 = r.try_lock().expect("re-entry");
    let g3 = r.lock_timeout(Duration::ZERO).expect("re-entry");
    assert_eq!(r.recursion_count(), 3);
    // Wrong order: outermost first. Each drop is one level.
    drop(g1);
    assert_eq!(r.recursion_count(), 2);
    drop(g3);
    assert_eq!(r.recursion_count(), 1);
    assert!(r.is_owned());
    drop(g2);
    assert_eq!(r.recursion_count(), 0);
    assert!(!r.locked());
}

#[test]
fn guard_after_manual_release_drops_quietly() {
    let _watchdog = common::watchdog();
    let r = RLock::new();
    let outer = r.lock();
    let inner = r.lock_until(past()).expect("re-entry");
    r.release().unwrap();
    r.release().unwrap();
    assert!(!r.locked());
    drop(inner); // Err(NotOwned) swallowed
    drop(outer);
    assert!(!r.locked());
    assert!(r.try_acquire());
    r.release().unwrap();
}

#[test]
fn release_save_and_acquire_restore_round_trip() {
    let _watchdog = common::watchdog();
    let r = RLock::new();
    for _ in 0..3 {
        r.acquire();
    }
    let saved = r.release_save().unwrap();
    assert_eq!(saved.depth(), 3);
    assert!(!r.locked());
    assert_err(r.release_save(), Error::NotOwned, NOT_OWNED);
    // Another thread can take it meanwhile.
    thread::scope(|s| {
        s.spawn(|| {
            let _g = r.lock();
        });
    });
    r.acquire_restore(saved);
    assert_eq!(r.recursion_count(), 3);
    for _ in 0..3 {
        r.release().unwrap();
    }
    assert!(!r.locked());
}

#[test]
fn panic_inside_nested_guards_does_not_poison() {
    let _watchdog = common::watchdog();
    let r = RLock::new();
    let msg = panic_message(|| {
        let _a = r.lock();
        let _b = r.lock();
        let _c = r.lock();
        panic!("boom three deep");
    });
    assert_eq!(msg, "boom three deep");
    assert!(!r.locked(), "every level released while unwinding");
    thread::scope(|s| {
        s.spawn(|| assert!(r.try_acquire() && r.release().is_ok()));
    });

    let m = ReentrantMutex::new(1);
    panic_message(|| {
        let _a = m.lock();
        let _b = m.lock();
        panic!("boom in ReentrantMutex");
    });
    assert!(!m.is_locked());
    thread::scope(|s| {
        s.spawn(|| assert_eq!(*m.try_lock_for(Duration::from_secs(1)).unwrap(), 1));
    });
}

#[test]
fn owner_thread_exiting_while_holding_leaves_it_owned_by_nobody_alive() {
    // Like Python: an RLock held by a thread that exits stays locked.
    // Threads alive at that time never see it as theirs.
    let _watchdog = common::watchdog();
    let r = RLock::new();
    thread::scope(|s| {
        s.spawn(|| {
            r.acquire();
            r.acquire();
        });
    });
    assert!(r.locked());
    assert!(!r.is_owned());
    assert_eq!(r.recursion_count(), 0);
    assert_err(r.release(), Error::NotOwned, NOT_OWNED);
    assert!(!r.try_acquire());
    assert!(!r.acquire_timeout(Duration::from_millis(5)));
}

#[test]
fn reentrant_mutex_odd_timeouts() {
    let _watchdog = common::watchdog();
    let m = ReentrantMutex::new(());
    let _g = m.lock();
    assert!(m.try_lock_for(Duration::ZERO).is_some(), "re-entry");
    assert!(m.try_lock_until(past()).is_some(), "re-entry");
    thread::scope(|s| {
        s.spawn(|| {
            assert!(m.try_lock_for(Duration::ZERO).is_none());
            assert!(m.try_lock_until(past()).is_none());
        });
    });
}
