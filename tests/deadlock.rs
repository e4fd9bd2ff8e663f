//! The deadlock detector: `cargo test --features deadlock_detection --test deadlock`.
//!
//! `check_deadlock` is process-wide and final (reported threads stay blocked
//! for ever), so the tests here run one at a time (`SERIAL`) and never share
//! locks.
#![cfg(feature = "deadlock_detection")]

mod common;

use pysync::deadlock::{DeadlockedThread, check_deadlock};
use pysync::{Condition, ConditionLock, Lock, RLock};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Polls the detector until it reports something (or 20 s pass).
fn wait_for_cycle() -> Vec<Vec<DeadlockedThread>> {
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        let found = check_deadlock();
        if !found.is_empty() || Instant::now() > give_up {
            return found;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn ids(cycle: &[DeadlockedThread]) -> HashSet<ThreadId> {
    cycle.iter().map(DeadlockedThread::thread_id).collect()
}

/// Two threads take the same two locks in opposite orders (the `acquire`s
/// are done by `take`, which is where the threads end up blocked).
fn opposite_order<L: Send + Sync + 'static>(
    a: L,
    b: L,
    take: fn(&L),
) -> (HashSet<ThreadId>, Vec<Vec<DeadlockedThread>>) {
    let (a, b) = (Arc::new(a), Arc::new(b));
    let both_hold_one = Arc::new(Barrier::new(2));
    let spawn = |first: Arc<L>, second: Arc<L>, both: Arc<Barrier>| {
        thread::spawn(move || {
            take(&first);
            both.wait();
            take(&second); // blocks for ever: the detector keeps it parked
            unreachable!("a deadlocked thread came back");
        })
    };
    let t1 = spawn(Arc::clone(&a), Arc::clone(&b), Arc::clone(&both_hold_one));
    let t2 = spawn(b, a, both_hold_one);
    let expected: HashSet<ThreadId> = [t1.thread().id(), t2.thread().id()].into();
    // t1 and t2 are never joined: they stay blocked until the process exits.
    (expected, wait_for_cycle())
}

/// Where the threads of `two_locks_taken_in_opposite_order_are_reported`
/// block: a frame of the test's own, to find in the reported backtraces.
#[inline(never)]
fn blocked_in_acquire(lock: &Lock) {
    lock.acquire();
}

#[test]
fn two_locks_taken_in_opposite_order_are_reported() {
    let _watchdog = common::watchdog();
    let _serial = serial();
    let (expected, cycles) = opposite_order(Lock::new(), Lock::new(), blocked_in_acquire);
    assert_eq!(cycles.len(), 1, "one cycle");
    assert_eq!(ids(&cycles[0]), expected, "the two threads, nobody else");
    for t in &cycles[0] {
        // The backtrace starts where it blocked, in pysync's Lock module
        // (its state machine: rustc's legacy symbols print
        // `pysync::lock::raw::RawLock::park_waiter`, v0 symbols, nightly's
        // default, `<pysync::lock::raw::RawLock>::park_waiter`: both contain
        // the module path), and goes out through the test's own function.
        let names: Vec<&str> = t.frames().iter().map(|f| f.function()).collect();
        assert!(
            names.first().is_some_and(|f| f.contains("pysync::lock::")),
            "{t}"
        );
        assert!(
            names.iter().any(|f| f.contains("blocked_in_acquire")),
            "{t}"
        );
        assert!(t.to_string().starts_with("thread ThreadId("), "{t}");
    }
    // Reported once: the threads are out of the wait queues now.
    assert!(check_deadlock().is_empty());
}

#[test]
fn two_rlocks_taken_in_opposite_order_are_reported() {
    let _watchdog = common::watchdog();
    let _serial = serial();
    // Re-entry first: the cycle is about ownership, not depth.
    let (expected, cycles) = opposite_order(RLock::new(), RLock::new(), |r: &RLock| {
        r.acquire();
        if r.recursion_count() == 1 {
            r.acquire();
        }
    });
    assert_eq!(cycles.len(), 1, "one cycle");
    assert_eq!(ids(&cycles[0]), expected);
    assert!(check_deadlock().is_empty());
}

#[test]
fn locks_taken_in_one_order_are_never_reported() {
    let _watchdog = common::watchdog();
    let _serial = serial();
    const THREADS: usize = 4;
    const ROUNDS: usize = 3_000;
    let a = Arc::new(Lock::new());
    let b = Arc::new(RLock::new());
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (a, b, done) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&done));
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    // Always a, then b: contended (so threads really park,
                    // without timeout), but never a cycle.
                    a.acquire();
                    b.acquire();
                    b.release().unwrap();
                    a.release().unwrap();
                    b.acquire();
                    thread::yield_now();
                    b.release().unwrap();
                }
                done.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    let mut checks = 0;
    while done.load(Ordering::Relaxed) < THREADS {
        let found = check_deadlock();
        assert!(found.is_empty(), "false report: {found:?}");
        checks += 1;
        thread::sleep(Duration::from_millis(1));
    }
    for w in workers {
        w.join().unwrap();
    }
    assert!(checks > 0);
    assert!(check_deadlock().is_empty());
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_lock_released_by_another_thread_closes_no_false_cycle() {
    let _watchdog = common::watchdog();
    let _serial = serial();
    // `l` is acquired by A but released (legally) by the main thread while A
    // is blocked on `m`; main then takes `l` itself and C, holding `m`,
    // waits for `l`. Nobody is deadlocked (main runs and will release `l`),
    // but a detector that still counted `l` as A's would see
    // A → m → C → l → A and stop A and C for ever.
    let l = Arc::new(Lock::new());
    let m = Arc::new(Lock::new());
    let c_holds_m = Arc::new(Barrier::new(2));
    let a_holds_l = Arc::new(Barrier::new(2));
    let (c, c_tid) = {
        let (l, m, c_holds_m) = (Arc::clone(&l), Arc::clone(&m), Arc::clone(&c_holds_m));
        common::spawn_static_tid(move || {
            m.acquire();
            c_holds_m.wait();
            c_holds_m.wait(); // main has taken l
            l.acquire();
            l.release().unwrap();
            m.release().unwrap();
        })
    };
    c_holds_m.wait();
    let (a, a_tid) = {
        let (l, m, a_holds_l) = (Arc::clone(&l), Arc::clone(&m), Arc::clone(&a_holds_l));
        common::spawn_static_tid(move || {
            l.acquire();
            a_holds_l.wait();
            m.acquire(); // blocks until C is done
            m.release().unwrap();
        })
    };
    a_holds_l.wait();
    let parked = |tid: &common::Tid, l: &Lock| {
        // The thread has spun out and parked (past the barrier, on `l`).
        common::wait_until_parked(tid);
        assert!(l.locked());
    };
    parked(&a_tid, &m); // A is blocked on m
    l.release().unwrap(); // on A's behalf: a Lock is not owned
    l.acquire(); // now main holds l
    c_holds_m.wait();
    parked(&c_tid, &l); // C is blocked on l
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        let found = check_deadlock();
        assert!(found.is_empty(), "false report: {found:?}");
        thread::sleep(Duration::from_millis(10));
    }
    l.release().unwrap();
    c.join().unwrap();
    a.join().unwrap();
    // Once A has run again its record is clean: detection works again.
    assert!(check_deadlock().is_empty());
    let (expected, cycles) = opposite_order(Lock::new(), Lock::new(), Lock::acquire);
    assert_eq!(cycles.len(), 1);
    assert_eq!(ids(&cycles[0]), expected);
}

