//! Behaviour tests for `Condition`: Python's `threading.Condition` semantics
//! (what CPython's test_threading/lock_tests check, rewritten), plus the
//! notify-vs-timeout guarantee CPython lacks (gh-90968).

mod common;

use pysync::{Condition, Error, Lock, RLock};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Generous bound for "this must happen": a hang shows up as a failure.
const PATIENCE: Duration = Duration::from_secs(10);

#[test]
#[cfg_attr(miri, ignore)]
fn wait_and_notify_one() {
    let _watchdog = common::watchdog();
    let cond = Condition::with_lock(Lock::new());
    let ready = AtomicBool::new(false);
    thread::scope(|s| {
        let t = common::spawn_parked(s, || {
            let _g = cond.lock();
            while !ready.load(Relaxed) {
                cond.wait().unwrap();
            }
            assert!(cond.lock_ref().locked(), "wait returns holding the lock");
        });
        let _g = cond.lock();
        ready.store(true, Relaxed);
        cond.notify_one().unwrap();
        drop(_g);
        t.join().unwrap();
    });
    assert!(!cond.lock_ref().locked());
}

#[test]
fn misuse_is_an_error() {
    let _watchdog = common::watchdog();
    let cond = Condition::with_lock(Lock::new());
    assert_eq!(cond.wait(), Err(Error::WaitUnacquired));
    assert_eq!(
        cond.wait_timeout(Duration::ZERO),
        Err(Error::WaitUnacquired)
    );
    assert_eq!(cond.wait_until(Instant::now()), Err(Error::WaitUnacquired));
    assert_eq!(cond.wait_for(|| true), Err(Error::WaitUnacquired));
    assert_eq!(
        cond.wait_for_timeout(|| true, Duration::ZERO),
        Err(Error::WaitUnacquired)
    );
    assert_eq!(
        cond.wait_for_until(|| true, Instant::now()),
        Err(Error::WaitUnacquired)
    );
    assert_eq!(cond.notify(1), Err(Error::NotifyUnacquired));
    assert_eq!(cond.notify(0), Err(Error::NotifyUnacquired));
    assert_eq!(cond.notify_one(), Err(Error::NotifyUnacquired));
    assert_eq!(cond.notify_all(), Err(Error::NotifyUnacquired));
    assert_eq!(cond.release(), Err(Error::ReleaseUnlocked));
    assert_eq!(
        Error::WaitUnacquired.to_string(),
        "cannot wait on un-acquired lock"
    );
    assert_eq!(
        Error::NotifyUnacquired.to_string(),
        "cannot notify on un-acquired lock"
    );
    assert!(!cond.lock_ref().locked(), "errors leave the lock alone");
}

#[test]
fn rlock_held_by_another_thread_is_not_held() {
    let _watchdog = common::watchdog();
    let cond = Arc::new(Condition::new());
    let _g = cond.lock();
    let c2 = Arc::clone(&cond);
    thread::spawn(move || {
        assert_eq!(
            c2.wait_timeout(Duration::from_millis(1)),
            Err(Error::WaitUnacquired)
        );
        assert_eq!(c2.notify_all(), Err(Error::NotifyUnacquired));
        assert_eq!(c2.release(), Err(Error::NotOwned));
    })
    .join()
    .unwrap();
    assert!(cond.lock_ref().is_owned());
}

#[test]
fn lock_is_any_thread_held() {
    let _watchdog = common::watchdog();
    // Python's Condition(Lock()) checks `locked()`: a Lock has no owner.
    let cond = Arc::new(Condition::with_lock(Lock::new()));
    cond.acquire();
    let c2 = Arc::clone(&cond);
    thread::spawn(move || assert_eq!(c2.notify_all(), Ok(())))
        .join()
        .unwrap();
    cond.release().unwrap();
}

#[test]
fn wait_timeout_times_out_holding_the_lock() {
    let _watchdog = common::watchdog();
    let cond = Condition::new();
    {
        let _g = cond.lock();
        let start = Instant::now();
        assert_eq!(cond.wait_timeout(Duration::from_millis(30)), Ok(false));
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(cond.lock_ref().is_owned());
        assert_eq!(
            cond.wait_until(Instant::now() + Duration::from_millis(5)),
            Ok(false)
        );
        assert!(cond.lock_ref().is_owned());
        assert!(format!("{cond:?}").contains("waiters: 0"));
    }
    let cond = Condition::with_lock(Lock::new());
    let _g = cond.lock();
    assert_eq!(cond.wait_timeout(Duration::from_millis(5)), Ok(false));
    assert!(cond.lock_ref().locked());
}

