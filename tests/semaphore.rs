//! Python-semantics behaviour tests for `Semaphore` and `BoundedSemaphore`
//! (what CPython's lock_tests.BaseSemaphoreTests / SemaphoreTests /
//! BoundedSemaphoreTests check, plus FIFO hand-off and permit conservation).
//! Timings are only generous sanity bounds.

mod common;
use pysync::{BoundedSemaphore, Error, Semaphore};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

/// Spawns `n` threads running `f(i)` on `s`, each queued on `primitive`
/// (and asleep in the kernel) before the next one starts: they are queued
/// in order 0, 1, … Returns their handles and kernel ids.
fn spawn_queued<'scope, T: Send + 'scope, P: ?Sized>(
    s: &'scope thread::Scope<'scope, '_>,
    primitive: &P,
    n: usize,
    f: impl Fn(usize) -> T + Send + Sync + Copy + 'scope,
) -> Vec<(thread::ScopedJoinHandle<'scope, T>, common::Tid)> {
    (0..n)
        .map(|i| common::spawn_queued_on(s, primitive, move || f(i)))
        .collect()
}

#[test]
fn constructor_and_counts() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(3);
    assert_eq!(sem.available(), 3);
    assert!(sem.try_acquire());
    assert!(sem.try_acquire());
    assert_eq!(sem.available(), 1);
    assert!(sem.try_acquire());
    assert!(!sem.try_acquire());
    assert_eq!(sem.available(), 0);
    sem.release();
    assert_eq!(sem.available(), 1);
    // A plain Semaphore may go past its initial value.
    sem.release_n(5);
    assert_eq!(sem.available(), 6);
    sem.release_n(0);
    assert_eq!(sem.available(), 6);
    assert_eq!(Semaphore::default().available(), 1);
    assert_eq!(
        format!("{:?}", Semaphore::new(0)),
        "Semaphore { available: 0, waiters: false }"
    );
    let zero = Semaphore::new(0);
    assert!(!zero.try_acquire());
}

#[test]
fn max_permits_and_overflow() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS);
    let r = catch_unwind(AssertUnwindSafe(|| sem.release()));
    assert!(r.is_err(), "release past MAX_PERMITS must panic");
    assert_eq!(
        sem.available(),
        Semaphore::MAX_PERMITS,
        "unchanged after the panic"
    );
    assert!(sem.try_acquire());
    sem.release(); // back to the max: fine

    let sem = Semaphore::new(0);
    assert!(catch_unwind(AssertUnwindSafe(|| sem.release_n(usize::MAX))).is_err());
    assert_eq!(sem.available(), 0);
    sem.release_n(Semaphore::MAX_PERMITS);
    assert_eq!(sem.available(), Semaphore::MAX_PERMITS);

    assert!(catch_unwind(|| Semaphore::new(usize::MAX)).is_err());
    assert!(catch_unwind(|| BoundedSemaphore::new(Semaphore::MAX_PERMITS + 1)).is_err());
}

/// At the ceiling, `release()` adds 1 and, seeing the count was full, takes
/// it back and panics. Concurrent readers and acquirers must never see the
/// transient value: `available()` never exceeds `MAX_PERMITS`, every
/// successful release/acquire is accounted for, and the count ends exact.
#[test]
fn overflowing_releases_racing_acquires_are_invisible() {
    let _watchdog = common::watchdog();
    const MAX: usize = Semaphore::MAX_PERMITS;
    let sem = Semaphore::new(MAX);
    let (released, taken, panicked) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..300 {
                    match catch_unwind(AssertUnwindSafe(|| sem.release())) {
                        Ok(()) => released.fetch_add(1, SeqCst),
                        Err(_) => panicked.fetch_add(1, SeqCst),
                    };
                }
            });
        }
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..300 {
                    assert!(sem.available() <= MAX);
                    assert!(format!("{sem:?}").contains("waiters: false"));
                    if sem.try_acquire() {
                        taken.fetch_add(1, SeqCst);
                    }
                }
            });
        }
    });
    let (released, taken) = (released.load(SeqCst), taken.load(SeqCst));
    assert_eq!(released + panicked.load(SeqCst), 600);
    assert!(
        released <= taken,
        "only room made by acquires can be released into"
    );
    assert_eq!(sem.available(), MAX - taken + released);
}

