//! Timeouts and misuse, end to end.
//!
//! Every public method of `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`,
//! `Event`, `Condition` (over `Lock`, `RLock`, `&Lock`, `Arc<RLock>`),
//! `Barrier` and the guards, driven with odd inputs: zero and huge timeouts,
//! deadlines in the past and far in the future, releases from the wrong
//! thread or in the wrong order, double releases, zero parties, permit
//! counts at and past the maximum, `notify(0)` / `notify(usize::MAX)`, waits
//! without the lock, panics inside guard scopes. Each one must give a clear
//! result: the documented `Err` (variant *and* Python-worded message), the
//! documented panic (exact message), or correct behaviour. Never a hang:
//! every test body runs under [`within`], a watchdog.
//!
//! Timings are only generous sanity bounds ("returned at once" means within
//! [`PROMPT`] seconds), never speed assertions.

use pysync::{
    Barrier, BoundedSemaphore, Condition, ConditionLock, Error, Event, Lock, Mutex, RLock,
    ReentrantMutex, Semaphore,
};
use std::any::Any;
use std::panic::{self, AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

// ----- helpers ----------------------------------------------------------------

/// How long a test body may run before the watchdog declares it hung.
const WATCHDOG: Duration = Duration::from_secs(30);

/// Generous bound for "returns at once" / "this must happen".
const PROMPT: Duration = Duration::from_secs(10);

/// Runs `f` on its own thread and returns its result (or re-raises its
/// panic, payload intact, so `#[should_panic(expected)]` still works). If it
/// has not finished within [`WATCHDOG`], the test binary aborts with a
/// message naming the test: a hang is a failure, never a stuck CI job.
fn within<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let name = thread::current().name().unwrap_or("<unnamed>").to_owned();
    thread::scope(|s| {
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let body = s.spawn(move || {
            // Dropped when `f` returns or unwinds: the watchdog stands down.
            let _done = done_tx;
            f()
        });
        if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(WATCHDOG) {
            // Straight to stderr: libtest's capture would lose `eprintln!`
            // output when the process aborts.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "test `{name}` HUNG: still running after {WATCHDOG:?}; aborting"
            );
            std::process::abort();
        }
        match body.join() {
            Ok(v) => v,
            Err(payload) => panic::resume_unwind(payload),
        }
    })
}

/// The message of a panic payload (`&str` or `String`).
fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Runs `f`, which must panic, and returns the panic's message.
fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic, but it returned normally"),
        Err(payload) => message(&*payload),
    }
}

/// Asserts the error variant and its Display message (worded like Python's).
#[track_caller]
fn assert_err<T: std::fmt::Debug>(r: Result<T, Error>, want: Error, msg: &str) {
    match r {
        Err(e) => {
            assert_eq!(e, want);
            assert_eq!(e.to_string(), msg);
        }
        Ok(v) => panic!("expected Err({want:?}), got Ok({v:?})"),
    }
}

/// Timeouts that mean "forever" and must never panic on `Instant` overflow.
const HUGE: [Duration; 2] = [Duration::MAX, Duration::from_secs(u64::MAX)];

/// A deadline that has already passed.
fn past() -> Instant {
    let now = Instant::now();
    now.checked_sub(Duration::from_secs(1)).unwrap_or(now)
}

/// A deadline a century away.
fn far_future() -> Instant {
    Instant::now()
        .checked_add(Duration::from_secs(100 * 365 * 24 * 3600))
        .expect("a century from now is representable")
}

