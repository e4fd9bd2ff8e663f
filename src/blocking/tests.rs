//! The one timeout rule, checked for every type: `Duration::ZERO` and a
//! deadline already past are exactly one non-blocking try. Each test puts
//! the primitive in a state where a blocking call would have to wait and
//! asserts the result *and* that the call took no blocking step (no spin or
//! yield of `SpinWait`, no park, no futex wait: `sync::blocking_steps`
//! counts them for the calling thread), so it is deterministic, never a
//! timing.

use crate::sync::blocking_steps::count;
use crate::{Barrier, BoundedSemaphore, Condition, Error, Event, Lock, RLock, Semaphore};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A deadline already past.
fn past() -> Instant {
    let now = Instant::now();
    now.checked_sub(Duration::from_millis(1)).unwrap_or(now)
}

/// Asserts that `f` returns `want` without a blocking step.
#[track_caller]
fn a_try<R: PartialEq + std::fmt::Debug>(what: &str, want: R, f: impl FnOnce() -> R) {
    let (got, steps) = count(f);
    assert_eq!(got, want, "{what}: result");
    assert_eq!(steps, 0, "{what}: spun, yielded or parked");
}

/// Runs `hold` on another thread, then `check` here while that thread keeps
/// what `hold` took; the helper gives it back (`give_back`) afterwards.
fn while_held_elsewhere(
    hold: impl FnOnce() + Send,
    give_back: impl FnOnce() + Send,
    check: impl FnOnce(),
) {
    let (held_tx, held_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let done_tx = done_tx;
    thread::scope(|s| {
        s.spawn(move || {
            hold();
            held_tx.send(()).unwrap();
            let _ = done_rx.recv();
            give_back();
        });
        held_rx.recv().unwrap();
        // Dropped on the way out, also when `check` panics: the helper
        // then gives back what it holds and the scope can end.
        let _done = done_tx;
        check();
    });
}

#[test]
fn lock() {
    let _watchdog = crate::test_watchdog::watchdog();
    let lock = Lock::new();
    lock.acquire();
    a_try("acquire_timeout(0)", false, || {
        lock.acquire_timeout(Duration::ZERO)
    });
    a_try("acquire_until(past)", false, || lock.acquire_until(past()));
    a_try("lock_timeout(0)", true, || {
        lock.lock_timeout(Duration::ZERO).is_none()
    });
    a_try("lock_until(past)", true, || {
        lock.lock_until(past()).is_none()
    });
    a_try("try_acquire", false, || lock.try_acquire());
    lock.release().unwrap();
    a_try("acquire_timeout(0), free", true, || {
        lock.acquire_timeout(Duration::ZERO)
    });
    lock.release().unwrap();
    a_try("acquire_until(past), free", true, || {
        lock.acquire_until(past())
    });
    lock.release().unwrap();
    // `Mutex<T>`'s timed forms (lock_api's `RawMutexTimed`) too.
    let m = crate::Mutex::new(0);
    let _g = m.lock();
    a_try("Mutex::try_lock_for(0)", true, || {
        m.try_lock_for(Duration::ZERO).is_none()
    });
    a_try("Mutex::try_lock_until(past)", true, || {
        m.try_lock_until(past()).is_none()
    });
}

#[test]
fn rlock() {
    let _watchdog = crate::test_watchdog::watchdog();
    let r = RLock::new();
    while_held_elsewhere(
        || r.acquire(),
        || r.release().unwrap(),
        || {
            a_try("acquire_timeout(0)", false, || {
                r.acquire_timeout(Duration::ZERO)
            });
            a_try("acquire_until(past)", false, || r.acquire_until(past()));
            a_try("lock_timeout(0)", true, || {
                r.lock_timeout(Duration::ZERO).is_none()
            });
            a_try("lock_until(past)", true, || r.lock_until(past()).is_none());
        },
    );
    a_try("acquire_until(past), free", true, || {
        r.acquire_until(past())
    });
    a_try("acquire_timeout(0), re-entry", true, || {
        r.acquire_timeout(Duration::ZERO)
    });
    r.release().unwrap();
    r.release().unwrap();
}

#[test]
fn semaphore() {
    let _watchdog = crate::test_watchdog::watchdog();
    let sem = Semaphore::new(0);
    a_try("acquire_timeout(0)", false, || {
        sem.acquire_timeout(Duration::ZERO)
    });
    a_try("acquire_until(past)", false, || sem.acquire_until(past()));
    a_try("access_timeout(0)", true, || {
        sem.access_timeout(Duration::ZERO).is_none()
    });
    a_try("access_until(past)", true, || {
        sem.access_until(past()).is_none()
    });
    sem.release();
    a_try("acquire_until(past), a permit", true, || {
        sem.acquire_until(past())
    });
}

#[test]
fn bounded_semaphore() {
    let _watchdog = crate::test_watchdog::watchdog();
    let sem = BoundedSemaphore::new(1);
    sem.acquire();
    a_try("acquire_timeout(0)", false, || {
        sem.acquire_timeout(Duration::ZERO)
    });
    a_try("acquire_until(past)", false, || sem.acquire_until(past()));
    a_try("access_timeout(0)", true, || {
        sem.access_timeout(Duration::ZERO).is_none()
    });
    a_try("access_until(past)", true, || {
        sem.access_until(past()).is_none()
    });
    sem.release().unwrap();
    a_try("acquire_timeout(0), a permit", true, || {
        sem.acquire_timeout(Duration::ZERO)
    });
}

#[test]
fn event() {
    let _watchdog = crate::test_watchdog::watchdog();
    let ev = Event::new();
    a_try("wait_timeout(0)", false, || ev.wait_timeout(Duration::ZERO));
    a_try("wait_until(past)", false, || ev.wait_until(past()));
    ev.set();
    a_try("wait_timeout(0), set", true, || {
        ev.wait_timeout(Duration::ZERO)
    });
    a_try("wait_until(past), set", true, || ev.wait_until(past()));
}

#[test]
fn condition() {
    let _watchdog = crate::test_watchdog::watchdog();
    let cond = Condition::with_lock(Lock::new());
    let g = cond.lock();
    a_try("wait_timeout(0)", Ok(false), || {
        cond.wait_timeout(Duration::ZERO)
    });
    a_try("wait_until(past)", Ok(false), || cond.wait_until(past()));
    a_try("wait_for_timeout(false, 0)", Ok(false), || {
        cond.wait_for_timeout(|| false, Duration::ZERO)
    });
    a_try("wait_for_until(false, past)", Ok(false), || {
        cond.wait_for_until(|| false, past())
    });
    assert!(cond.lock_ref().locked(), "a try keeps the lock");
    a_try("acquire_timeout(0), the lock", false, || {
        cond.acquire_timeout(Duration::ZERO)
    });
    a_try("acquire_until(past), the lock", false, || {
        cond.acquire_until(past())
    });
    drop(g);
    a_try(
        "wait_timeout(0), not held",
        Err(Error::WaitUnacquired),
        || cond.wait_timeout(Duration::ZERO),
    );
    // An RLock-bound one keeps every level.
    let cond = Condition::new();
    let _a = cond.lock();
    let _b = cond.lock();
    a_try("wait_timeout(0), RLock", Ok(false), || {
        cond.wait_timeout(Duration::ZERO)
    });
    assert_eq!(cond.lock_ref().recursion_count(), 2);
}

#[test]
fn barrier() {
    let _watchdog = crate::test_watchdog::watchdog();
    // Not the last party: the timeout fires at once and breaks the round.
    let b = Barrier::new(2);
    a_try("wait_timeout(0)", Err(Error::BrokenBarrier), || {
        b.wait_timeout(Duration::ZERO)
    });
    assert!(b.broken());
    b.reset();
    a_try("wait_until(past)", Err(Error::BrokenBarrier), || {
        b.wait_until(past())
    });
    assert!(b.broken());
    // The last party: the round completes.
    let one = Barrier::new(1);
    a_try("wait_timeout(0), last", Ok(0), || {
        one.wait_timeout(Duration::ZERO)
    });
    a_try("wait_until(past), last", Ok(0), || one.wait_until(past()));
    let zero_default = Barrier::with_timeout(2, Duration::ZERO);
    a_try(
        "wait() with a zero default",
        Err(Error::BrokenBarrier),
        || zero_default.wait(),
    );
}

#[cfg(target_os = "linux")]
mod process {
    use super::*;
    use crate::process::Region;

    fn region() -> Region {
        Region::anonymous(1 << 20).expect("an anonymous region")
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn lock() {
        let _watchdog = crate::test_watchdog::watchdog();
        let r = region();
        let lock = r.lock("l").unwrap();
        lock.acquire();
        a_try("acquire_timeout(0)", false, || {
            lock.acquire_timeout(Duration::ZERO)
        });
        a_try("acquire_until(past)", false, || lock.acquire_until(past()));
        a_try("lock_timeout(0)", true, || {
            lock.lock_timeout(Duration::ZERO).is_none()
        });
        a_try("lock_until(past)", true, || {
            lock.lock_until(past()).is_none()
        });
        lock.release().unwrap();
        a_try("acquire_until(past), free", true, || {
            lock.acquire_until(past())
        });
        lock.release().unwrap();
    }

    /// A guard form that fails must change nothing: no guard is built (and
    /// dropped, which would release a lock someone else holds or add a
    /// permit nobody gave back).
    #[test]
    #[cfg_attr(miri, ignore)]
    fn failed_guard_forms_change_nothing() {
        let _watchdog = crate::test_watchdog::watchdog();
        let r = region();
        let lock = r.lock("l").unwrap();
        lock.acquire();
        assert!(lock.try_lock().is_none());
        assert!(lock.locked(), "Lock::try_lock released the holder's lock");
        assert!(lock.lock_timeout(Duration::from_millis(1)).is_none());
        assert!(
            lock.locked(),
            "Lock::lock_timeout released the holder's lock"
        );
        let sem = r.semaphore("s", 0).unwrap();
        assert!(sem.try_access().is_none());
        assert_eq!(sem.available(), 0, "Semaphore::try_access made a permit");
        assert!(sem.access_timeout(Duration::from_millis(1)).is_none());
        assert_eq!(
            sem.available(),
            0,
            "Semaphore::access_timeout made a permit"
        );
        let b = r.bounded_semaphore("b", 1).unwrap();
        b.acquire();
        assert!(b.try_access().is_none());
        assert_eq!(
            b.available(),
            0,
            "BoundedSemaphore::try_access made a permit"
        );
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn rlock() {
        let _watchdog = crate::test_watchdog::watchdog();
        let r = region();
        let rl = r.rlock("r").unwrap();
        let theirs = rl.clone();
        let theirs2 = rl.clone();
        while_held_elsewhere(
            move || theirs.acquire(),
            move || theirs2.release().unwrap(),
            || {
                a_try("acquire_timeout(0)", false, || {
                    rl.acquire_timeout(Duration::ZERO)
                });
                a_try("acquire_until(past)", false, || rl.acquire_until(past()));
                a_try("lock_timeout(0)", true, || {
                    rl.lock_timeout(Duration::ZERO).is_none()
                });
                a_try("lock_until(past)", true, || rl.lock_until(past()).is_none());
            },
        );
        a_try("acquire_until(past), free", true, || {
            rl.acquire_until(past())
        });
        rl.release().unwrap();
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn semaphores() {
        let _watchdog = crate::test_watchdog::watchdog();
        let r = region();
        let sem = r.semaphore("s", 0).unwrap();
        a_try("acquire_timeout(0)", false, || {
            sem.acquire_timeout(Duration::ZERO)
        });
        a_try("acquire_until(past)", false, || sem.acquire_until(past()));
        a_try("access_timeout(0)", true, || {
            sem.access_timeout(Duration::ZERO).is_none()
        });
        a_try("access_until(past)", true, || {
            sem.access_until(past()).is_none()
        });
        sem.release();
        a_try("acquire_until(past), a permit", true, || {
            sem.acquire_until(past())
        });
        let b = r.bounded_semaphore("b", 1).unwrap();
        b.acquire();
        a_try("bounded acquire_timeout(0)", false, || {
            b.acquire_timeout(Duration::ZERO)
        });
        a_try("bounded access_until(past)", true, || {
            b.access_until(past()).is_none()
        });
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn event() {
        let _watchdog = crate::test_watchdog::watchdog();
        let r = region();
        let ev = r.event("e").unwrap();
        a_try("wait_timeout(0)", false, || ev.wait_timeout(Duration::ZERO));
        a_try("wait_until(past)", false, || ev.wait_until(past()));
        ev.set();
        a_try("wait_timeout(0), set", true, || {
            ev.wait_timeout(Duration::ZERO)
        });
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn condition() {
        let _watchdog = crate::test_watchdog::watchdog();
        let r = region();
        let cond = r.condition_with_lock("c", r.lock("cl").unwrap()).unwrap();
        let _g = cond.lock();
        a_try("wait_timeout(0)", Ok(false), || {
            cond.wait_timeout(Duration::ZERO)
        });
        a_try("wait_until(past)", Ok(false), || cond.wait_until(past()));
        a_try("wait_for_timeout(false, 0)", Ok(false), || {
            cond.wait_for_timeout(|| false, Duration::ZERO)
        });
        a_try("acquire_timeout(0), the lock", false, || {
            cond.acquire_timeout(Duration::ZERO)
        });
        assert!(cond.lock_ref().locked(), "a try keeps the lock");
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn barrier() {
        let _watchdog = crate::test_watchdog::watchdog();
        let r = region();
        let b = r.barrier("b", 2).unwrap();
        a_try("wait_timeout(0)", Err(Error::BrokenBarrier), || {
            b.wait_timeout(Duration::ZERO)
        });
        assert!(b.broken());
        b.reset();
        a_try("wait_until(past)", Err(Error::BrokenBarrier), || {
            b.wait_until(past())
        });
        let one = r.barrier("one", 1).unwrap();
        a_try("wait_timeout(0), last", Ok(0), || {
            one.wait_timeout(Duration::ZERO)
        });
    }
}