#[test]
#[cfg_attr(miri, ignore)] // reads /proc
fn acquire_blocks_until_release() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(0);
    let done = AtomicUsize::new(0);
    thread::scope(|s| {
        let t = common::spawn_parked(s, || {
            sem.acquire();
            done.store(1, SeqCst);
        });
        // Parked on 0 permits: it has not acquired.
        assert_eq!(done.load(SeqCst), 0, "acquire must block on 0 permits");
        sem.release();
        t.join().unwrap();
    });
    assert_eq!(done.load(SeqCst), 1);
    assert_eq!(sem.available(), 0);
}

#[test]
fn release_from_another_thread() {
    let _watchdog = common::watchdog();
    let sem = Arc::new(Semaphore::new(1));
    sem.acquire();
    let s2 = Arc::clone(&sem);
    thread::spawn(move || s2.release()).join().unwrap();
    assert_eq!(sem.available(), 1);
}

#[test]
#[cfg_attr(miri, ignore)]
fn timeouts() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(0);
    assert!(!sem.acquire_timeout(Duration::ZERO));
    let start = Instant::now();
    assert!(!sem.acquire_timeout(Duration::from_millis(30)));
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert!(start.elapsed() < Duration::from_secs(10));
    // A deadline in the past is a try.
    assert!(!sem.acquire_until(Instant::now() - Duration::from_millis(1)));
    sem.release();
    assert!(sem.acquire_until(Instant::now() - Duration::from_millis(1)));
    sem.release();
    assert!(sem.acquire_timeout(Duration::ZERO));
    // Duration::MAX waits forever, without panicking.
    sem.release();
    assert!(sem.acquire_timeout(Duration::MAX));
    if cfg!(miri) {
        return; // the rest reads /proc
    }
    thread::scope(|s| {
        let t = common::spawn_parked(s, || sem.acquire_timeout(Duration::MAX));
        sem.release();
        assert!(t.join().unwrap());
    });
    assert_eq!(sem.available(), 0);
}

#[test]
fn timed_out_waiter_does_not_keep_waiters_bit() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(0);
    assert!(!sem.acquire_timeout(Duration::from_millis(10)));
    assert_eq!(
        format!("{sem:?}"),
        "Semaphore { available: 0, waiters: false }"
    );
    // And the fast path works again afterwards.
    sem.release();
    assert!(sem.try_acquire());
}

#[test]
#[cfg_attr(miri, ignore)] // reads /proc
fn release_n_wakes_exactly_n() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(0);
    let done: Vec<AtomicUsize> = (0..5).map(|_| AtomicUsize::new(0)).collect();
    let done = &done;
    thread::scope(|s| {
        let waiters = spawn_queued(s, &sem, 5, |i| {
            sem.acquire();
            done[i].store(1, SeqCst);
        });
        sem.release_n(3);
        let finished = || done.iter().filter(|d| d.load(SeqCst) == 1).count();
        common::wait_for("3 waiters take the 3 permits", || finished() >= 3);
        // FIFO: the three longest waiters; the other two are still asleep
        // in the queue (a fourth wake-up would show as a running thread).
        for (i, (_, tid)) in waiters.iter().enumerate() {
            if i < 3 {
                assert_eq!(done[i].load(SeqCst), 1, "waiter {i} was passed over");
            } else {
                assert!(common::is_parked(tid), "release_n(3) woke waiter {i}");
            }
        }
        assert_eq!(sem.available(), 0, "handed off, not counted");
        sem.release_n(2);
        for (h, _) in waiters {
            h.join().unwrap();
        }
    });
    assert_eq!(done.iter().filter(|d| d.load(SeqCst) == 1).count(), 5);
    assert_eq!(sem.available(), 0);
}

#[test]
#[cfg_attr(miri, ignore)] // reads /proc
fn release_n_beyond_waiters_adds_the_rest() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(0);
    thread::scope(|s| {
        let waiters = spawn_queued(s, &sem, 2, |_| sem.acquire());
        sem.release_n(5);
        for (h, _) in waiters {
            h.join().unwrap();
        }
    });
    assert_eq!(sem.available(), 3);
    assert_eq!(
        format!("{sem:?}"),
        "Semaphore { available: 3, waiters: false }"
    );
}

#[test]
#[cfg_attr(miri, ignore)] // reads /proc
fn fifo_order_of_waiters() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(0);
    let order = StdMutex::new(Vec::new());
    thread::scope(|s| {
        // Thread i is parked (blocked in the kernel) before i + 1 arrives.
        let waiters = spawn_queued(s, &sem, 4, |i| {
            sem.acquire();
            order.lock().unwrap().push(i);
        });
        for n in 1..=4 {
            sem.release();
            common::wait_for("the next waiter runs", || order.lock().unwrap().len() >= n);
        }
        for (h, _) in waiters {
            h.join().unwrap();
        }
    });
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
}