/// The latest representable `Instant`: the most extreme "far future"
/// deadline, which the parking layer must turn into a wait (not an overflow
/// panic, not an immediate timeout).
fn max_instant() -> Instant {
    let now = Instant::now();
    let (mut lo, mut hi) = (0u64, u64::MAX);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if now.checked_add(Duration::from_secs(mid)).is_some() {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let t = now + Duration::from_secs(lo);
    let mut ns = 999_999_999u32;
    loop {
        if let Some(m) = t.checked_add(Duration::from_nanos(u64::from(ns))) {
            return m;
        }
        ns /= 2;
    }
}

/// Runs `f`, asserting it returned promptly (a sanity bound, not a speed test).
#[track_caller]
fn prompt<T>(f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let v = f();
    assert!(start.elapsed() < PROMPT, "took {:?}", start.elapsed());
    v
}

/// Spins until `f()` is true, failing after [`PROMPT`].
#[track_caller]
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < PROMPT, "never happened: {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Until `dbg` (a primitive's Debug output) shows parked waiters.
#[track_caller]
fn until_parked(dbg: impl Fn() -> String) {
    until("a waiter parked", || dbg().contains("waiters: true"));
}

// ===== Lock ====================================================================

mod lock {
    use super::*;

    #[test]
    fn release_unlocked_is_err_with_python_message() {
        within(|| {
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
        });
    }

    #[test]
    fn double_release_second_is_err() {
        within(|| {
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
        });
    }

    #[test]
    fn release_by_another_thread_is_allowed() {
        within(|| {
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
        });
    }

    #[test]
    fn two_threads_releasing_one_acquisition_exactly_one_succeeds() {
        within(|| {
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
        });
    }

    #[test]
    fn zero_timeout_and_past_deadline_are_tries() {
        within(|| {
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
        });
    }

    #[test]
    fn own_lock_short_timeout_times_out_instead_of_deadlocking() {
        within(|| {
            let lock = Lock::new();
            lock.acquire();
            assert!(!lock.acquire_timeout(Duration::from_millis(20)));
            assert!(!lock.acquire_until(Instant::now() + Duration::from_millis(20)));
            assert!(
                lock.locked(),
                "a timed-out acquire leaves the holder's lock alone"
            );
            lock.release().unwrap();
        });
    }

    #[test]
    fn huge_timeouts_on_free_lock_succeed_at_once() {
        within(|| {
            let lock = Lock::new();
            for t in HUGE {
                prompt(|| assert!(lock.acquire_timeout(t)));
                lock.release().unwrap();
                prompt(|| assert!(lock.lock_timeout(t).is_some()));
            }
            prompt(|| assert!(lock.acquire_until(far_future())));
            lock.release().unwrap();
            prompt(|| assert!(lock.lock_until(far_future()).is_some()));
        });
    }

    #[test]
    fn huge_timeouts_wait_for_the_release() {
        within(|| {
            let lock = Lock::new();
            for t in HUGE {
                lock.acquire();
                thread::scope(|s| {
                    let w = s.spawn(|| {
                        let got = lock.acquire_timeout(t);
                        lock.release().unwrap();
                        got
                    });
                    thread::sleep(Duration::from_millis(20));
                    lock.release().unwrap();
                    assert!(w.join().unwrap(), "{t:?} must mean forever, not fail");
                });
            }
            lock.acquire();
            thread::scope(|s| {
                let w = s.spawn(|| lock.lock_until(far_future()).is_some());
                thread::sleep(Duration::from_millis(20));
                lock.release_fair().unwrap();
                assert!(w.join().unwrap());
            });
            assert!(!lock.locked());
        });
    }

    #[test]
    fn guard_dropped_on_another_thread_releases() {
        within(|| {
            let lock = Lock::new();
            let guard = lock.lock();
            thread::scope(|s| {
                let waiter = s.spawn(|| lock.acquire_timeout(Duration::MAX));
                s.spawn(move || drop(guard));
                assert!(waiter.join().unwrap());
            });
            assert!(lock.locked(), "the waiter holds it now");
            lock.release().unwrap();
        });
    }

    #[test]
    fn guard_after_manual_release_drops_quietly() {
        within(|| {
            let lock = Lock::new();
            let guard = lock.lock();
            lock.release().unwrap(); // Python-style release under the guard
            drop(guard); // Err(ReleaseUnlocked) swallowed, no panic
            assert!(!lock.locked());
            let guard = lock.lock();
            lock.release().unwrap();
            guard.release_fair(); // same for the fair form
            assert!(!lock.locked());
        });
    }

    #[test]
    fn panic_inside_guard_scope_does_not_poison() {
        within(|| {
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
        });
    }

    #[test]
    fn mutex_timed_forms_with_odd_timeouts() {
        within(|| {
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
        });
    }

    #[test]
    fn debug_never_blocks_while_held_elsewhere() {
        within(|| {
            let lock = Lock::new();
            lock.acquire();
            thread::scope(|s| {
                s.spawn(|| assert_eq!(format!("{lock:?}"), "Lock { locked: true }"));
                s.spawn(|| assert!(lock.locked()));
            });
            assert!(lock.try_lock().is_none());
            lock.release().unwrap();
        });
    }
}

// ===== RLock ===================================================================

mod rlock {
    use super::*;

    const NOT_OWNED: &str = "cannot release un-acquired lock";

    #[test]
    fn release_unowned_is_err_with_python_message() {
        within(|| {
            let r = RLock::new();
            assert_err(r.release(), Error::NotOwned, NOT_OWNED);
            assert_err(r.release_save(), Error::NotOwned, NOT_OWNED);
            assert!(!r.locked());
            assert_eq!(r.recursion_count(), 0);
        });
    }

    #[test]
    fn double_release_second_is_err() {
        within(|| {
            let r = RLock::default();
            r.acquire();
            assert_eq!(r.release(), Ok(()));
            assert_err(r.release(), Error::NotOwned, NOT_OWNED);
            assert!(!r.locked());
        });
    }

    #[test]
    fn release_by_non_owner_thread_is_err_and_changes_nothing() {
        within(|| {
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
        });
    }

    #[test]
    fn owner_reentry_never_blocks_with_zero_or_past_timeouts() {
        within(|| {
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
        });
    }

    #[test]
    fn huge_timeouts_wait_for_the_owner() {
        within(|| {
            let r = RLock::new();
            for t in HUGE {
                r.acquire();
                r.acquire();
                thread::scope(|s| {
                    let w = s.spawn(|| {
                        let got = r.acquire_timeout(t);
                        assert_eq!(r.recursion_count(), 1);
                        r.release().unwrap();
                        got
                    });
                    thread::sleep(Duration::from_millis(20));
                    r.release().unwrap();
                    thread::sleep(Duration::from_millis(5));
                    r.release().unwrap(); // only now is it free
                    assert!(w.join().unwrap());
                });
            }
            r.acquire();
            thread::scope(|s| {
                let w = s.spawn(|| r.lock_until(far_future()).is_some());
                thread::sleep(Duration::from_millis(20));
                r.release().unwrap();
                assert!(w.join().unwrap());
            });
            assert!(!r.locked());
        });
    }

    #[test]
    fn nested_guards_three_deep_dropped_in_any_order() {
        within(|| {
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
        });
    }

    #[test]
    fn guard_after_manual_release_drops_quietly() {
        within(|| {
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
        });
    }

    #[test]
    fn release_save_and_acquire_restore_round_trip() {
        within(|| {
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
        });
    }

    #[test]
    fn panic_inside_nested_guards_does_not_poison() {
        within(|| {
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
        });
    }

    #[test]
    fn owner_thread_exiting_while_holding_leaves_it_owned_by_nobody_alive() {
        // Like Python: an RLock held by a thread that exits stays locked.
        // Threads alive at that time never see it as theirs.
        within(|| {
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
        });
    }

    #[test]
    fn reentrant_mutex_odd_timeouts() {
        within(|| {
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
        });
    }
}

// ===== Semaphore ===============================================================

mod semaphore {
    use super::*;

    const OVERFLOW: &str =
        "Semaphore released past Semaphore::MAX_PERMITS (usize::MAX >> 1) permits";
    const NEW_TOO_BIG: &str =
        "Semaphore: initial permits exceed Semaphore::MAX_PERMITS (usize::MAX >> 1)";

    #[test]
    #[should_panic(
        expected = "Semaphore: initial permits exceed Semaphore::MAX_PERMITS (usize::MAX >> 1)"
    )]
    fn new_usize_max_panics() {
        within(|| Semaphore::new(usize::MAX));
    }

    #[test]
    fn new_just_past_max_panics_and_max_is_fine() {
        within(|| {
            assert_eq!(Semaphore::MAX_PERMITS, usize::MAX >> 1);
            let msg = panic_message(|| Semaphore::new(Semaphore::MAX_PERMITS + 1));
            assert_eq!(msg, NEW_TOO_BIG);
            let sem = Semaphore::new(Semaphore::MAX_PERMITS);
            assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
            assert!(sem.try_acquire());
            assert_eq!(sem.available(), Semaphore::MAX_PERMITS - 1);
            sem.release();
            assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
        });
    }

    #[test]
    fn release_past_max_panics_and_leaves_count_unchanged() {
        within(|| {
            let sem = Semaphore::new(Semaphore::MAX_PERMITS);
            assert_eq!(panic_message(|| sem.release()), OVERFLOW);
            assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
            assert_eq!(panic_message(|| sem.release_n(1)), OVERFLOW);
            assert_eq!(panic_message(|| sem.release_n(usize::MAX)), OVERFLOW);
            assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
            sem.release_n(0); // zero always fits
            assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
        });
    }

    #[test]
    fn release_n_zero_is_a_no_op() {
        within(|| {
            let sem = Semaphore::new(0);
            sem.release_n(0);
            assert_eq!(sem.available(), 0);
            assert!(!sem.try_acquire());
        });
    }

    #[test]
    fn release_n_usize_max_panics_unchanged_and_max_permits_fits() {
        within(|| {
            let sem = Semaphore::new(0);
            assert_eq!(panic_message(|| sem.release_n(usize::MAX)), OVERFLOW);
            assert_eq!(sem.available(), 0);
            sem.release_n(Semaphore::MAX_PERMITS);
            assert_eq!(sem.available(), Semaphore::MAX_PERMITS);

            let one = Semaphore::new(1);
            assert_eq!(
                panic_message(|| one.release_n(Semaphore::MAX_PERMITS)),
                OVERFLOW
            );
            assert_eq!(one.available(), 1, "all or nothing");
        });
    }

    #[test]
    fn release_n_usize_max_with_a_waiter_panics_and_wakes_nobody() {
        within(|| {
            let sem = Semaphore::new(0);
            thread::scope(|s| {
                let w = s.spawn(|| sem.acquire_timeout(Duration::MAX));
                until_parked(|| format!("{sem:?}"));
                assert_eq!(panic_message(|| sem.release_n(usize::MAX)), OVERFLOW);
                assert_eq!(sem.available(), 0);
                thread::sleep(Duration::from_millis(20));
                assert!(!w.is_finished(), "the failed release handed out a permit");
                sem.release_n(1);
                assert!(w.join().unwrap());
            });
            assert_eq!(sem.available(), 0);
        });
    }

    #[test]
    fn release_n_max_permits_with_a_waiter_hands_one_and_keeps_the_rest() {
        within(|| {
            let sem = Semaphore::new(0);
            thread::scope(|s| {
                let w = s.spawn(|| sem.acquire_timeout(Duration::MAX));
                until_parked(|| format!("{sem:?}"));
                sem.release_n(Semaphore::MAX_PERMITS);
                assert!(w.join().unwrap());
            });
            assert_eq!(sem.available(), Semaphore::MAX_PERMITS - 1);
        });
    }

    #[test]
    fn zero_permits_zero_timeout_and_past_deadline_fail_promptly() {
        within(|| {
            let sem = Semaphore::new(0);
            prompt(|| {
                assert!(!sem.try_acquire());
                assert!(!sem.acquire_timeout(Duration::ZERO));
                assert!(!sem.acquire_until(past()));
                assert!(!sem.acquire_until(Instant::now()));
                assert!(sem.try_access().is_none());
                assert!(sem.access_timeout(Duration::ZERO).is_none());
                assert!(sem.access_until(past()).is_none());
            });
            assert_eq!(sem.available(), 0);
            assert_eq!(
                format!("{sem:?}"),
                "Semaphore { available: 0, waiters: false }"
            );
            sem.release();
            assert!(
                sem.acquire_until(past()),
                "available: a past deadline is a try"
            );
        });
    }

    #[test]
    fn huge_timeouts_succeed_at_once_or_wait_for_a_release() {
        within(|| {
            let sem = Semaphore::default();
            for t in HUGE {
                prompt(|| assert!(sem.acquire_timeout(t)));
                sem.release();
                prompt(|| drop(sem.access_timeout(t).unwrap()));
            }
            prompt(|| assert!(sem.acquire_until(far_future())));
            sem.release();
            prompt(|| drop(sem.access_until(far_future()).unwrap()));

            let empty = Semaphore::new(0);
            for t in HUGE {
                thread::scope(|s| {
                    let w = s.spawn(|| empty.acquire_timeout(t));
                    until_parked(|| format!("{empty:?}"));
                    empty.release();
                    assert!(w.join().unwrap());
                });
            }
            thread::scope(|s| {
                let w = s.spawn(|| empty.access_until(far_future()).map(|g| g.release()));
                until_parked(|| format!("{empty:?}"));
                empty.release();
                assert_eq!(w.join().unwrap(), Some(Ok(())));
            });
            assert_eq!(empty.available(), 1);
        });
    }

    #[test]
    fn release_by_a_thread_that_never_acquired_raises_the_count() {
        within(|| {
            let sem = Semaphore::new(1);
            sem.acquire();
            thread::scope(|s| {
                s.spawn(|| {
                    sem.release();
                    sem.release(); // past the initial value: fine for Semaphore
                });
            });
            assert_eq!(sem.available(), 2);
        });
    }

    #[test]
    fn nested_guards_and_wrong_order_drops() {
        within(|| {
            let sem = Semaphore::new(3);
            let a = sem.access();
            let b = sem.try_access().unwrap();
            let c = sem.access_timeout(Duration::ZERO).unwrap();
            assert_eq!(sem.available(), 0);
            assert!(sem.try_access().is_none());
            assert!(sem.access_until(past()).is_none());
            drop(a);
            assert_eq!(sem.available(), 1);
            assert_eq!(c.release(), Ok(()));
            drop(b);
            assert_eq!(sem.available(), 3);
        });
    }

    #[test]
    fn guard_dropped_on_another_thread_wakes_a_waiter() {
        within(|| {
            let sem = Semaphore::new(1);
            let permit = sem.access();
            thread::scope(|s| {
                let w = s.spawn(|| sem.acquire_timeout(Duration::MAX));
                until_parked(|| format!("{sem:?}"));
                s.spawn(move || drop(permit));
                assert!(w.join().unwrap());
            });
            assert_eq!(sem.available(), 0, "the waiter kept the handed-off permit");
        });
    }

    #[test]
    fn panic_inside_guard_scope_gives_the_permit_back() {
        within(|| {
            let sem = Semaphore::new(2);
            let msg = panic_message(|| {
                let _a = sem.access();
                let _b = sem.access();
                panic!("boom holding two permits");
            });
            assert_eq!(msg, "boom holding two permits");
            assert_eq!(sem.available(), 2);
        });
    }

    #[test]
    fn guard_release_or_drop_past_max_panics_with_overflow_message() {
        within(|| {
            let sem = Semaphore::new(Semaphore::MAX_PERMITS);
            let g = sem.access();
            sem.release(); // someone else filled it back up to the max
            assert!(format!("{g:?}").contains("bounded: false"));
            assert_eq!(panic_message(move || drop(g)), OVERFLOW);
            assert_eq!(sem.available(), Semaphore::MAX_PERMITS);

            let g = sem.access();
            sem.release();
            assert_eq!(panic_message(move || g.release()), OVERFLOW);
            assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
        });
    }
}

