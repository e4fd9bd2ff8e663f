//! Bounded multi-thread stress across primitives, with short timeouts, and
//! the invariants checked at the end: nothing lost, nothing created, nobody
//! left waiting. Sizes are kept small enough for a 2-core CI machine.

mod common;

use pysync::{Barrier, BoundedSemaphore, Condition, Event, Lock, Semaphore};
use std::collections::VecDeque;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;

/// A bounded buffer built the textbook way: a `Semaphore` of free slots, a
/// `BoundedSemaphore` of filled slots, a `Lock` around the queue. Producers
/// and consumers use short timeouts and retry; every item must come out
/// exactly once, and both semaphores must end where they started.
#[test]
fn bounded_buffer_with_timeouts_loses_nothing() {
    let _watchdog = common::watchdog();
    const CAP: usize = 4;
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 4;
    const PER_PRODUCER: usize = 2_000;
    let free = Semaphore::new(CAP);
    let filled = BoundedSemaphore::new(CAP);
    // Start with the filled semaphore empty: take its permits back.
    for _ in 0..CAP {
        filled.acquire();
    }
    let lock = Lock::new();
    let queue = StdMutex::new(VecDeque::new()); // only touched under `lock`
    let consumed = StdMutex::new(Vec::new());
    let timeouts = AtomicUsize::new(0);
    thread::scope(|s| {
        for p in 0..PRODUCERS {
            let (free, filled, lock, queue, timeouts) = (&free, &filled, &lock, &queue, &timeouts);
            s.spawn(move || {
                for i in 0..PER_PRODUCER {
                    while !free.acquire_timeout(Duration::from_micros(50)) {
                        timeouts.fetch_add(1, SeqCst);
                    }
                    {
                        let _g = lock.lock();
                        queue.lock().unwrap().push_back(p * PER_PRODUCER + i);
                    }
                    filled.release().expect("never more filled than capacity");
                }
            });
        }
        for _ in 0..CONSUMERS {
            let (free, filled, lock, queue, consumed, timeouts) =
                (&free, &filled, &lock, &queue, &consumed, &timeouts);
            s.spawn(move || {
                let mut mine = Vec::new();
                for _ in 0..PRODUCERS * PER_PRODUCER / CONSUMERS {
                    while !filled.acquire_timeout(Duration::from_micros(50)) {
                        timeouts.fetch_add(1, SeqCst);
                    }
                    let item = {
                        let _g = lock.lock();
                        queue
                            .lock()
                            .unwrap()
                            .pop_front()
                            .expect("a filled slot has an item")
                    };
                    free.release();
                    mine.push(item);
                }
                consumed.lock().unwrap().extend(mine);
            });
        }
    });
    let mut all = consumed.into_inner().unwrap();
    all.sort_unstable();
    assert_eq!(all, (0..PRODUCERS * PER_PRODUCER).collect::<Vec<_>>());
    assert_eq!(free.available(), CAP, "free slots conserved");
    assert_eq!(filled.available(), 0, "filled slots conserved");
    assert!(!lock.locked());
    // Timeouts happened (or not): either way nothing was lost.
    let _ = timeouts.load(SeqCst);
}

/// Condition waiters with short timeouts racing `notify(n)` over a shared
/// token count: every token is taken exactly once, nobody takes a token that
/// is not there, and everyone leaves (no waiter stranded on the lock).
#[test]
fn condition_tokens_taken_exactly_once_under_timeouts_and_notify_n() {
    let _watchdog = common::watchdog();
    const WAITERS: usize = 6;
    const ROUNDS: usize = 300;
    let cond = Condition::with_lock(Lock::new());
    let tokens = AtomicUsize::new(0); // guarded by cond's lock
    let taken = AtomicUsize::new(0);
    let done = Event::new();
    thread::scope(|s| {
        for _ in 0..WAITERS {
            let (cond, tokens, taken, done) = (&cond, &tokens, &taken, &done);
            s.spawn(move || {
                while !done.is_set() || tokens.load(SeqCst) > 0 {
                    let _g = cond.lock();
                    let got = cond
                        .wait_for_timeout(|| tokens.load(SeqCst) > 0, Duration::from_micros(200))
                        .unwrap();
                    if got {
                        tokens.fetch_sub(1, SeqCst);
                        taken.fetch_add(1, SeqCst);
                    }
                }
            });
        }
        for i in 0..ROUNDS {
            {
                let _g = cond.lock();
                tokens.fetch_add(1, SeqCst);
                cond.notify(1 + i % 3).unwrap();
            }
            if i % 16 == 0 {
                thread::sleep(Duration::from_micros(100));
            }
        }
        done.set();
        let _g = cond.lock();
        cond.notify_all().unwrap();
    });
    assert_eq!(taken.load(SeqCst), ROUNDS, "every token taken exactly once");
    assert_eq!(tokens.load(SeqCst), 0);
    assert!(!cond.lock_ref().locked());
}

/// Phases with a Barrier while an Event-gated Semaphore pool does work in
/// each phase: the action sees every worker's contribution of the phase.
#[test]
fn barrier_phases_with_a_semaphore_pool() {
    let _watchdog = common::watchdog();
    const WORKERS: usize = 6;
    const PHASES: usize = 50;
    let pool = Semaphore::new(2);
    let inside = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    let sum = std::sync::Arc::new(AtomicUsize::new(0));
    let checked = std::sync::Arc::new(AtomicUsize::new(0));
    let (s2, c2) = (sum.clone(), checked.clone());
    let barrier = Barrier::with_action(WORKERS, move || {
        let phase = c2.fetch_add(1, SeqCst) + 1;
        assert_eq!(s2.load(SeqCst), phase * WORKERS, "all contributions in");
    });
    let start = Event::new();
    thread::scope(|s| {
        for _ in 0..WORKERS {
            let (pool, inside, peak, sum, barrier, start) =
                (&pool, &inside, &peak, &sum, &barrier, &start);
            s.spawn(move || {
                assert!(start.wait_timeout(Duration::from_secs(30)));
                for _ in 0..PHASES {
                    {
                        let _slot = pool.access();
                        peak.fetch_max(inside.fetch_add(1, SeqCst) + 1, SeqCst);
                        sum.fetch_add(1, SeqCst);
                        inside.fetch_sub(1, SeqCst);
                    }
                    barrier.wait().expect("nobody breaks it");
                }
            });
        }
        start.set();
    });
    assert_eq!(checked.load(SeqCst), PHASES);
    assert!(peak.load(SeqCst) <= 2, "the pool never let in more than 2");
    assert_eq!(pool.available(), 2);
    assert!(!barrier.broken());
    assert_eq!(barrier.n_waiting(), 0);
}