/// A thread waiting with a timeout can still give up, so it closes no
/// cycle (`deadlock` module docs: "never part of a reported cycle"): T1
/// holds `a` and waits for `b` without a timeout, T2 holds `b` and waits
/// for `a` with one — for `acquire_timeout` and for `acquire_until`. Had
/// the detector reported them, both would stay blocked for ever; instead
/// the main thread releases `a` for T1 (a `Lock` is not owned) and both
/// finish.
#[test]
#[cfg_attr(miri, ignore)] // reads /proc
fn a_timed_wait_is_never_part_of_a_reported_cycle() {
    let _watchdog = common::watchdog();
    let _serial = serial();
    let timed: [fn(&Lock) -> bool; 2] = [
        |l| l.acquire_timeout(common::PROMPT),
        |l| l.acquire_until(Instant::now() + common::PROMPT),
    ];
    for take_timed in timed {
        let (a, b) = (Arc::new(Lock::new()), Arc::new(Lock::new()));
        let both_hold_one = Arc::new(Barrier::new(3));
        let (t1, t1_tid) = {
            let (a, b, both) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&both_hold_one));
            common::spawn_static_tid(move || {
                a.acquire();
                both.wait();
                b.acquire(); // untimed
                b.release().unwrap();
            })
        };
        let (t2, t2_tid) = {
            let (a, b, both) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&both_hold_one));
            common::spawn_static_tid(move || {
                b.acquire();
                both.wait();
                let got = take_timed(&a);
                a.release().unwrap();
                b.release().unwrap();
                got
            })
        };
        both_hold_one.wait();
        common::wait_until_queued(&t1_tid, &*b, 1);
        common::wait_until_queued(&t2_tid, &*a, 1);
        for _ in 0..5 {
            let found = check_deadlock();
            assert!(found.is_empty(), "a timed wait closed a cycle: {found:?}");
        }
        a.release().unwrap(); // on T1's behalf
        assert!(t2.join().unwrap(), "T2 got `a`");
        t1.join().unwrap();
        assert!(!a.locked() && !b.locked());
    }
    assert!(check_deadlock().is_empty());
}