#[test]
fn wait_zero_releases_and_reacquires() {
    let _watchdog = common::watchdog();
    // Python's wait(0) releases the lock for a moment; it returns False.
    let cond = Condition::with_lock(Lock::new());
    let _g = cond.lock();
    for _ in 0..100 {
        assert_eq!(cond.wait_timeout(Duration::ZERO), Ok(false));
        assert!(cond.lock_ref().locked());
    }
    assert_eq!(
        cond.wait_until(Instant::now() - Duration::from_millis(1)),
        Ok(false)
    );
    assert!(format!("{cond:?}").ends_with("waiters: 0 }"));
}

#[test]
fn huge_timeout_means_forever_and_does_not_panic() {
    let _watchdog = common::watchdog();
    let cond = Condition::with_lock(Lock::new());
    let waiting = AtomicUsize::new(0);
    thread::scope(|s| {
        let t = s.spawn(|| {
            let _g = cond.lock();
            waiting.store(1, Relaxed);
            cond.wait_timeout(Duration::MAX).unwrap()
        });
        common::until_locked(&cond, || waiting.load(Relaxed) == 1);
        let _g = cond.lock();
        cond.notify_one().unwrap();
        drop(_g);
        assert!(t.join().unwrap());
    });
}

#[test]
#[cfg_attr(miri, ignore)]
fn notify_n_wakes_exactly_n_then_notify_all_wakes_the_rest() {
    let _watchdog = common::watchdog();
    const N: usize = 5;
    let cond = Condition::new();
    let registered = AtomicUsize::new(0);
    let woken = AtomicUsize::new(0);
    thread::scope(|s| {
        let mut tids = Vec::new();
        for _ in 0..N {
            let (_, tid) = common::spawn_tid(s, || {
                let _g = cond.lock();
                registered.fetch_add(1, Relaxed);
                assert_eq!(cond.wait_timeout(PATIENCE), Ok(true), "must be notified");
                woken.fetch_add(1, Relaxed);
            });
            tids.push(tid);
        }
        common::until_locked(&cond, || registered.load(Relaxed) == N);
        {
            let _g = cond.lock();
            cond.notify(0).unwrap();
            cond.notify(2).unwrap();
            assert_eq!(woken.load(Relaxed), 0, "woken only after the lock is free");
        }
        common::until_locked(&cond, || woken.load(Relaxed) == 2);
        // Nobody else may wake (there are no spurious wake-ups): one woken
        // by mistake would have run by now.
        common::wait_until_settled(&tids);
        common::until_locked(&cond, || {
            assert_eq!(woken.load(Relaxed), 2);
            assert!(format!("{cond:?}").contains("waiters: 3"));
            true
        });
        let _g = cond.lock();
        cond.notify_all().unwrap();
    });
    assert_eq!(woken.load(Relaxed), N);
    let _g = cond.lock();
    assert!(format!("{cond:?}").contains("waiters: 0"));
}

#[test]
fn notify_more_than_waiting_wakes_all() {
    let _watchdog = common::watchdog();
    let cond = Condition::with_lock(Lock::new());
    let registered = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let _g = cond.lock();
                registered.fetch_add(1, Relaxed);
                assert_eq!(cond.wait_timeout(PATIENCE), Ok(true));
            });
        }
        common::until_locked(&cond, || registered.load(Relaxed) == 3);
        let _g = cond.lock();
        cond.notify(10).unwrap();
    });
}

#[test]
fn notify_is_fifo() {
    let _watchdog = common::watchdog();
    const N: usize = 6;
    let cond = Condition::with_lock(Lock::new());
    let registered = AtomicUsize::new(0);
    let order = Mutex::new(Vec::new());
    thread::scope(|s| {
        for i in 0..N {
            let (cond, registered, order) = (&cond, &registered, &order);
            s.spawn(move || {
                let _g = cond.lock();
                registered.fetch_add(1, Relaxed);
                assert_eq!(cond.wait_timeout(PATIENCE), Ok(true));
                order.lock().unwrap().push(i);
            });
            // Waiter i is queued before waiter i + 1 registers.
            common::until_locked(cond, || registered.load(Relaxed) == i + 1);
        }
        // One at a time: notify(1), then wait for that waiter to report.
        for k in 0..N / 2 {
            {
                let _g = cond.lock();
                cond.notify_one().unwrap();
            }
            common::until_locked(&cond, || order.lock().unwrap().len() == k + 1);
        }
        // Then the rest two at a time.
        for k in 0..N / 4 {
            {
                let _g = cond.lock();
                cond.notify(2).unwrap();
            }
            common::until_locked(&cond, || order.lock().unwrap().len() == N / 2 + 2 * (k + 1));
        }
        let _g = cond.lock();
        cond.notify_all().unwrap();
    });
    let order = order.into_inner().unwrap();
    assert_eq!(&order[..N / 2], &[0, 1, 2]);
    let mut pair: Vec<usize> = order[3..5].to_vec();
    pair.sort();
    assert_eq!(pair, [3, 4], "notify(2) wakes the two longest waiters");
    assert_eq!(order[5], 5);
}

