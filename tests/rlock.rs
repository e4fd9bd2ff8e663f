//! Behaviour of `pysync::RLock`: what CPython's lock tests check for
//! `threading.RLock`, plus guards and the lock_api ReentrantMutex.

mod common;
use pysync::{Error, RLock, ReentrantMutex};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn size_and_default() {
    let _watchdog = common::watchdog();
    assert!(std::mem::size_of::<RLock>() <= 16);
    let r = RLock::default();
    assert!(!r.locked());
    assert!(!r.is_owned());
    assert_eq!(r.recursion_count(), 0);
}

#[test]
fn recursion() {
    let _watchdog = common::watchdog();
    let r = RLock::new();
    for depth in 1..=5 {
        r.acquire();
        assert_eq!(r.recursion_count(), depth);
        assert!(r.is_owned());
        assert!(r.locked());
    }
    for depth in (0..5).rev() {
        r.release().unwrap();
        assert_eq!(r.recursion_count(), depth);
    }
    assert!(!r.locked());
    assert!(!r.is_owned());
}

#[test]
fn release_unacquired_is_an_error() {
    let _watchdog = common::watchdog();
    let r = RLock::new();
    assert_eq!(r.release(), Err(Error::NotOwned));
    assert_eq!(
        r.release().unwrap_err().to_string(),
        "cannot release un-acquired lock"
    );
    r.acquire();
    r.release().unwrap();
    assert_eq!(r.release(), Err(Error::NotOwned));
}

#[test]
fn release_by_non_owner_is_an_error_and_changes_nothing() {
    let _watchdog = common::watchdog();
    let r = Arc::new(RLock::new());
    r.acquire();
    r.acquire();
    let r2 = Arc::clone(&r);
    let (res, owned, count, locked) = thread::spawn(move || {
        (
            r2.release(),
            r2.is_owned(),
            r2.recursion_count(),
            r2.locked(),
        )
    })
    .join()
    .unwrap();
    assert_eq!(res, Err(Error::NotOwned));
    assert!(!owned);
    assert_eq!(
        count, 0,
        "recursion_count is the caller's, 0 for non-owners"
    );
    assert!(locked);
    assert_eq!(r.recursion_count(), 2);
    r.release().unwrap();
    r.release().unwrap();
}

#[test]
fn other_thread_blocks_until_fully_released() {
    let _watchdog = common::watchdog();
    let r = Arc::new(RLock::new());
    r.acquire();
    r.acquire();
    let r2 = Arc::clone(&r);
    assert!(!thread::spawn(move || r2.try_acquire()).join().unwrap());
    r.release().unwrap();
    let r2 = Arc::clone(&r);
    assert!(
        !thread::spawn(move || r2.acquire_timeout(Duration::from_millis(10)))
            .join()
            .unwrap(),
        "still held at depth 1"
    );
    r.release().unwrap();
    let r2 = Arc::clone(&r);
    assert!(
        thread::spawn(move || {
            let ok = r2.acquire_timeout(Duration::from_secs(10));
            r2.release().unwrap();
            ok
        })
        .join()
        .unwrap()
    );
}

#[test]
#[cfg_attr(miri, ignore)] // reads /proc
fn timed_forms() {
    let _watchdog = common::watchdog();
    let r = RLock::new();
    assert!(r.acquire_timeout(Duration::ZERO));
    assert!(r.acquire_timeout(Duration::MAX)); // re-entry never waits
    assert!(r.acquire_until(Instant::now() - Duration::from_secs(1)));
    assert_eq!(r.recursion_count(), 3);
    let gave_up = std::sync::atomic::AtomicBool::new(false);
    thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        let (r, gave_up) = (&r, &gave_up);
        let t = s.spawn(move || {
            tx.send(common::current_tid()).unwrap();
            let a = r.acquire_until(Instant::now() + Duration::from_millis(10));
            gave_up.store(true, Ordering::SeqCst);
            let b = r.acquire_timeout(Duration::MAX);
            r.release().unwrap();
            (a, b)
        });
        let tid = rx.recv().unwrap();
        // The short wait has given up, and the unbounded one is parked.
        common::wait_for("the 10 ms acquire gives up", || {
            gave_up.load(Ordering::SeqCst)
        });
        common::wait_until_parked(&tid);
        for _ in 0..3 {
            r.release().unwrap();
        }
        assert_eq!(t.join().unwrap(), (false, true));
    });
}