// ===== BoundedSemaphore ========================================================

mod bounded_semaphore {
    use super::*;

    const TOO_MANY: &str = "Semaphore released too many times";

    #[test]
    fn release_at_initial_is_err_with_python_message() {
        within(|| {
            let sem = BoundedSemaphore::default();
            assert_eq!(sem.initial(), 1);
            assert_err(sem.release(), Error::TooManyReleases, TOO_MANY);
            assert_eq!(sem.available(), 1);
            sem.acquire();
            assert_eq!(sem.release(), Ok(()));
            assert_err(sem.release(), Error::TooManyReleases, TOO_MANY);
        });
    }

    #[test]
    fn zero_initial_can_never_be_released() {
        within(|| {
            let sem = BoundedSemaphore::new(0);
            assert_err(sem.release(), Error::TooManyReleases, TOO_MANY);
            assert_err(sem.release_n(1), Error::TooManyReleases, TOO_MANY);
            assert_eq!(sem.release_n(0), Ok(()));
            prompt(|| {
                assert!(!sem.try_acquire());
                assert!(!sem.acquire_timeout(Duration::ZERO));
                assert!(!sem.acquire_until(past()));
                assert!(sem.try_access().is_none());
                assert!(sem.access_timeout(Duration::ZERO).is_none());
                assert!(sem.access_until(past()).is_none());
            });
        });
    }

    #[test]
    fn release_n_is_all_or_nothing_at_the_extremes() {
        within(|| {
            let sem = BoundedSemaphore::new(3);
            sem.acquire();
            sem.acquire();
            assert_eq!(sem.release_n(0), Ok(()));
            assert_err(sem.release_n(usize::MAX), Error::TooManyReleases, TOO_MANY);
            assert_err(
                sem.release_n(Semaphore::MAX_PERMITS),
                Error::TooManyReleases,
                TOO_MANY,
            );
            assert_err(sem.release_n(3), Error::TooManyReleases, TOO_MANY);
            assert_eq!(sem.available(), 1, "unchanged");
            assert_eq!(sem.release_n(2), Ok(()));
            assert_eq!(sem.available(), 3);
        });
    }

    #[test]
    fn new_past_max_panics_and_max_works() {
        within(|| {
            assert_eq!(
                panic_message(|| BoundedSemaphore::new(usize::MAX)),
                "Semaphore: initial permits exceed Semaphore::MAX_PERMITS (usize::MAX >> 1)"
            );
            let sem = BoundedSemaphore::new(Semaphore::MAX_PERMITS);
            assert_err(sem.release(), Error::TooManyReleases, TOO_MANY);
            assert_err(sem.release_n(usize::MAX), Error::TooManyReleases, TOO_MANY);
            assert!(sem.try_acquire());
            assert_eq!(sem.release(), Ok(()));
            assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
        });
    }

