#![no_main]
//! Semaphore and BoundedSemaphore op sequences (single-threaded, so only
//! non-blocking ops) checked against a model of the permit count and the
//! bounded errors, including misuse (over-release, huge release_n).

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pysync::{BoundedSemaphore, Error, Semaphore};
use std::time::{Duration, Instant};

#[derive(Arbitrary, Debug)]
enum Op {
    TryAcquire,
    AcquireZero,
    AcquirePast,
    Release,
    ReleaseN(u8),
    ReleaseHuge,
    Available,
    TryAccessDrop,
    TryAccessRelease,
}

#[derive(Arbitrary, Debug)]
struct Input {
    initial: u8,
    near_max: bool,
    ops: Vec<Op>,
}

fn check_plain(initial: usize, ops: &[Op]) {
    let sem = Semaphore::new(initial);
    let max = Semaphore::MAX_PERMITS;
    let mut model = initial;
    for op in ops {
        match op {
            Op::TryAcquire => assert_eq!(sem.try_acquire(), model > 0),
            Op::AcquireZero => assert_eq!(sem.acquire_timeout(Duration::ZERO), model > 0),
            Op::AcquirePast => {
                let past = Instant::now().checked_sub(Duration::from_millis(1));
                let ok = match past {
                    Some(t) => sem.acquire_until(t),
                    None => sem.try_acquire(),
                };
                assert_eq!(ok, model > 0);
            }
            Op::Release | Op::ReleaseN(_) | Op::ReleaseHuge => {
                let n = match op {
                    Op::Release => 1,
                    Op::ReleaseN(n) => usize::from(*n),
                    _ => usize::MAX - 3,
                };
                // Past MAX_PERMITS release_n panics (tested in tests/);
                // libfuzzer aborts on any panic, so only call it when it fits.
                if n <= max - model {
                    if n == 1 {
                        sem.release();
                    } else {
                        sem.release_n(n);
                    }
                    model += n;
                }
            }
            Op::Available => {}
            Op::TryAccessDrop => {
                let g = sem.try_access();
                assert_eq!(g.is_some(), model > 0);
                if g.is_some() {
                    assert_eq!(sem.available(), model - 1);
                }
            }
            Op::TryAccessRelease => {
                if let Some(g) = sem.try_access() {
                    assert_eq!(g.release(), Ok(()));
                } else {
                    assert_eq!(model, 0);
                }
            }
        }
        if model > 0 && matches!(op, Op::TryAcquire | Op::AcquireZero | Op::AcquirePast) {
            model -= 1;
        }
        assert_eq!(sem.available(), model);
    }
    assert!(format!("{sem:?}").contains("waiters: false"));
}

fn check_bounded(initial: usize, ops: &[Op]) {
    let sem = BoundedSemaphore::new(initial);
    let mut model = initial;
    for op in ops {
        match op {
            Op::TryAcquire => assert_eq!(sem.try_acquire(), model > 0),
            Op::AcquireZero => assert_eq!(sem.acquire_timeout(Duration::ZERO), model > 0),
            Op::AcquirePast => {
                let past = Instant::now().checked_sub(Duration::from_millis(1));
                let ok = match past {
                    Some(t) => sem.acquire_until(t),
                    None => sem.try_acquire(),
                };
                assert_eq!(ok, model > 0);
            }
            Op::Release | Op::ReleaseN(_) | Op::ReleaseHuge => {
                let n = match op {
                    Op::Release => 1,
                    Op::ReleaseN(n) => usize::from(*n),
                    _ => usize::MAX - 3,
                };
                let r = if n == 1 {
                    sem.release()
                } else {
                    sem.release_n(n)
                };
                if n <= initial - model {
                    assert_eq!(r, Ok(()));
                    model += n;
                } else {
                    // All or nothing.
                    assert_eq!(r, Err(Error::TooManyReleases));
                }
            }
            Op::Available => {}
            Op::TryAccessDrop => {
                let g = sem.try_access();
                assert_eq!(g.is_some(), model > 0);
            }
            Op::TryAccessRelease => {
                if let Some(g) = sem.try_access() {
                    assert_eq!(g.release(), Ok(()));
                } else {
                    assert_eq!(model, 0);
                }
            }
        }
        if model > 0 && matches!(op, Op::TryAcquire | Op::AcquireZero | Op::AcquirePast) {
            model -= 1;
        }
        assert_eq!(sem.available(), model);
        assert!(model <= initial);
    }
}

fuzz_target!(|input: Input| {
    let initial = if input.near_max {
        Semaphore::MAX_PERMITS - usize::from(input.initial)
    } else {
        usize::from(input.initial)
    };
    let ops = &input.ops[..input.ops.len().min(256)];
    check_plain(initial, ops);
    check_bounded(initial, ops);
});
