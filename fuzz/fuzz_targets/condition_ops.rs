#![no_main]
//! Single-threaded op sequences on a `Condition` bound to a `Lock`, an
//! `RLock`, a `&Lock` or an `Arc<RLock>`, including misuse (waiting and
//! notifying without the lock, over-releasing), checked against a model: the
//! recursion depth the calling thread holds. Every result and the lock's
//! state after every op must match the model; nobody is ever left waiting.

use arbitrary::Arbitrary;
use pysync::{Condition, ConditionLock, Error, Lock, RLock};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Arbitrary, Debug)]
enum Op {
    Acquire,
    TryAcquire,
    AcquireTimeoutZero,
    AcquireUntilPast,
    Release,
    WaitZero,
    WaitUntilPast,
    WaitTinyTimeout,
    WaitForTimeoutZero(bool),
    WaitForTinyTimeout { turns_true_at: u8 },
    Notify(u8),
    NotifyOne,
    NotifyAll,
    GuardedNotify(u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    kind: u8,
    ops: Vec<Op>,
}

/// `depth`: the model; `reentrant`: RLock semantics; `held_depth` reads the
/// real lock's depth as seen by this thread.
fn run<L: ConditionLock + Debug>(
    cond: &Condition<L>,
    reentrant: bool,
    held_depth: impl Fn(&L) -> usize,
    ops: &[Op],
) {
    let not_held = if reentrant {
        Error::NotOwned
    } else {
        Error::ReleaseUnlocked
    };
    let mut depth = 0usize;
    for op in ops.iter().take(256) {
        let held = depth > 0;
        match op {
            Op::Acquire => {
                if reentrant || !held {
                    cond.acquire();
                    depth += 1;
                } else {
                    // A Lock acquired twice by one thread deadlocks (like
                    // Python's); check it would block instead.
                    assert!(!cond.try_acquire());
                }
            }
            Op::TryAcquire | Op::AcquireTimeoutZero | Op::AcquireUntilPast => {
                let got = match op {
                    Op::TryAcquire => cond.try_acquire(),
                    Op::AcquireTimeoutZero => cond.acquire_timeout(Duration::ZERO),
                    _ => cond.acquire_until(Instant::now()),
                };
                assert_eq!(got, reentrant || !held, "{op:?} at depth {depth}");
                if got {
                    depth += 1;
                }
            }
            Op::Release => {
                let r = cond.release();
                if held {
                    assert_eq!(r, Ok(()));
                    depth -= 1;
                } else {
                    assert_eq!(r, Err(not_held));
                }
            }
            Op::WaitZero | Op::WaitUntilPast | Op::WaitTinyTimeout => {
                let r = match op {
                    Op::WaitZero => cond.wait_timeout(Duration::ZERO),
                    Op::WaitUntilPast => cond.wait_until(Instant::now()),
                    _ => cond.wait_timeout(Duration::from_micros(20)),
                };
                // Nobody else can notify: a held wait always times out.
                let want = if held {
                    Ok(false)
                } else {
                    Err(Error::WaitUnacquired)
                };
                assert_eq!(r, want, "{op:?} at depth {depth}");
            }
            Op::WaitForTimeoutZero(v) => {
                let mut calls = 0;
                let r = cond.wait_for_timeout(
                    || {
                        calls += 1;
                        *v
                    },
                    Duration::ZERO,
                );
                if held {
                    assert_eq!(r, Ok(*v));
                    assert_eq!(calls, 1, "checked once, no waiting");
                } else {
                    assert_eq!(r, Err(Error::WaitUnacquired));
                    assert_eq!(calls, 0);
                }
            }
            Op::WaitForTinyTimeout { turns_true_at } => {
                let at = u32::from(*turns_true_at % 4);
                let mut calls = 0u32;
                let r = cond.wait_for_timeout(
                    || {
                        calls += 1;
                        calls > at
                    },
                    Duration::from_micros(30),
                );
                if held {
                    // Pred's last value: true iff it turned true before the
                    // time ran out (how often it ran depends on timing).
                    let v = r.unwrap();
                    assert_eq!(v, calls > at);
                    assert!(calls >= 1);
                } else {
                    assert_eq!(r, Err(Error::WaitUnacquired));
                }
            }
            Op::Notify(n) => {
                let r = cond.notify(usize::from(*n));
                assert_eq!(
                    r,
                    if held {
                        Ok(())
                    } else {
                        Err(Error::NotifyUnacquired)
                    }
                );
            }
            Op::NotifyOne => {
                let r = cond.notify_one();
                assert_eq!(
                    r,
                    if held {
                        Ok(())
                    } else {
                        Err(Error::NotifyUnacquired)
                    }
                );
            }
            Op::NotifyAll => {
                let r = cond.notify_all();
                assert_eq!(
                    r,
                    if held {
                        Ok(())
                    } else {
                        Err(Error::NotifyUnacquired)
                    }
                );
            }
            Op::GuardedNotify(n) => {
                if reentrant || !held {
                    let g = cond.lock();
                    assert_eq!(cond.notify(usize::from(*n)), Ok(()));
                    assert_eq!(cond.wait_timeout(Duration::ZERO), Ok(false));
                    drop(g);
                }
            }
        }
        assert_eq!(held_depth(cond.lock_ref()), depth, "after {op:?}");
        assert_eq!(cond.lock_ref().is_held(), depth > 0, "after {op:?}");
        assert!(format!("{cond:?}").ends_with("waiters: 0 }"), "{cond:?}");
    }
    for _ in 0..depth {
        cond.release().unwrap();
    }
    assert_eq!(cond.release(), Err(not_held));
    assert!(!cond.lock_ref().is_held());
}

libfuzzer_sys::fuzz_target!(|input: Input| {
    let lock_depth = |l: &Lock| usize::from(l.locked());
    let rlock_depth = |r: &RLock| r.recursion_count();
    match input.kind % 4 {
        0 => run(
            &Condition::with_lock(Lock::new()),
            false,
            lock_depth,
            &input.ops,
        ),
        1 => run(&Condition::new(), true, rlock_depth, &input.ops),
        2 => {
            let lock = Lock::new();
            run(
                &Condition::with_lock(&lock),
                false,
                |l: &&Lock| lock_depth(l),
                &input.ops,
            );
            assert!(!lock.locked());
        }
        _ => {
            let rlock = Arc::new(RLock::new());
            let cond = Condition::with_lock(Arc::clone(&rlock));
            run(&cond, true, |r: &Arc<RLock>| rlock_depth(r), &input.ops);
            assert!(!rlock.locked());
        }
    }
});