    #[test]
    fn over_release_with_a_waiter_is_err_and_wakes_nobody() {
        within(|| {
            let sem = BoundedSemaphore::new(1);
            sem.acquire();
            thread::scope(|s| {
                let w = s.spawn(|| sem.acquire_timeout(Duration::MAX));
                until_parked(|| format!("{sem:?}"));
                assert_err(sem.release_n(2), Error::TooManyReleases, TOO_MANY);
                assert_err(sem.release_n(usize::MAX), Error::TooManyReleases, TOO_MANY);
                thread::sleep(Duration::from_millis(20));
                assert!(!w.is_finished(), "a failed release handed out a permit");
                assert_eq!(sem.release(), Ok(()));
                assert!(w.join().unwrap());
            });
            assert_eq!(sem.available(), 0);
            assert_eq!(sem.release(), Ok(()));
            assert_err(sem.release(), Error::TooManyReleases, TOO_MANY);
        });
    }

    #[test]
    fn huge_timeouts_wait_for_a_release_from_another_thread() {
        within(|| {
            let sem = BoundedSemaphore::new(1);
            for t in HUGE {
                prompt(|| assert!(sem.acquire_timeout(t)));
                thread::scope(|s| {
                    let w = s.spawn(|| sem.acquire_timeout(t));
                    until_parked(|| format!("{sem:?}"));
                    s.spawn(|| sem.release().unwrap());
                    assert!(w.join().unwrap());
                });
                sem.release().unwrap();
            }
            assert!(sem.acquire_until(far_future()));
            thread::scope(|s| {
                let w = s.spawn(|| sem.access_until(far_future()).map(|g| g.release()));
                until_parked(|| format!("{sem:?}"));
                sem.release().unwrap();
                assert_eq!(w.join().unwrap(), Some(Ok(())));
            });
            assert_eq!(sem.available(), 1);
        });
    }

    #[test]
    fn nested_guards_dropped_on_other_threads() {
        within(|| {
            let sem = BoundedSemaphore::new(2);
            let a = sem.access();
            let b = sem.access_until(Instant::now()).unwrap();
            assert!(sem.try_access().is_none());
            thread::scope(|s| {
                s.spawn(move || drop(b));
                s.spawn(move || drop(a));
            });
            assert_eq!(sem.available(), 2);
            assert_err(sem.release(), Error::TooManyReleases, TOO_MANY);
        });
    }

    #[test]
    fn guard_at_ceiling_release_is_err_and_drop_panics() {
        within(|| {
            let sem = BoundedSemaphore::new(1);
            let g = sem.access();
            sem.release().unwrap(); // someone gave the permit back for us
            assert_err(g.release(), Error::TooManyReleases, TOO_MANY);
            assert_eq!(sem.available(), 1);

            let g = sem.access();
            sem.release().unwrap();
            assert_eq!(panic_message(move || drop(g)), TOO_MANY);
            assert_eq!(sem.available(), 1);
        });
    }

    #[test]
    fn guard_at_ceiling_dropped_while_panicking_does_not_double_panic() {
        within(|| {
            let sem = BoundedSemaphore::new(1);
            let msg = panic_message(|| {
                let _g = sem.access();
                sem.release().unwrap();
                panic!("original panic");
            });
            assert_eq!(msg, "original panic", "the guard must not panic again");
            assert_eq!(sem.available(), 1);
        });
    }

    #[test]
    fn panic_inside_guard_scope_gives_the_permit_back() {
        within(|| {
            let sem = BoundedSemaphore::new(1);
            panic_message(|| {
                let _g = sem.access();
                panic!("boom");
            });
            assert_eq!(sem.available(), 1);
            assert_eq!(
                format!("{sem:?}"),
                "BoundedSemaphore { available: 1, initial: 1, waiters: false }"
            );
        });
    }
}

// ===== Event ===================================================================

mod event {
    use super::*;

    #[test]
    fn zero_timeout_and_past_deadline_are_checks() {
        within(|| {
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
        });
    }

    #[test]
    fn huge_timeouts_on_a_set_event_return_true_at_once() {
        within(|| {
            let ev = Event::default();
            ev.set();
            prompt(|| {
                for t in HUGE {
                    assert!(ev.wait_timeout(t));
                }
                assert!(ev.wait_until(far_future()));
                ev.wait();
            });
        });
    }

    #[test]
    fn huge_timeouts_on_a_clear_event_wait_for_set() {
        within(|| {
            let ev = Event::new();
            for t in HUGE {
                ev.clear();
                thread::scope(|s| {
                    let w = s.spawn(|| ev.wait_timeout(t));
                    until_parked(|| format!("{ev:?}"));
                    ev.set();
                    assert!(w.join().unwrap(), "{t:?} must mean forever");
                });
            }
            ev.clear();
            thread::scope(|s| {
                let a = s.spawn(|| ev.wait_until(far_future()));
                let b = s.spawn(|| ev.wait());
                until_parked(|| format!("{ev:?}"));
                s.spawn(|| ev.set());
                assert!(a.join().unwrap());
                b.join().unwrap();
            });
            assert_eq!(format!("{ev:?}"), "Event { set: true, waiters: false }");
        });
    }

    #[test]
    fn set_and_clear_are_idempotent() {
        within(|| {
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
        });
    }

    #[test]
    fn timed_out_waiter_leaves_no_waiters_bit() {
        within(|| {
            let ev = Event::new();
            assert!(!ev.wait_timeout(Duration::from_millis(10)));
            assert_eq!(format!("{ev:?}"), "Event { set: false, waiters: false }");
            ev.set();
            ev.clear();
            assert!(!ev.wait_until(Instant::now() + Duration::from_millis(5)));
        });
    }
}

// ===== Condition ===============================================================

const WAIT_UNACQ: &str = "cannot wait on un-acquired lock";
const NOTIFY_UNACQ: &str = "cannot notify on un-acquired lock";

/// Every wait and notify form, none allowed: the lock is not held (as the
/// lock kind counts "held").
fn assert_all_forms_unacquired<L: ConditionLock>(cond: &Condition<L>) {
    let pred_ran = AtomicBool::new(false);
    let pred = || {
        pred_ran.store(true, SeqCst);
        true
    };
    prompt(|| {
        assert_err(cond.wait(), Error::WaitUnacquired, WAIT_UNACQ);
        for t in [Duration::ZERO, Duration::from_millis(1), Duration::MAX] {
            assert_err(cond.wait_timeout(t), Error::WaitUnacquired, WAIT_UNACQ);
            assert_err(
                cond.wait_for_timeout(pred, t),
                Error::WaitUnacquired,
                WAIT_UNACQ,
            );
        }
        for d in [past(), far_future()] {
            assert_err(cond.wait_until(d), Error::WaitUnacquired, WAIT_UNACQ);
            assert_err(
                cond.wait_for_until(pred, d),
                Error::WaitUnacquired,
                WAIT_UNACQ,
            );
        }
        assert_err(cond.wait_for(pred), Error::WaitUnacquired, WAIT_UNACQ);
        for n in [0, 1, 2, usize::MAX] {
            assert_err(cond.notify(n), Error::NotifyUnacquired, NOTIFY_UNACQ);
        }
        assert_err(cond.notify_one(), Error::NotifyUnacquired, NOTIFY_UNACQ);
        assert_err(cond.notify_all(), Error::NotifyUnacquired, NOTIFY_UNACQ);
    });
    assert!(!pred_ran.load(SeqCst), "pred must not run without the lock");
}