#[test]
fn wait_for_checks_the_predicate_first_and_after_each_wake() {
    let _watchdog = common::watchdog();
    let cond = Condition::new();
    let calls = AtomicUsize::new(0);
    let _g = cond.lock();
    cond.wait_for(|| {
        calls.fetch_add(1, Relaxed);
        true
    })
    .unwrap();
    assert_eq!(calls.load(Relaxed), 1);
    // Timed out: predicate's last value (false), checked after the time ran out.
    calls.store(0, Relaxed);
    let start = Instant::now();
    let r = cond.wait_for_timeout(
        || {
            calls.fetch_add(1, Relaxed);
            false
        },
        Duration::from_millis(20),
    );
    assert_eq!(r, Ok(false));
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert!(
        calls.load(Relaxed) >= 2,
        "checked first and again at the end"
    );
    assert!(cond.lock_ref().is_owned());
    // The predicate turns true only at the last check.
    let mut n = 0;
    let r = cond.wait_for_until(
        || {
            n += 1;
            n == 2
        },
        Instant::now() + Duration::from_millis(5),
    );
    assert_eq!(r, Ok(true));
}

#[test]
#[cfg_attr(miri, ignore)]
fn wait_for_with_notifications() {
    let _watchdog = common::watchdog();
    let cond = Condition::with_lock(Lock::new());
    let state = AtomicUsize::new(0);
    thread::scope(|s| {
        let (plain, plain_tid) = common::spawn_tid(s, || {
            let _g = cond.lock();
            cond.wait_for(|| state.load(Relaxed) == 3).unwrap();
            state.load(Relaxed)
        });
        let (timed, timed_tid) = common::spawn_tid(s, || {
            let _g = cond.lock();
            cond.wait_for_timeout(|| state.load(Relaxed) == 3, PATIENCE)
        });
        for _ in 0..3 {
            // Both are waiting (or, wrongly, gone) before each notification.
            common::wait_until_settled(&[plain_tid.clone(), timed_tid.clone()]);
            let _g = cond.lock();
            state.fetch_add(1, Relaxed);
            cond.notify_all().unwrap();
        }
        assert_eq!(plain.join().unwrap(), 3);
        assert_eq!(timed.join().unwrap(), Ok(true));
    });
}

#[test]
fn rlock_depth_is_released_and_restored() {
    let _watchdog = common::watchdog();
    let cond = Condition::new();
    let inside = AtomicBool::new(false);
    thread::scope(|s| {
        let t = s.spawn(|| {
            cond.acquire();
            cond.acquire();
            cond.acquire();
            inside.store(true, Relaxed);
            let r = cond.wait_timeout(PATIENCE);
            assert_eq!(cond.lock_ref().recursion_count(), 3);
            for _ in 0..3 {
                cond.release().unwrap();
            }
            assert_eq!(cond.release(), Err(Error::NotOwned));
            r
        });
        // The waiter's three levels are all released while it waits: we can
        // take the lock from here.
        common::until_locked(&cond, || inside.load(Relaxed));
        cond.acquire();
        assert_eq!(cond.lock_ref().recursion_count(), 1);
        cond.notify_one().unwrap();
        cond.release().unwrap();
        assert_eq!(t.join().unwrap(), Ok(true));
    });
    assert!(!cond.lock_ref().locked());
}

#[test]
fn rlock_depth_restored_on_timeout() {
    let _watchdog = common::watchdog();
    let cond = Condition::new();
    let _a = cond.lock();
    let _b = cond.lock();
    assert_eq!(cond.wait_timeout(Duration::from_millis(2)), Ok(false));
    assert_eq!(cond.lock_ref().recursion_count(), 2);
}