#[test]
#[cfg_attr(miri, ignore)] // reads /proc
fn no_barging_past_a_parked_waiter() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(0);
    thread::scope(|s| {
        let (waiter, _) =
            common::spawn_queued_on(s, &sem, || sem.acquire_timeout(Duration::from_secs(30)));
        sem.release();
        // The permit went straight to the waiter: a fresh arrival cannot
        // take it.
        assert!(!sem.try_acquire());
        assert!(!sem.acquire_timeout(Duration::from_millis(5)));
        assert!(waiter.join().unwrap());
    });
    assert_eq!(sem.available(), 0);
}

#[test]
fn bounded_semaphore_errors() {
    let _watchdog = common::watchdog();
    let sem = BoundedSemaphore::new(2);
    assert_eq!(sem.initial(), 2);
    assert_eq!(sem.release(), Err(Error::TooManyReleases));
    assert_eq!(
        Error::TooManyReleases.to_string(),
        "Semaphore released too many times"
    );
    assert!(sem.try_acquire());
    assert!(sem.try_acquire());
    assert!(!sem.try_acquire());
    // All or nothing.
    assert_eq!(sem.release_n(3), Err(Error::TooManyReleases));
    assert_eq!(sem.available(), 0);
    assert_eq!(sem.release_n(usize::MAX), Err(Error::TooManyReleases));
    assert_eq!(sem.available(), 0);
    assert_eq!(sem.release_n(0), Ok(()));
    assert_eq!(sem.release(), Ok(()));
    assert_eq!(sem.release_n(2), Err(Error::TooManyReleases));
    assert_eq!(sem.available(), 1);
    assert_eq!(sem.release_n(1), Ok(()));
    assert_eq!(sem.available(), 2);
    assert_eq!(sem.release(), Err(Error::TooManyReleases));
    assert_eq!(sem.available(), 2);
    assert_eq!(
        format!("{sem:?}"),
        "BoundedSemaphore { available: 2, initial: 2, waiters: false }"
    );
    let zero = BoundedSemaphore::new(0);
    assert_eq!(zero.release(), Err(Error::TooManyReleases));
    assert_eq!(zero.release_n(0), Ok(()));
    assert_eq!(BoundedSemaphore::default().available(), 1);
}

#[test]
#[cfg_attr(miri, ignore)] // reads /proc
fn bounded_semaphore_hands_off_to_waiters() {
    let _watchdog = common::watchdog();
    let sem = BoundedSemaphore::new(2);
    assert!(sem.try_acquire());
    assert!(sem.try_acquire());
    thread::scope(|s| {
        let waiters = spawn_queued(s, &sem, 2, |_| sem.acquire_timeout(Duration::from_secs(30)));
        assert_eq!(sem.release_n(2), Ok(()));
        for (h, _) in waiters {
            assert!(h.join().unwrap());
        }
    });
    assert_eq!(sem.available(), 0);
    assert_eq!(sem.release_n(2), Ok(()));
    assert_eq!(sem.release(), Err(Error::TooManyReleases));
    // Blocking forms work on the bounded one too.
    sem.acquire();
    assert!(sem.acquire_until(Instant::now()));
    assert!(!sem.acquire_timeout(Duration::from_millis(5)));
}

#[test]
fn guards() {
    let _watchdog = common::watchdog();
    let sem = Semaphore::new(2);
    {
        let _a = sem.access();
        let _b = sem.try_access().expect("second permit");
        assert!(sem.try_access().is_none());
        assert!(sem.access_timeout(Duration::from_millis(5)).is_none());
        assert!(sem.access_until(Instant::now()).is_none());
        assert_eq!(sem.available(), 0);
    }
    assert_eq!(sem.available(), 2);
    let g = sem
        .access_until(Instant::now() + Duration::from_millis(5))
        .unwrap();
    thread::scope(|s| {
        s.spawn(move || drop(g));
    });
    assert_eq!(sem.available(), 2);

    // A panic while holding a permit gives it back.
    let r = catch_unwind(AssertUnwindSafe(|| {
        let _g = sem.access();
        panic!("boom");
    }));
    assert!(r.is_err());
    assert_eq!(sem.available(), 2);
}