/// Spins (with the lock released between looks) until `f()` holds under the
/// condition's lock. A waiter that registers under the lock right before
/// `wait` is queued once the lock is seen free again.
fn until_locked<L: ConditionLock>(cond: &Condition<L>, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        let g = cond.lock();
        if f() {
            return;
        }
        drop(g);
        assert!(start.elapsed() < PROMPT, "condition not reached in time");
        thread::sleep(Duration::from_millis(1));
    }
}

/// The same suite for every lock a condition can be bound to.
macro_rules! condition_suite {
    (
        $module:ident,
        make = $make:expr,
        reentrant = $reentrant:expr,
        held_by_anyone = $anyone:expr,
        release_err = ($rel_err:expr, $rel_msg:expr) $(,)?
    ) => {
        mod $module {
            use super::*;

            #[test]
            fn wait_and_notify_without_the_lock_are_errs() {
                within(|| {
                    let cond = $make;
                    assert_all_forms_unacquired(&cond);
                    assert_err(cond.release(), $rel_err, $rel_msg);
                    // Still unlocked and usable.
                    let _g = cond.lock();
                    assert_eq!(cond.notify_all(), Ok(()));
                });
            }

            #[test]
            fn wait_and_notify_after_releasing_are_errs() {
                within(|| {
                    let cond = $make;
                    cond.acquire();
                    assert_eq!(cond.release(), Ok(()));
                    assert_all_forms_unacquired(&cond);
                    let g = cond.lock();
                    drop(g);
                    assert_all_forms_unacquired(&cond);
                });
            }

            #[test]
            fn lock_held_by_another_thread() {
                within(|| {
                    let cond = $make;
                    let (held_tx, held_rx) = mpsc::channel();
                    let (done_tx, done_rx) = mpsc::channel::<()>();
                    thread::scope(|s| {
                        let cond_ref = &cond;
                        s.spawn(move || {
                            let cond = cond_ref;
                            cond.acquire();
                            held_tx.send(()).unwrap();
                            done_rx.recv().unwrap();
                            if !$anyone {
                                // An owned lock: still ours, release it.
                                assert_eq!(cond.release(), Ok(()));
                            }
                        });
                        held_rx.recv().unwrap();
                        // The acquire forms all fail promptly.
                        prompt(|| {
                            assert!(!cond.try_acquire());
                            assert!(!cond.acquire_timeout(Duration::ZERO));
                            assert!(!cond.acquire_until(past()));
                        });
                        if $anyone {
                            // Python's `_is_owned` for a Lock: held by anyone
                            // counts. Notify is fine; wait releases the other
                            // thread's acquisition and returns holding it.
                            assert_eq!(cond.notify(usize::MAX), Ok(()));
                            assert_eq!(cond.notify(0), Ok(()));
                            assert_eq!(cond.notify_one(), Ok(()));
                            assert_eq!(cond.wait_timeout(Duration::from_millis(10)), Ok(false));
                            assert!(cond.lock_ref().is_held());
                            assert_eq!(cond.wait_for_until(|| false, past()), Ok(false));
                            assert_eq!(cond.release(), Ok(()));
                            assert!(!cond.lock_ref().is_held());
                        } else {
                            assert_all_forms_unacquired(&cond);
                            assert_err(cond.release(), $rel_err, $rel_msg);
                        }
                        done_tx.send(()).unwrap();
                    });
                    assert!(!cond.lock_ref().is_held());
                    assert!(cond.try_acquire());
                    assert_eq!(cond.release(), Ok(()));
                });
            }

            #[test]
            fn zero_timeout_and_past_deadline_time_out_holding_the_lock() {
                within(|| {
                    let cond = $make;
                    let _g = cond.lock();
                    prompt(|| {
                        assert_eq!(cond.wait_timeout(Duration::ZERO), Ok(false));
                        assert_eq!(cond.wait_until(past()), Ok(false));
                        assert_eq!(cond.wait_until(Instant::now()), Ok(false));
                        assert_eq!(cond.wait_for_timeout(|| false, Duration::ZERO), Ok(false));
                        assert_eq!(cond.wait_for_until(|| false, past()), Ok(false));
                        assert_eq!(cond.wait_for_timeout(|| true, Duration::ZERO), Ok(true));
                        for t in HUGE {
                            assert_eq!(cond.wait_for_timeout(|| true, t), Ok(true));
                        }
                        assert_eq!(cond.wait_for_until(|| true, far_future()), Ok(true));
                        assert_eq!(cond.wait_for(|| true), Ok(()));
                    });
                    assert!(
                        cond.lock_ref().is_held(),
                        "every wait returns holding the lock"
                    );
                });
            }

            #[test]
            fn notify_extremes_with_nobody_waiting_are_ok() {
                within(|| {
                    let cond = $make;
                    let _g = cond.lock();
                    for n in [0, 1, usize::MAX] {
                        assert_eq!(cond.notify(n), Ok(()));
                    }
                    assert_eq!(cond.notify_one(), Ok(()));
                    assert_eq!(cond.notify_all(), Ok(()));
                    // Nothing was stored up for a later waiter.
                    assert_eq!(cond.wait_timeout(Duration::from_millis(10)), Ok(false));
                });
            }

            #[test]
            fn huge_timeouts_wait_for_a_notify() {
                within(|| {
                    let cond = $make;
                    let registered = AtomicUsize::new(0);
                    thread::scope(|s| {
                        let mut ws = Vec::new();
                        for t in HUGE {
                            let (cond, registered) = (&cond, &registered);
                            ws.push(s.spawn(move || {
                                let _g = cond.lock();
                                registered.fetch_add(1, SeqCst);
                                cond.wait_timeout(t)
                            }));
                        }
                        let (cond2, registered2) = (&cond, &registered);
                        ws.push(s.spawn(move || {
                            let _g = cond2.lock();
                            registered2.fetch_add(1, SeqCst);
                            cond2.wait_until(far_future())
                        }));
                        until_locked(&cond, || registered.load(SeqCst) == 3);
                        let g = cond.lock();
                        assert_eq!(cond.notify_all(), Ok(()));
                        drop(g);
                        for w in ws {
                            assert_eq!(w.join().unwrap(), Ok(true));
                        }
                    });
                });
            }

            #[test]
            fn notify_zero_wakes_nobody() {
                within(|| {
                    let cond = $make;
                    let registered = AtomicBool::new(false);
                    thread::scope(|s| {
                        let w = s.spawn(|| {
                            let _g = cond.lock();
                            registered.store(true, SeqCst);
                            cond.wait_timeout(Duration::from_millis(200))
                        });
                        until_locked(&cond, || registered.load(SeqCst));
                        let g = cond.lock();
                        assert_eq!(cond.notify(0), Ok(()));
                        drop(g);
                        assert_eq!(w.join().unwrap(), Ok(false), "notify(0) woke a waiter");
                    });
                });
            }

            #[test]
            fn notify_one_at_a_time_then_usize_max_wakes_the_rest() {
                within(|| {
                    let cond = $make;
                    let registered = AtomicUsize::new(0);
                    let woken = AtomicUsize::new(0);
                    thread::scope(|s| {
                        let ws: Vec<_> = (0..3)
                            .map(|_| {
                                s.spawn(|| {
                                    let _g = cond.lock();
                                    registered.fetch_add(1, SeqCst);
                                    let r = cond.wait_timeout(Duration::MAX);
                                    woken.fetch_add(1, SeqCst);
                                    r
                                })
                            })
                            .collect();
                        until_locked(&cond, || registered.load(SeqCst) == 3);
                        let g = cond.lock();
                        assert_eq!(cond.notify(1), Ok(()));
                        drop(g);
                        until("one waiter woken", || woken.load(SeqCst) == 1);
                        thread::sleep(Duration::from_millis(30));
                        assert_eq!(woken.load(SeqCst), 1, "notify(1) woke more than one");
                        let g = cond.lock();
                        assert_eq!(cond.notify(usize::MAX), Ok(()));
                        drop(g);
                        for w in ws {
                            assert_eq!(w.join().unwrap(), Ok(true));
                        }
                    });
                    assert_eq!(woken.load(SeqCst), 3);
                    assert!(!cond.lock_ref().is_held());
                });
            }

            #[test]
            fn wait_restores_the_recursion_depth() {
                within(|| {
                    let cond = $make;
                    let depth = if $reentrant { 3 } else { 1 };
                    for _ in 0..depth {
                        assert!(cond.acquire_timeout(Duration::ZERO));
                    }
                    assert_eq!(cond.wait_timeout(Duration::ZERO), Ok(false));
                    assert_eq!(cond.wait_until(past()), Ok(false));
                    // The lock is really held again, at the same depth.
                    for _ in 0..depth {
                        assert_eq!(cond.release(), Ok(()));
                    }
                    assert_err(cond.release(), $rel_err, $rel_msg);
                });
            }

            #[test]
            fn panic_inside_guard_scope_and_in_the_predicate_does_not_poison() {
                within(|| {
                    let cond = $make;
                    let msg = panic_message(|| {
                        let _g = cond.lock();
                        panic!("boom under the condition's lock");
                    });
                    assert_eq!(msg, "boom under the condition's lock");
                    assert!(!cond.lock_ref().is_held());

                    // A predicate that panics after one timed-out wait: the
                    // lock was re-acquired, and the guard frees it.
                    let calls = AtomicUsize::new(0);
                    let msg = panic_message(|| {
                        let _g = cond.lock();
                        cond.wait_for_timeout(
                            || {
                                if calls.fetch_add(1, SeqCst) == 1 {
                                    panic!("pred boom");
                                }
                                false
                            },
                            Duration::from_millis(5),
                        )
                    });
                    assert_eq!(msg, "pred boom");
                    assert_eq!(calls.load(SeqCst), 2);
                    assert!(!cond.lock_ref().is_held());
                    thread::scope(|s| {
                        s.spawn(|| {
                            let _g = cond.lock();
                            assert_eq!(cond.notify_all(), Ok(()));
                        });
                    });
                });
            }

            #[test]
            fn guard_after_manual_release_drops_quietly() {
                within(|| {
                    let cond = $make;
                    let g = cond.lock();
                    assert_eq!(cond.release(), Ok(()));
                    drop(g); // the lock's Err swallowed, no panic
                    assert!(!cond.lock_ref().is_held());
                    assert_all_forms_unacquired(&cond);
                });
            }
        }
    };
}

