//! Behaviour of `pysync::Lock`: what CPython's lock tests check for
//! `threading.Lock`, plus the Rust-side guards and lock_api integration.

mod common;

use pysync::{Error, Lock, Mutex};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn acquire_release() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    assert!(!lock.locked());
    lock.acquire();
    assert!(lock.locked());
    lock.release().unwrap();
    assert!(!lock.locked());
}

#[test]
fn default_is_unlocked() {
    let _watchdog = common::watchdog();
    let lock = Lock::default();
    assert!(!lock.locked());
    assert_eq!(format!("{lock:?}"), "Lock { locked: false }");
    lock.acquire();
    assert_eq!(format!("{lock:?}"), "Lock { locked: true }");
}

#[test]
fn try_acquire_while_contended() {
    let _watchdog = common::watchdog();
    let lock = Arc::new(Lock::new());
    lock.acquire();
    let l2 = Arc::clone(&lock);
    let got = thread::spawn(move || l2.try_acquire()).join().unwrap();
    assert!(!got);
    lock.release().unwrap();
    let l2 = Arc::clone(&lock);
    let got = thread::spawn(move || l2.try_acquire()).join().unwrap();
    assert!(got);
    assert!(lock.locked());
}

#[test]
#[cfg_attr(miri, ignore)]
fn reacquire_blocks_until_released_by_another_thread() {
    let _watchdog = common::watchdog();
    // Python: a Lock acquired twice by one thread blocks until someone
    // else releases it.
    let lock = Arc::new(Lock::new());
    lock.acquire();
    let released = Arc::new(AtomicBool::new(false));
    let (l2, r2) = (Arc::clone(&lock), Arc::clone(&released));
    let me = common::current_tid();
    let t = thread::spawn(move || {
        common::wait_until_parked(&me); // blocked in its second acquire
        r2.store(true, Ordering::SeqCst);
        l2.release().unwrap();
    });
    lock.acquire(); // blocks until the other thread releases
    assert!(released.load(Ordering::SeqCst));
    t.join().unwrap();
    lock.release().unwrap();
}

#[test]
fn release_from_another_thread() {
    let _watchdog = common::watchdog();
    let lock = Arc::new(Lock::new());
    lock.acquire();
    let l2 = Arc::clone(&lock);
    thread::spawn(move || l2.release()).join().unwrap().unwrap();
    assert!(!lock.locked());
    assert!(lock.try_acquire());
}

#[test]
fn release_unlocked_is_an_error() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    assert_eq!(lock.release(), Err(Error::ReleaseUnlocked));
    assert_eq!(lock.release_fair(), Err(Error::ReleaseUnlocked));
    lock.acquire();
    lock.release().unwrap();
    let err = lock.release().unwrap_err();
    assert_eq!(err.to_string(), "release unlocked lock");
}

#[test]
fn timeout_zero_is_a_try() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    assert!(lock.acquire_timeout(Duration::ZERO));
    assert!(!lock.acquire_timeout(Duration::ZERO));
    lock.release().unwrap();
}

#[test]
fn small_timeout_expires() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    lock.acquire();
    let start = Instant::now();
    assert!(!lock.acquire_timeout(Duration::from_millis(20)));
    // Generous sanity bound only: it waited at least the timeout.
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[test]
#[cfg_attr(miri, ignore)]
fn huge_timeout_waits_and_never_panics() {
    let _watchdog = common::watchdog();
    let lock = Arc::new(Lock::new());
    assert!(lock.acquire_timeout(Duration::MAX)); // free: immediate
    let l2 = Arc::clone(&lock);
    let t = common::spawn_static_parked(move || l2.acquire_timeout(Duration::MAX));
    lock.release().unwrap();
    assert!(t.join().unwrap());
    assert!(lock.locked());
}

#[test]
fn acquire_until_past_deadline_is_a_try() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    let past = Instant::now() - Duration::from_millis(1);
    assert!(lock.acquire_until(past)); // free: a try succeeds
    assert!(!lock.acquire_until(past)); // held: fails at once
    assert!(!lock.acquire_until(Instant::now() + Duration::from_millis(10)));
}

#[test]
#[cfg_attr(miri, ignore)]
fn timed_acquire_succeeds_when_released_in_time() {
    let _watchdog = common::watchdog();
    let lock = Arc::new(Lock::new());
    lock.acquire();
    let l2 = Arc::clone(&lock);
    let t = common::spawn_static_parked(move || l2.acquire_timeout(Duration::from_secs(30)));
    lock.release().unwrap();
    assert!(t.join().unwrap());
}