#[test]
fn rlock_and_condition_cycle_is_reported() {
    let _watchdog = common::watchdog();
    // Thread A holds Lock `m` and waits on a Condition bound to RLock `r`
    // (which releases `r`). Thread B takes `r`, notifies — A is moved onto
    // `r`'s queue and now needs `r` back — and then takes `m`, held by A.
    // A waits for `r` (held by B), B waits for `m` (held by A): a cycle that
    // runs through the condition's hand-over of its lock.
    let _serial = serial();
    let m = Arc::new(Lock::new());
    let cond = Arc::new(pysync::Condition::with_lock(RLock::new()));
    let a_waiting = Arc::new(Barrier::new(2));
    let a = {
        let (m, cond, a_waiting) = (m.clone(), cond.clone(), a_waiting.clone());
        thread::spawn(move || {
            m.acquire();
            cond.acquire();
            a_waiting.wait();
            cond.wait().unwrap(); // after the notify: blocks on `r` for ever
            unreachable!("a deadlocked thread came back");
        })
    };
    a_waiting.wait();
    let b = {
        let (m, cond) = (m.clone(), cond.clone());
        thread::spawn(move || {
            cond.acquire(); // only possible once A is parked in wait()
            cond.notify_one().unwrap();
            m.acquire(); // held by A: blocks for ever
            unreachable!("a deadlocked thread came back");
        })
    };
    let expected: HashSet<ThreadId> = [a.thread().id(), b.thread().id()].into();
    let cycles = wait_for_cycle();
    assert_eq!(cycles.len(), 1, "one cycle");
    assert_eq!(ids(&cycles[0]), expected);
}

#[test]
fn lock_and_condition_cycle_is_reported() {
    // As above with a `Condition` bound to a plain `Lock` `l`: A holds `m`
    // and waits on the condition (releasing `l`); B takes `l`, notifies (A
    // now waits for `l`, held by B) and takes `m`, held by A. The notified
    // waiter closes the cycle: its record no longer names `l` (dropped before
    // it parked) and it waits on `l`'s key like any `l` waiter.
    let _watchdog = common::watchdog();
    let _serial = serial();
    let m = Arc::new(Lock::new());
    let cond = Arc::new(Condition::with_lock(Lock::new()));
    let a_waiting = Arc::new(Barrier::new(2));
    let a = {
        let (m, cond, a_waiting) = (m.clone(), cond.clone(), a_waiting.clone());
        thread::spawn(move || {
            m.acquire();
            cond.acquire();
            a_waiting.wait();
            cond.wait().unwrap(); // after the notify: blocks on `l` for ever
            unreachable!("a deadlocked thread came back");
        })
    };
    a_waiting.wait();
    let b = {
        let (m, cond) = (m.clone(), cond.clone());
        thread::spawn(move || {
            // `acquire` succeeds only once A released `l` in wait(), so A is
            // queued on the condition by then.
            cond.acquire();
            cond.notify_one().unwrap();
            m.acquire(); // held by A: blocks for ever
            unreachable!("a deadlocked thread came back");
        })
    };
    let expected: HashSet<ThreadId> = [a.thread().id(), b.thread().id()].into();
    let cycles = wait_for_cycle();
    assert_eq!(cycles.len(), 1, "one cycle");
    assert_eq!(ids(&cycles[0]), expected);
}