condition_suite!(
    condition_over_lock,
    make = Condition::with_lock(Lock::new()),
    reentrant = false,
    held_by_anyone = true,
    release_err = (Error::ReleaseUnlocked, "release unlocked lock"),
);

condition_suite!(
    condition_over_rlock,
    make = Condition::new(),
    reentrant = true,
    held_by_anyone = false,
    release_err = (Error::NotOwned, "cannot release un-acquired lock"),
);

condition_suite!(
    condition_over_lock_ref,
    make = Condition::with_lock(&*Box::leak(Box::new(Lock::new()))),
    reentrant = false,
    held_by_anyone = true,
    release_err = (Error::ReleaseUnlocked, "release unlocked lock"),
);

condition_suite!(
    condition_over_arc_rlock,
    make = Condition::with_lock(Arc::new(RLock::new())),
    reentrant = true,
    held_by_anyone = false,
    release_err = (Error::NotOwned, "cannot release un-acquired lock"),
);

mod condition_shared_lock {
    use super::*;

    #[test]
    fn notify_by_a_non_holder_while_another_thread_holds_the_lock_delivers() {
        // Condition<&Lock>: the waiter waits, thread B takes the Lock, and
        // this thread (holding nothing) notifies: allowed for a Lock (held
        // by anyone), and the waiter must wake once B releases.
        within(|| {
            let lock = Lock::new();
            let cond = Condition::with_lock(&lock);
            let registered = AtomicBool::new(false);
            thread::scope(|s| {
                let w = s.spawn(|| {
                    let _g = cond.lock();
                    registered.store(true, SeqCst);
                    cond.wait_timeout(Duration::MAX)
                });
                until_locked(&cond, || registered.load(SeqCst));
                lock.acquire(); // "thread B" is us, via the raw lock...
                let holder = s.spawn(|| {
                    // ...and the notifier is another thread holding nothing.
                    assert_eq!(cond.notify_one(), Ok(()));
                });
                holder.join().unwrap();
                lock.release().unwrap();
                assert_eq!(w.join().unwrap(), Ok(true));
            });
            assert!(!lock.locked());
        });
    }

    #[test]
    fn arc_rlock_shared_with_other_code_counts_only_the_owner() {
        within(|| {
            let r = Arc::new(RLock::new());
            let cond = Condition::with_lock(Arc::clone(&r));
            r.acquire();
            r.acquire();
            assert_eq!(cond.notify_all(), Ok(()));
            assert_eq!(cond.wait_timeout(Duration::ZERO), Ok(false));
            assert_eq!(r.recursion_count(), 2);
            thread::scope(|s| {
                s.spawn(|| assert_all_forms_unacquired(&cond));
            });
            r.release().unwrap();
            r.release().unwrap();
            assert_all_forms_unacquired(&cond);
            let inner: Arc<RLock> = cond.into_inner();
            assert!(Arc::ptr_eq(&inner, &r));
        });
    }

    #[test]
    fn notify_from_three_levels_deep_delivers_on_the_last_release() {
        within(|| {
            let cond = Condition::new();
            let registered = AtomicBool::new(false);
            thread::scope(|s| {
                let w = s.spawn(|| {
                    let _g = cond.lock();
                    registered.store(true, SeqCst);
                    cond.wait_timeout(Duration::MAX)
                });
                until_locked(&cond, || registered.load(SeqCst));
                let (a, b, c) = (cond.lock(), cond.lock(), cond.lock());
                assert_eq!(cond.notify(usize::MAX), Ok(()));
                drop(c);
                drop(a); // wrong order: still one level held
                thread::sleep(Duration::from_millis(10));
                assert!(
                    !w.is_finished(),
                    "woke while the notifier still owns the RLock"
                );
                drop(b);
                assert_eq!(w.join().unwrap(), Ok(true));
            });
            assert!(!cond.lock_ref().locked());
        });
    }

    #[test]
    fn debug_never_blocks_while_the_lock_is_held_elsewhere() {
        within(|| {
            let cond = Condition::with_lock(Lock::new());
            let _g = cond.lock();
            thread::scope(|s| {
                s.spawn(|| {
                    assert_eq!(
                        format!("{cond:?}"),
                        "Condition { lock: Lock { locked: true }, waiters: 0 }"
                    )
                });
            });
        });
    }
}

// ===== Barrier =================================================================

mod barrier {
    use super::*;

    const BROKEN: &str = "barrier is broken";

    #[test]
    #[should_panic(expected = "Barrier needs at least 1 party")]
    fn new_zero_parties_panics() {
        within(|| Barrier::new(0));
    }