#[test]
fn bounded_guards() {
    let _watchdog = common::watchdog();
    let sem = BoundedSemaphore::new(1);
    let g = sem.access();
    assert_eq!(sem.available(), 0);
    assert_eq!(g.release(), Ok(()));
    assert_eq!(sem.available(), 1);
    {
        let _g = sem.access_timeout(Duration::ZERO).unwrap();
        assert!(sem.try_access().is_none());
    }
    assert_eq!(sem.available(), 1);

    // Somebody else over-releases while a guard is out: the guard's release
    // is the one too many.
    let g = sem.try_access().unwrap();
    assert_eq!(sem.release(), Ok(()));
    assert_eq!(g.release(), Err(Error::TooManyReleases));
    assert_eq!(sem.available(), 1);
    assert!(sem.try_acquire());
    let g = sem.access_until(Instant::now() - Duration::from_secs(1));
    assert!(g.is_none());
    sem.release().unwrap();
    let g = sem.access();
    sem.release().unwrap();
    let r = catch_unwind(AssertUnwindSafe(move || drop(g)));
    assert!(r.is_ok(), "dropping a guard past the bound never panics");
    assert_eq!(sem.available(), 1, "the count saturates at the bound");
}

#[test]
fn stress_short_timeouts_conserve_permits() {
    let _watchdog = common::watchdog();
    const PERMITS: usize = 3;
    let sem = Semaphore::new(PERMITS);
    let inside = AtomicUsize::new(0);
    let max_inside = AtomicUsize::new(0);
    let acquired = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..8usize {
            let (sem, inside, max_inside, acquired) = (&sem, &inside, &max_inside, &acquired);
            s.spawn(move || {
                for i in 0..400usize {
                    let timeout = Duration::from_micros(((t * 7 + i) % 5) as u64 * 50);
                    let two = i % 7 == 0;
                    let got = if two {
                        // Take two permits (one at a time), give both back at once.
                        if sem.acquire_timeout(timeout) {
                            if sem.acquire_timeout(timeout) {
                                2
                            } else {
                                sem.release();
                                0
                            }
                        } else {
                            0
                        }
                    } else {
                        usize::from(sem.acquire_timeout(timeout))
                    };
                    if got == 0 {
                        continue;
                    }
                    let now = inside.fetch_add(got, SeqCst) + got;
                    max_inside.fetch_max(now, SeqCst);
                    acquired.fetch_add(1, SeqCst);
                    std::hint::spin_loop();
                    inside.fetch_sub(got, SeqCst);
                    sem.release_n(got);
                }
            });
        }
    });
    assert!(
        max_inside.load(SeqCst) <= PERMITS,
        "more holders than permits"
    );
    assert!(acquired.load(SeqCst) > 0);
    assert_eq!(sem.available(), PERMITS, "a permit was lost or created");
    assert_eq!(
        format!("{sem:?}"),
        "Semaphore { available: 3, waiters: false }"
    );
}

#[test]
fn stress_producer_vs_timing_out_consumers() {
    let _watchdog = common::watchdog();
    // Every permit released is either taken by a consumer or still counted.
    const RELEASES: usize = 2000;
    let sem = Semaphore::new(0);
    let taken = AtomicUsize::new(0);
    let producing = AtomicUsize::new(1);
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while producing.load(SeqCst) == 1 {
                    if sem.acquire_timeout(Duration::from_micros(20)) {
                        taken.fetch_add(1, SeqCst);
                    }
                }
            });
        }
        s.spawn(|| {
            for i in 0..RELEASES {
                if i % 3 == 0 {
                    thread::yield_now();
                }
                sem.release();
            }
            producing.store(0, SeqCst);
        });
    });
    assert_eq!(taken.load(SeqCst) + sem.available(), RELEASES);
}

#[test]
fn bounded_stress_never_exceeds_initial() {
    let _watchdog = common::watchdog();
    let sem = BoundedSemaphore::new(2);
    let got = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for i in 0..500 {
                    if sem.acquire_timeout(Duration::from_micros(100)) {
                        got.fetch_add(1, SeqCst);
                        if i % 5 == 0 {
                            drop(sem.try_access());
                        }
                        sem.release().expect("releasing what we hold is fine");
                    }
                    assert!(sem.available() <= 2);
                }
            });
        }
    });
    assert!(got.load(SeqCst) > 0);
    assert_eq!(sem.available(), 2);
    assert_eq!(sem.release(), Err(Error::TooManyReleases));
}