#[test]
fn guards() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    {
        let _g = lock.lock();
        assert!(lock.locked());
        assert!(lock.try_lock().is_none());
        assert!(lock.lock_timeout(Duration::from_millis(1)).is_none());
        assert!(lock.lock_until(Instant::now()).is_none());
    }
    assert!(!lock.locked());
    let g = lock.try_lock().unwrap();
    g.release_fair();
    assert!(!lock.locked());
    let g = lock.lock_timeout(Duration::MAX).unwrap();
    drop(g);
    assert!(!lock.locked());
}

#[test]
fn guard_released_on_panic() {
    let _watchdog = common::watchdog();
    let lock = Arc::new(Lock::new());
    let l2 = Arc::clone(&lock);
    let r = thread::spawn(move || {
        let _g = l2.lock();
        panic!("boom");
    })
    .join();
    assert!(r.is_err());
    assert!(!lock.locked(), "no poisoning: the panic released the lock");
}

#[test]
fn mutex_alias_protects_data() {
    let _watchdog = common::watchdog();
    let m = Arc::new(Mutex::new(0u64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for _ in 0..10_000 {
                    *m.lock() += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*m.lock(), 40_000);
    assert!(m.try_lock_for(Duration::from_millis(1)).is_some());
}

#[test]
fn many_threads_mutual_exclusion() {
    let _watchdog = common::watchdog();
    const THREADS: usize = 12;
    const ITERS: usize = 5_000;
    let lock = Arc::new(Lock::new());
    let inside = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let (lock, inside, total) = (lock.clone(), inside.clone(), total.clone());
            thread::spawn(move || {
                for j in 0..ITERS {
                    // Mix the acquisition forms.
                    match (i + j) % 4 {
                        0 => lock.acquire(),
                        1 => {
                            while !lock.try_acquire() {
                                std::hint::spin_loop();
                            }
                        }
                        2 => while !lock.acquire_timeout(Duration::from_micros(50)) {},
                        _ => assert!(lock.acquire_timeout(Duration::MAX)),
                    }
                    assert_eq!(inside.fetch_add(1, Ordering::Relaxed), 0);
                    total.store(total.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                    inside.fetch_sub(1, Ordering::Relaxed);
                    if j % 7 == 0 {
                        lock.release_fair().unwrap();
                    } else {
                        lock.release().unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(total.load(Ordering::Relaxed), THREADS * ITERS);
    assert!(!lock.locked());
}

#[test]
fn timeouts_racing_releases_leave_no_waiter_behind() {
    let _watchdog = common::watchdog();
    // Many threads with tiny timeouts: some time out while a release is in
    // flight. Afterwards the lock must be free and immediately acquirable
    // (no stale PARKED bit forcing slow paths forever, no lost wake-up).
    let lock = Arc::new(Lock::new());
    let acquired = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (lock, acquired) = (lock.clone(), acquired.clone());
            thread::spawn(move || {
                for _ in 0..2_000 {
                    if lock.acquire_timeout(Duration::from_micros(20)) {
                        acquired.fetch_add(1, Ordering::Relaxed);
                        lock.release().unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(acquired.load(Ordering::Relaxed) > 0);
    assert!(!lock.locked());
    assert!(lock.try_acquire());
    lock.release().unwrap();
}

#[test]
fn fairness_two_threads_tight_loop() {
    let _watchdog = common::watchdog();
    // Thread A holds the lock almost all the time, re-acquiring at once
    // after each release. Thread B must still get it: eventual fairness
    // hands it over once B has waited ~1 ms. The bound is generous (10 s).
    let lock = Arc::new(Lock::new());
    let stop = Arc::new(AtomicBool::new(false));
    let (l2, s2) = (lock.clone(), stop.clone());
    let hog = thread::spawn(move || {
        let mut n = 0u64;
        while !s2.load(Ordering::Relaxed) {
            l2.acquire();
            for _ in 0..200 {
                std::hint::spin_loop();
            }
            l2.release().unwrap();
            n += 1;
        }
        n
    });
    common::wait_for("the hog holds the lock", || lock.locked());
    for _ in 0..100 {
        assert!(
            lock.acquire_timeout(Duration::from_secs(10)),
            "waiter starved by a tight acquire/release loop"
        );
        lock.release().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(hog.join().unwrap() > 0);
}