#[test]
#[cfg_attr(miri, ignore)]
fn condition_over_a_borrowed_lock() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    let cond = Condition::with_lock(&lock);
    let ready = AtomicBool::new(false);
    thread::scope(|s| {
        let t = common::spawn_parked(s, || {
            let _g = cond.lock();
            cond.wait_for(|| ready.load(Relaxed)).unwrap();
            assert!(lock.locked());
        });
        // The lock is shared with code that knows nothing of the condition.
        lock.acquire();
        ready.store(true, Relaxed);
        cond.notify_all().unwrap();
        lock.release().unwrap();
        t.join().unwrap();
    });
    assert!(!lock.locked());
}

#[test]
fn condition_over_an_arc_rlock_shared_by_two_conditions() {
    let _watchdog = common::watchdog();
    // Python: two Conditions on one lock (a queue's not_empty / not_full).
    let lock = Arc::new(RLock::new());
    let not_empty = Arc::new(Condition::with_lock(Arc::clone(&lock)));
    let not_full = Arc::new(Condition::with_lock(Arc::clone(&lock)));
    let queue = Arc::new(Mutex::new(VecDeque::new()));
    const CAP: usize = 2;
    const ITEMS: usize = 200;
    let (ne, nf, q) = (
        Arc::clone(&not_empty),
        Arc::clone(&not_full),
        Arc::clone(&queue),
    );
    let producer = thread::spawn(move || {
        for i in 0..ITEMS {
            let _g = nf.lock();
            nf.wait_for(|| q.lock().unwrap().len() < CAP).unwrap();
            q.lock().unwrap().push_back(i);
            ne.notify_one().unwrap();
        }
    });
    let mut got = Vec::new();
    while got.len() < ITEMS {
        let _g = not_empty.lock();
        not_empty
            .wait_for(|| !queue.lock().unwrap().is_empty())
            .unwrap();
        got.push(queue.lock().unwrap().pop_front().unwrap());
        not_full.notify_one().unwrap();
    }
    producer.join().unwrap();
    assert_eq!(got, (0..ITEMS).collect::<Vec<_>>());
    assert!(!lock.locked());
}

#[test]
#[cfg_attr(miri, ignore)]
fn panicking_predicate_leaves_the_lock_usable() {
    let _watchdog = common::watchdog();
    let cond = Condition::with_lock(Lock::new());
    let flag = AtomicBool::new(false);
    thread::scope(|s| {
        let t = s.spawn(|| {
            let mut calls = 0;
            let r = catch_unwind(AssertUnwindSafe(|| {
                let _g = cond.lock();
                cond.wait_for(|| {
                    calls += 1;
                    if calls == 2 {
                        panic!("predicate panicked");
                    }
                    false
                })
            }));
            assert!(r.is_err());
        });
        common::until_locked(&cond, || format!("{cond:?}").contains("waiters: 1"));
        let _g = cond.lock();
        cond.notify_one().unwrap();
        drop(_g);
        t.join().unwrap();
    });
    // The guard released the lock during unwinding; the condition works.
    assert!(!cond.lock_ref().locked());
    assert!(format!("{cond:?}").contains("waiters: 0"));
    thread::scope(|s| {
        let t = common::spawn_parked(s, || {
            let _g = cond.lock();
            cond.wait_for(|| flag.load(Relaxed)).unwrap();
        });
        let _g = cond.lock();
        flag.store(true, Relaxed);
        cond.notify_one().unwrap();
        drop(_g);
        t.join().unwrap();
    });
}

/// The race CPython loses (gh-90968): a waiter's timeout fires just as it is
/// notified. Either it reports the notification, or the notification goes to
/// the other waiter; it is never swallowed.
#[test]
fn notify_racing_timeout_is_never_lost() {
    let _watchdog = common::watchdog();
    let cond = Condition::with_lock(Lock::new());
    let mut notified_first = 0;
    for round in 0..300u64 {
        let registered = AtomicUsize::new(0);
        thread::scope(|s| {
            let racer = s.spawn(|| {
                let _g = cond.lock();
                registered.fetch_add(1, Relaxed);
                // 0–400 µs: about as long as the notifier takes to get here.
                cond.wait_timeout(Duration::from_micros(round * 37 % 401))
                    .unwrap()
            });
            common::until_locked(&cond, || registered.load(Relaxed) == 1);
            let patient = s.spawn(|| {
                let _g = cond.lock();
                registered.fetch_add(1, Relaxed);
                cond.wait_timeout(PATIENCE).unwrap()
            });
            common::until_locked(&cond, || registered.load(Relaxed) == 2);
            {
                let _g = cond.lock();
                cond.notify_one().unwrap();
                // Sometimes keep the lock, so that a requeued racer's
                // timeout fires while it waits in the lock's queue.
                if round % 2 == 0 {
                    thread::sleep(Duration::from_micros(200));
                }
            }
            let racer_notified = racer.join().unwrap();
            if racer_notified {
                notified_first += 1;
                let _g = cond.lock();
                cond.notify_one().unwrap();
            }
            assert!(patient.join().unwrap(), "round {round}: notification lost");
        });
        let _g = cond.lock();
        assert!(format!("{cond:?}").contains("waiters: 0"));
    }
    // Not asserted (timing-dependent), but useful when run with --nocapture.
    println!("racer was notified in {notified_first}/300 rounds");
}