    #[test]
    fn every_constructor_rejects_zero_parties() {
        within(|| {
            let want = "Barrier needs at least 1 party";
            assert_eq!(panic_message(|| Barrier::new(0)), want);
            assert_eq!(panic_message(|| Barrier::with_action(0, || {})), want);
            assert_eq!(
                panic_message(|| Barrier::with_timeout(0, Duration::ZERO)),
                want
            );
            assert_eq!(
                panic_message(|| Barrier::with_action_and_timeout(0, || {}, Duration::MAX)),
                want
            );
            let e = Barrier::try_new(0).unwrap_err();
            assert_eq!(e, Error::InvalidArgument("parties must be >= 1"));
            assert_eq!(e.to_string(), "parties must be >= 1");
        });
    }

    #[test]
    fn too_many_parties_panics_or_errs() {
        within(|| {
            assert_eq!(
                panic_message(|| Barrier::new(usize::MAX)),
                "Barrier has too many parties"
            );
            let e = Barrier::try_new(usize::MAX).unwrap_err();
            assert_eq!(e, Error::InvalidArgument("too many parties"));
            assert_eq!(e.to_string(), "too many parties");
            assert!(Barrier::try_new(usize::MAX / 4 + 1).is_err());
            let b = Barrier::try_new(usize::MAX / 4).expect("the documented maximum");
            assert_eq!(b.parties(), usize::MAX / 4);
            assert_eq!(b.n_waiting(), 0);
        });
    }

    #[test]
    fn the_largest_barrier_breaks_and_resets_like_any_other() {
        within(|| {
            let b = Barrier::try_new(usize::MAX / 4).unwrap();
            assert_err(b.wait_timeout(Duration::ZERO), Error::BrokenBarrier, BROKEN);
            assert!(b.broken());
            b.reset();
            assert!(!b.broken());
            thread::scope(|s| {
                let w = s.spawn(|| b.wait_timeout(Duration::MAX));
                until("one party waiting", || b.n_waiting() == 1);
                assert_err(b.wait_until(past()), Error::BrokenBarrier, BROKEN);
                assert_err(w.join().unwrap(), Error::BrokenBarrier, BROKEN);
            });
        });
    }

    #[test]
    fn one_party_never_blocks_with_any_timeout() {
        within(|| {
            let b = Barrier::new(1);
            prompt(|| {
                assert_eq!(b.wait(), Ok(0));
                assert_eq!(b.wait_timeout(Duration::ZERO), Ok(0));
                assert_eq!(b.wait_until(past()), Ok(0));
                for t in HUGE {
                    assert_eq!(b.wait_timeout(t), Ok(0));
                }
                assert_eq!(b.wait_until(far_future()), Ok(0));
            });
            assert!(!b.broken());
            let z = Barrier::with_timeout(1, Duration::ZERO);
            assert_eq!(z.wait(), Ok(0), "the last party never times out");
            assert!(!z.broken());
        });
    }

    #[test]
    fn wait_timeout_zero_breaks_it_like_python() {
        within(|| {
            let b = Barrier::new(2);
            assert_err(
                prompt(|| b.wait_timeout(Duration::ZERO)),
                Error::BrokenBarrier,
                BROKEN,
            );
            assert!(b.broken());
            assert_eq!(b.n_waiting(), 0);
            let b = Barrier::new(2);
            assert_err(
                prompt(|| b.wait_until(past())),
                Error::BrokenBarrier,
                BROKEN,
            );
            assert!(b.broken());
            let b = Barrier::with_timeout(2, Duration::ZERO);
            assert_err(prompt(|| b.wait()), Error::BrokenBarrier, BROKEN);
            assert!(b.broken());
        });
    }

    #[test]
    fn waits_on_a_broken_barrier_fail_at_once_even_forever_ones() {
        within(|| {
            let b = Barrier::new(3);
            b.abort();
            b.abort(); // idempotent
            prompt(|| {
                assert_err(b.wait(), Error::BrokenBarrier, BROKEN);
                assert_err(b.wait_timeout(Duration::ZERO), Error::BrokenBarrier, BROKEN);
                for t in HUGE {
                    assert_err(b.wait_timeout(t), Error::BrokenBarrier, BROKEN);
                }
                assert_err(b.wait_until(far_future()), Error::BrokenBarrier, BROKEN);
                assert_err(b.wait_until(past()), Error::BrokenBarrier, BROKEN);
            });
            assert!(b.broken());
            assert_eq!(b.n_waiting(), 0);
        });
    }

    #[test]
    fn reset_of_a_broken_barrier_makes_it_usable_again() {
        within(|| {
            let b = Barrier::new(2);
            assert!(b.wait_timeout(Duration::ZERO).is_err());
            assert!(b.broken());
            b.reset();
            b.reset(); // idempotent
            assert!(!b.broken());
            for _ in 0..3 {
                let mut idx = thread::scope(|s| {
                    let other = s.spawn(|| b.wait_timeout(Duration::MAX));
                    let mine = b.wait_until(far_future());
                    vec![mine.unwrap(), other.join().unwrap().unwrap()]
                });
                idx.sort();
                assert_eq!(idx, [0, 1]);
            }
        });
    }

    #[test]
    fn reset_on_a_fresh_barrier_is_a_no_op() {
        within(|| {
            let b = Barrier::new(1);
            b.reset();
            assert!(!b.broken());
            assert_eq!(b.n_waiting(), 0);
            assert_eq!(b.wait(), Ok(0));
        });
    }

    #[test]
    fn huge_timeouts_wait_for_the_other_parties() {
        within(|| {
            for t in HUGE {
                let b = Barrier::new(3);
                let mut idx = thread::scope(|s| {
                    let x = s.spawn(|| b.wait_timeout(t));
                    let y = s.spawn(|| b.wait_until(far_future()));
                    until("two parties waiting", || b.n_waiting() == 2);
                    vec![
                        b.wait().unwrap(),
                        x.join().unwrap().unwrap(),
                        y.join().unwrap().unwrap(),
                    ]
                });
                idx.sort();
                assert_eq!(idx, [0, 1, 2]);
                assert!(!b.broken());
            }
            // A default timeout that means forever.
            let b = Barrier::with_timeout(2, Duration::from_secs(u64::MAX));
            assert_eq!(b.default_timeout(), Some(Duration::from_secs(u64::MAX)));
            thread::scope(|s| {
                let x = s.spawn(|| b.wait());
                until("one party waiting", || b.n_waiting() == 1);
                thread::sleep(Duration::from_millis(10));
                assert!(b.wait().is_ok());
                assert!(x.join().unwrap().is_ok());
            });
        });
    }

    #[test]
    fn zero_timeout_arrival_breaks_a_forever_waiter() {
        within(|| {
            let b = Barrier::new(3);
            thread::scope(|s| {
                let w = s.spawn(|| b.wait_timeout(Duration::MAX));
                until("one party waiting", || b.n_waiting() == 1);
                assert_err(b.wait_timeout(Duration::ZERO), Error::BrokenBarrier, BROKEN);
                assert_err(w.join().unwrap(), Error::BrokenBarrier, BROKEN);
            });
            assert!(b.broken());
            assert_eq!(b.n_waiting(), 0);
        });
    }

    #[test]
    fn abort_and_reset_release_forever_waiters_with_err() {
        within(|| {
            let b = Barrier::new(3);
            thread::scope(|s| {
                let w = s.spawn(|| b.wait());
                until("one party waiting", || b.n_waiting() == 1);
                b.abort();
                assert_err(w.join().unwrap(), Error::BrokenBarrier, BROKEN);
            });
            assert!(b.broken());
            b.reset();
            thread::scope(|s| {
                let w = s.spawn(|| b.wait_until(far_future()));
                until("one party waiting", || b.n_waiting() == 1);
                b.reset();
                assert_err(w.join().unwrap(), Error::BrokenBarrier, BROKEN);
            });
            assert!(!b.broken(), "reset leaves it usable, not broken");
            assert_eq!(b.n_waiting(), 0);
        });
    }