#[test]
fn guards_are_reentrant_and_release_one_level() {
    let _watchdog = common::watchdog();
    let r = RLock::new();
    let a = r.lock();
    let b = r.try_lock().unwrap();
    let c = r.lock_timeout(Duration::from_millis(1)).unwrap();
    let d = r.lock_until(Instant::now()).unwrap();
    assert_eq!(r.recursion_count(), 4);
    drop(d);
    drop(c);
    drop(b);
    assert_eq!(r.recursion_count(), 1);
    drop(a);
    assert!(!r.locked());
}

#[test]
fn guard_released_on_panic() {
    let _watchdog = common::watchdog();
    let r = Arc::new(RLock::new());
    let r2 = Arc::clone(&r);
    let res = thread::spawn(move || {
        let _a = r2.lock();
        let _b = r2.lock();
        panic!("boom");
    })
    .join();
    assert!(res.is_err());
    assert!(!r.locked(), "both levels released during unwinding");
}

#[test]
fn release_save_and_restore() {
    let _watchdog = common::watchdog();
    let r = Arc::new(RLock::new());
    r.acquire();
    r.acquire();
    r.acquire();
    let saved = r.release_save().unwrap();
    assert_eq!(saved.depth(), 3);
    assert!(!r.locked());
    // Someone else can take it meanwhile.
    let r2 = Arc::clone(&r);
    thread::spawn(move || {
        r2.acquire();
        r2.release().unwrap();
    })
    .join()
    .unwrap();
    r.acquire_restore(saved);
    assert_eq!(r.recursion_count(), 3);
    for _ in 0..3 {
        r.release().unwrap();
    }
    assert_eq!(r.release_save(), Err(Error::NotOwned));
}

#[test]
fn debug_shows_state() {
    let _watchdog = common::watchdog();
    let r = RLock::new();
    let _g = r.lock();
    let s = format!("{r:?}");
    assert!(s.contains("locked: true"), "{s}");
    assert!(s.contains("recursion_count: 1"), "{s}");
}

#[test]
fn many_threads_mutual_exclusion_with_recursion() {
    let _watchdog = common::watchdog();
    const THREADS: usize = 10;
    const ITERS: usize = 3_000;
    let r = Arc::new(RLock::new());
    let inside = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let (r, inside, total) = (r.clone(), inside.clone(), total.clone());
            thread::spawn(move || {
                for j in 0..ITERS {
                    let depth = 1 + (i + j) % 3;
                    for _ in 0..depth {
                        if j % 2 == 0 {
                            r.acquire();
                        } else {
                            while !r.acquire_timeout(Duration::from_micros(30)) {}
                        }
                    }
                    assert_eq!(r.recursion_count(), depth);
                    assert_eq!(inside.fetch_add(1, Ordering::Relaxed), 0);
                    total.store(total.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                    inside.fetch_sub(1, Ordering::Relaxed);
                    for _ in 0..depth {
                        r.release().unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(total.load(Ordering::Relaxed), THREADS * ITERS);
    assert!(!r.locked());
}

#[test]
fn reentrant_mutex_alias() {
    let _watchdog = common::watchdog();
    let m = Arc::new(ReentrantMutex::new(std::cell::Cell::new(0)));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for _ in 0..1000 {
                    let outer = m.lock();
                    let inner = m.lock();
                    inner.set(inner.get() + 1);
                    drop(inner);
                    drop(outer);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(m.lock().get(), 4000);
}

/// A thread that exits while owning an RLock leaves it locked for good
/// (like Python's), but no later thread inherits it: thread ids are never
/// reused (Python's `get_ident()` may be, and a TLS address would be).
#[test]
fn a_later_thread_never_inherits_an_exited_owner() {
    let _watchdog = common::watchdog();
    let r = Arc::new(RLock::new());
    let r2 = Arc::clone(&r);
    thread::spawn(move || std::mem::forget(r2.lock()))
        .join()
        .unwrap();
    assert!(r.locked());
    let inherited = (0..20)
        .filter(|_| {
            let r = Arc::clone(&r);
            thread::spawn(move || r.is_owned() || r.recursion_count() != 0 || r.release().is_ok())
                .join()
                .unwrap()
        })
        .count();
    assert_eq!(
        inherited, 0,
        "later threads that took over the exited owner's lock"
    );
    assert!(r.locked());
}