/// Many producers and consumers with short timeouts: no item is lost or
/// duplicated, and no wait reports a notification that was never sent.
#[test]
fn producer_consumer_stress() {
    let _watchdog = common::watchdog();
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 6;
    const PER_PRODUCER: usize = 2_000;
    let cond = Condition::with_lock(Lock::new());
    let queue = Mutex::new(VecDeque::new());
    let done = AtomicBool::new(false);
    let notifications = AtomicUsize::new(0);
    let notified_waits = AtomicUsize::new(0);
    let timeouts = AtomicUsize::new(0);
    let consumed: Vec<usize> = thread::scope(|s| {
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|c| {
                let (cond, queue, done) = (&cond, &queue, &done);
                let (notified_waits, timeouts) = (&notified_waits, &timeouts);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    let _g = cond.lock();
                    loop {
                        if let Some(x) = queue.lock().unwrap().pop_front() {
                            mine.push(x);
                            continue;
                        }
                        if done.load(Relaxed) {
                            return mine;
                        }
                        let t =
                            Duration::from_micros(1 + (c as u64 * 37 + mine.len() as u64) % 200);
                        match cond.wait_timeout(t) {
                            Ok(true) => notified_waits.fetch_add(1, Relaxed),
                            Ok(false) => timeouts.fetch_add(1, Relaxed),
                            Err(e) => panic!("{e}"),
                        };
                        assert!(cond.lock_ref().locked());
                    }
                })
            })
            .collect();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let (cond, queue, notifications) = (&cond, &queue, &notifications);
                s.spawn(move || {
                    for i in 0..PER_PRODUCER {
                        let _g = cond.lock();
                        queue.lock().unwrap().push_back(p * PER_PRODUCER + i);
                        if i % 7 == 0 {
                            cond.notify(2).unwrap();
                            notifications.fetch_add(2, Relaxed);
                        } else {
                            cond.notify_one().unwrap();
                            notifications.fetch_add(1, Relaxed);
                        }
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        {
            let _g = cond.lock();
            done.store(true, Relaxed);
            cond.notify_all().unwrap();
        }
        consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });
    let mut consumed = consumed;
    consumed.sort_unstable();
    assert_eq!(consumed, (0..PRODUCERS * PER_PRODUCER).collect::<Vec<_>>());
    // Each notify(k) can report at most k notified waits (+ the final
    // notify_all, at most one per consumer).
    let notified = notified_waits.load(Relaxed);
    assert!(
        notified <= notifications.load(Relaxed) + CONSUMERS,
        "{notified} notified waits for {} notifications",
        notifications.load(Relaxed)
    );
    let _g = cond.lock();
    assert!(format!("{cond:?}").contains("waiters: 0"));
}

#[test]
fn notify_all_requeue_many_waiters_all_get_the_lock() {
    let _watchdog = common::watchdog();
    const N: usize = 16;
    for _ in 0..20 {
        let cond = Arc::new(Condition::with_lock(Lock::new()));
        let registered = Arc::new(AtomicUsize::new(0));
        let in_cs = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..N)
            .map(|_| {
                let (cond, registered, in_cs) = (
                    Arc::clone(&cond),
                    Arc::clone(&registered),
                    Arc::clone(&in_cs),
                );
                thread::spawn(move || {
                    let _g = cond.lock();
                    registered.fetch_add(1, Relaxed);
                    assert_eq!(cond.wait_timeout(PATIENCE), Ok(true));
                    assert!(!in_cs.swap(true, Relaxed), "mutual exclusion");
                    thread::yield_now();
                    in_cs.store(false, Relaxed);
                })
            })
            .collect();
        common::until_locked(&cond, || registered.load(Relaxed) == N);
        {
            let _g = cond.lock();
            cond.notify_all().unwrap();
        }
        for h in handles {
            h.join().unwrap();
        }
        assert!(!cond.lock_ref().locked());
    }
}