/// Two threads take turns through `cond` `rounds` times each: every wait is
/// woken by a notify; with `timed`, waits are short and often time out
/// (also after being notified, on the lock) and are retried.
fn take_turns<L: ConditionLock + Send + Sync>(
    cond: &Condition<L>,
    turn: &AtomicUsize,
    rounds: usize,
    timed: bool,
) {
    thread::scope(|s| {
        for me in 0..2 {
            s.spawn(move || {
                for _ in 0..rounds {
                    let _g = cond.lock();
                    // Re-entered where the lock allows it (an RLock), so the
                    // wait releases and restores more than one level.
                    let again = cond.lock_ref().is_held() && cond.try_acquire();
                    while turn.load(Ordering::Relaxed) % 2 != me {
                        if timed {
                            cond.wait_timeout(Duration::from_micros(50)).unwrap();
                        } else {
                            cond.wait().unwrap();
                        }
                    }
                    turn.fetch_add(1, Ordering::Relaxed);
                    cond.notify_all().unwrap();
                    if again {
                        cond.release().unwrap();
                    }
                }
            });
        }
    });
}

#[test]
fn condition_waits_do_no_bookkeeping_inside_parking_callbacks() {
    // Trust issue, item 3. parking_lot_core forbids the detector's
    // bookkeeping inside parking callbacks: a Condition waiter is already
    // queued in `before_sleep`, and a concurrent `check_deadlock` reads the
    // records of queued threads, so changing one there is a data race
    // (undefined behaviour). With the feature on, pysync's parking seam
    // aborts the process ("pysync bug: deadlock-detector bookkeeping ...
    // inside a parking callback") before any such call, so this test fails
    // (the test binary aborts) on code that does it. It drives every wait
    // path of a Condition over a Lock, an RLock (re-entered), a `&Lock` and
    // an `Arc<RLock>`: notified, timed out, notified and then timing out on
    // the lock; while another thread runs the detector (pysync's and
    // parking_lot_core's own) in a loop, which must never report anything
    // (ThreadSanitizer catches parking_lot_core's walk racing with the old
    // code's bookkeeping).
    let _watchdog = common::watchdog();
    let _serial = serial();
    const ROUNDS: usize = 300;
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        let checker = s.spawn(|| {
            let mut checks = 0usize;
            while !done.load(Ordering::Relaxed) {
                let found = check_deadlock();
                assert!(found.is_empty(), "false report: {found:?}");
                // parking_lot_core's own detector too, as an application
                // that also uses parking_lot's deadlock detection calls it:
                // it does not take pysync's side table first, so it walks the
                // queued waiters' records concurrently with anything they do.
                let raw = parking_lot_core::deadlock::check_deadlock();
                assert!(raw.is_empty(), "false report: {} cycles", raw.len());
                checks += 1;
                thread::yield_now();
            }
            checks
        });
        for timed in [false, true] {
            let turn = AtomicUsize::new(0);
            take_turns(&Condition::with_lock(Lock::new()), &turn, ROUNDS, timed);
            take_turns(&Condition::new(), &turn, ROUNDS, timed);
            let shared = Lock::new();
            take_turns(&Condition::with_lock(&shared), &turn, ROUNDS, timed);
            take_turns(
                &Condition::with_lock(Arc::new(RLock::new())),
                &turn,
                ROUNDS,
                timed,
            );
        }
        done.store(true, Ordering::Relaxed);
        assert!(checker.join().unwrap() > 0);
    });
}