    #[test]
    fn panicking_action_breaks_the_round_and_reset_recovers() {
        within(|| {
            let fail = Arc::new(AtomicBool::new(true));
            let f2 = Arc::clone(&fail);
            let b = Barrier::with_action(2, move || {
                if f2.load(SeqCst) {
                    panic!("action boom");
                }
            });
            thread::scope(|s| {
                let w = s.spawn(|| b.wait_timeout(Duration::MAX));
                until("one party waiting", || b.n_waiting() == 1);
                assert_eq!(panic_message(|| b.wait()), "action boom");
                assert_err(w.join().unwrap(), Error::BrokenBarrier, BROKEN);
            });
            assert!(b.broken());
            assert_err(b.wait(), Error::BrokenBarrier, BROKEN);
            fail.store(false, SeqCst);
            b.reset();
            thread::scope(|s| {
                let w = s.spawn(|| b.wait());
                assert!(b.wait().is_ok());
                assert!(w.join().unwrap().is_ok());
            });
        });
    }

    #[test]
    fn debug_and_accessors_never_block() {
        within(|| {
            let b = Barrier::with_action_and_timeout(2, || {}, Duration::MAX);
            assert_eq!(b.default_timeout(), Some(Duration::MAX));
            thread::scope(|s| {
                let w = s.spawn(|| b.wait());
                until("one party waiting", || b.n_waiting() == 1);
                let _ = format!("{b:?}");
                assert!(!b.broken());
                assert_eq!(b.parties(), 2);
                assert!(b.wait().is_ok());
                assert!(w.join().unwrap().is_ok());
            });
        });
    }
}

// ===== the most extreme deadline, for every primitive ==========================

mod max_instant_deadline {
    use super::*;

    #[test]
    fn every_until_form_waits_for_the_event_it_needs() {
        within(|| {
            let deadline = max_instant();

            let lock = Lock::new();
            lock.acquire();
            thread::scope(|s| {
                let w = s.spawn(|| lock.acquire_until(deadline));
                thread::sleep(Duration::from_millis(10));
                lock.release().unwrap();
                assert!(w.join().unwrap(), "Lock::acquire_until(max)");
            });
            lock.release().unwrap();

            let r = RLock::new();
            r.acquire();
            thread::scope(|s| {
                let w = s.spawn(|| {
                    let got = r.acquire_until(deadline);
                    r.release().unwrap();
                    got
                });
                thread::sleep(Duration::from_millis(10));
                r.release().unwrap();
                assert!(w.join().unwrap(), "RLock::acquire_until(max)");
            });

            let sem = Semaphore::new(0);
            thread::scope(|s| {
                let w = s.spawn(|| sem.acquire_until(deadline));
                until_parked(|| format!("{sem:?}"));
                sem.release();
                assert!(w.join().unwrap(), "Semaphore::acquire_until(max)");
            });

            let bsem = BoundedSemaphore::new(1);
            bsem.acquire();
            thread::scope(|s| {
                let w = s.spawn(|| bsem.acquire_until(deadline));
                until_parked(|| format!("{bsem:?}"));
                bsem.release().unwrap();
                assert!(w.join().unwrap(), "BoundedSemaphore::acquire_until(max)");
            });

            let ev = Event::new();
            thread::scope(|s| {
                let w = s.spawn(|| ev.wait_until(deadline));
                until_parked(|| format!("{ev:?}"));
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
                until_locked(&cond, || registered.load(SeqCst));
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
                until("one party waiting", || b.n_waiting() == 1);
                assert!(b.wait_until(deadline).is_ok());
                assert!(w.join().unwrap().is_ok(), "Barrier::wait_until(max)");
            });
        });
    }
}

mod barrier_timeout_during_action {
    use super::*;

    #[test]
    fn zero_timeout_arriving_while_the_action_runs_returns_err_and_the_round_completes() {
        // A late arrival with a zero timeout while the action runs: it must
        // return `Err` (never hang) and the completed round stays completed.
        // (How long it may wait for the action: see the ignored test below.)
        within(|| {
            let running = Arc::new(AtomicBool::new(false));
            let once = Arc::new(AtomicBool::new(true));
            let (r2, o2) = (Arc::clone(&running), Arc::clone(&once));
            let b = Barrier::with_action(2, move || {
                if o2.swap(false, SeqCst) {
                    r2.store(true, SeqCst);
                    thread::sleep(Duration::from_millis(100));
                }
            });
            thread::scope(|s| {
                let x = s.spawn(|| b.wait());
                let y = s.spawn(|| b.wait());
                until("the action runs", || running.load(SeqCst));
                let late = prompt(|| b.wait_timeout(Duration::ZERO));
                assert_eq!(late, Err(Error::BrokenBarrier));
                assert!(
                    x.join().unwrap().is_ok(),
                    "the completed round stays completed"
                );
                assert!(
                    y.join().unwrap().is_ok(),
                    "the completed round stays completed"
                );
            });
        });
    }
}

mod barrier_timeout_bounds_the_wait_for_the_action {
    use super::*;

    #[test]
    fn short_timeout_during_a_long_action_returns_by_its_deadline() {
        within(|| {
            let running = Arc::new(AtomicBool::new(false));
            let r2 = Arc::clone(&running);
            let b = Barrier::with_action(2, move || {
                if !r2.swap(true, SeqCst) {
                    thread::sleep(Duration::from_secs(5));
                }
            });
            thread::scope(|s| {
                let x = s.spawn(|| b.wait());
                let y = s.spawn(|| b.wait());
                until("the action runs", || running.load(SeqCst));
                let start = Instant::now();
                let late = b.wait_timeout(Duration::from_millis(10));
                let took = start.elapsed();
                assert_eq!(late, Err(Error::BrokenBarrier));
                assert!(
                    took < Duration::from_millis(2500),
                    "wait_timeout(10ms) took {took:?}: it waited for the 5 s action"
                );
                assert!(x.join().unwrap().is_ok());
                assert!(y.join().unwrap().is_ok());
            });
            // The round the late thread meant to join starts broken.
            assert!(b.broken());
            assert_eq!(b.wait_timeout(Duration::MAX), Err(Error::BrokenBarrier));
            b.reset();
            assert!(!b.broken());
        });
    }

    #[test]
    fn zero_timeout_wait_from_inside_the_action_does_not_hang() {
        within(|| {
            let slot: Arc<std::sync::OnceLock<Arc<Barrier>>> = Arc::new(std::sync::OnceLock::new());
            let inner = Arc::new(std::sync::Mutex::new(None));
            let (s2, i2) = (Arc::clone(&slot), Arc::clone(&inner));
            let b = Arc::new(Barrier::with_action(1, move || {
                let me = s2.get().expect("set before the first wait");
                *i2.lock().unwrap() = Some(me.wait_timeout(Duration::ZERO));
            }));
            slot.set(Arc::clone(&b)).ok().unwrap();
            let outer = b.wait();
            let inner = inner.lock().unwrap().take().expect("the action ran");
            // Whatever the exact results, both calls must return.
            assert!(inner.is_err(), "a wait from inside the action: {inner:?}");
            let _ = outer;
        });
    }
}