#[test]
fn accessors_guard_and_debug() {
    let _watchdog = common::watchdog();
    let cond: Condition<Lock> = Condition::default();
    assert_eq!(
        format!("{cond:?}"),
        "Condition { lock: Lock { locked: false }, waiters: 0 }"
    );
    assert!(cond.try_acquire());
    assert!(!cond.try_acquire());
    assert!(!cond.acquire_timeout(Duration::from_millis(1)));
    assert!(!cond.acquire_until(Instant::now()));
    cond.release().unwrap();
    {
        let g = cond.lock();
        assert!(format!("{g:?}").contains("locked: true"));
    }
    let lock = cond.into_inner();
    assert!(!lock.locked());
    let c: Condition = Condition::default();
    assert!(!c.lock_ref().locked());
}

/// `notify_all` "moves the waiters onto the lock's queue instead of waking
/// them all" (lib.rs, condition/mod.rs): while the notifier holds the lock,
/// all of them are queued on it at once, and none has woken (each one's
/// count of sleeps is unchanged once everything has settled).
#[test]
#[cfg_attr(miri, ignore)] // reads /proc
fn notify_all_moves_the_waiters_onto_the_lock_without_waking_them() {
    let _watchdog = common::watchdog();
    const N: usize = 8;
    let cond = Condition::with_lock(Lock::new());
    let registered = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    thread::scope(|s| {
        let tids: Vec<common::Tid> = (0..N)
            .map(|_| {
                let (_, tid) = common::spawn_tid(s, || {
                    let _g = cond.lock();
                    registered.fetch_add(1, Relaxed);
                    cond.wait().unwrap();
                    done.fetch_add(1, Relaxed);
                });
                tid
            })
            .collect();
        common::until_locked(&cond, || registered.load(Relaxed) == N);
        common::wait_until_settled(&tids);
        let g = cond.lock();
        let before: Vec<Option<u64>> = tids.iter().map(common::voluntary_switches).collect();
        cond.notify_all().unwrap();
        assert_eq!(
            common::queued_on(cond.lock_ref()),
            N,
            "every waiter is on the lock's queue as notify_all returns"
        );
        common::wait_until_settled(&tids);
        let after: Vec<Option<u64>> = tids.iter().map(common::voluntary_switches).collect();
        assert_eq!(before, after, "a notified waiter woke up (sleeps counted)");
        assert_eq!(done.load(Relaxed), 0);
        assert_eq!(common::queued_on(cond.lock_ref()), N);
        drop(g);
    });
    assert_eq!(done.load(Relaxed), N);
    assert!(!cond.lock_ref().locked());
}

/// "A try keeps the lock" (blocking.rs, `condition_forms!`): a zero timeout
/// or a past deadline returns `Ok(false)` without releasing the lock even
/// for a moment, so a thread queued on the lock is neither woken nor let in.
#[test]
#[cfg_attr(miri, ignore)] // reads /proc
fn a_try_wait_never_lets_a_queued_thread_in() {
    let _watchdog = common::watchdog();
    let cond = Condition::with_lock(Lock::new());
    let ran = AtomicBool::new(false);
    thread::scope(|s| {
        let g = cond.lock();
        let (t, tid) = common::spawn_queued_on(s, cond.lock_ref(), || {
            let _g = cond.lock();
            ran.store(true, Relaxed);
        });
        let before = common::voluntary_switches(&tid);
        assert_eq!(cond.wait_timeout(Duration::ZERO), Ok(false));
        assert_eq!(common::queued_on(cond.lock_ref()), 1, "wait_timeout(ZERO)");
        assert_eq!(cond.wait_until(common::past()), Ok(false));
        assert_eq!(common::queued_on(cond.lock_ref()), 1, "wait_until(past)");
        assert_eq!(cond.wait_for_timeout(|| false, Duration::ZERO), Ok(false));
        assert_eq!(cond.wait_for_until(|| false, common::past()), Ok(false));
        assert_eq!(common::queued_on(cond.lock_ref()), 1, "wait_for tries");
        common::wait_until_settled(std::slice::from_ref(&tid));
        assert_eq!(
            common::voluntary_switches(&tid),
            before,
            "the queued thread was woken"
        );
        assert!(!ran.load(Relaxed));
        drop(g);
        t.join().unwrap();
    });
    assert!(ran.load(Relaxed));
}
