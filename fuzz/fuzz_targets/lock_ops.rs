#![no_main]
//! Lock and RLock operation sequences, including misuse, checked step by
//! step against a trivial model. Single-threaded, so only non-blocking and
//! zero/short-timeout operations are used (a blocking acquire of a held
//! Lock would deadlock, as in Python).

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pysync::{Error, Lock, RLock};
use std::time::{Duration, Instant};

#[derive(Arbitrary, Debug)]
enum Op {
    LockAcquireIfFree,
    LockTry,
    LockTimeout(u8),
    LockUntilPast,
    LockRelease,
    LockReleaseFair,
    LockGuard,
    RAcquire,
    RTry,
    RTimeout(u8),
    RRelease,
    RGuard(u8),
    RSaveRestore,
    /// Another thread tries the RLock and a release (must fail: not owner).
    RForeign,
}

fuzz_target!(|ops: Vec<Op>| {
    let lock = Lock::new();
    let rlock = RLock::new();
    let mut locked = false;
    let mut depth = 0usize;
    for op in ops.iter().take(256) {
        match *op {
            Op::LockAcquireIfFree => {
                if !locked {
                    lock.acquire();
                    locked = true;
                }
            }
            Op::LockTry => {
                assert_eq!(lock.try_acquire(), !locked);
                locked = true;
            }
            Op::LockTimeout(us) => {
                let got = lock.acquire_timeout(Duration::from_micros(u64::from(us % 16)));
                assert_eq!(got, !locked);
                locked = true;
            }
            Op::LockUntilPast => {
                assert_eq!(lock.acquire_until(Instant::now()), !locked);
                locked = true;
            }
            Op::LockRelease | Op::LockReleaseFair => {
                let r = if matches!(op, Op::LockRelease) {
                    lock.release()
                } else {
                    lock.release_fair()
                };
                if locked {
                    assert_eq!(r, Ok(()));
                } else {
                    assert_eq!(r, Err(Error::ReleaseUnlocked));
                }
                locked = false;
            }
            Op::LockGuard => {
                let g = lock.try_lock();
                assert_eq!(g.is_some(), !locked);
                if g.is_some() {
                    assert!(lock.locked());
                }
                drop(g);
            }
            Op::RAcquire => {
                rlock.acquire();
                depth += 1;
            }
            Op::RTry => {
                assert!(rlock.try_acquire());
                depth += 1;
            }
            Op::RTimeout(us) => {
                assert!(rlock.acquire_timeout(Duration::from_micros(u64::from(us))));
                depth += 1;
            }
            Op::RRelease => {
                let r = rlock.release();
                if depth > 0 {
                    assert_eq!(r, Ok(()));
                    depth -= 1;
                } else {
                    assert_eq!(r, Err(Error::NotOwned));
                }
            }
            Op::RGuard(n) => {
                let guards: Vec<_> = (0..n % 4).map(|_| rlock.lock()).collect();
                assert_eq!(rlock.recursion_count(), depth + guards.len());
            }
            Op::RSaveRestore => match rlock.release_save() {
                Ok(saved) => {
                    assert_eq!(saved.depth(), depth);
                    assert!(!rlock.locked());
                    rlock.acquire_restore(saved);
                }
                Err(e) => {
                    assert_eq!(depth, 0);
                    assert_eq!(e, Error::NotOwned);
                }
            },
            Op::RForeign => {
                let held = depth > 0;
                std::thread::scope(|s| {
                    // Joined explicitly: the scope's implicit join can return
                    // before the thread's TLS destructors ran, which
                    // LeakSanitizer then reports as a leak.
                    s.spawn(|| {
                        assert_eq!(rlock.release(), Err(Error::NotOwned));
                        assert_eq!(rlock.recursion_count(), 0);
                        let got = rlock.try_acquire();
                        assert_eq!(got, !held);
                        if got {
                            rlock.release().unwrap();
                        }
                    })
                    .join()
                    .unwrap();
                });
            }
        }
        assert_eq!(lock.locked(), locked);
        assert_eq!(rlock.recursion_count(), depth);
        assert_eq!(rlock.is_owned(), depth > 0);
        assert_eq!(rlock.locked(), depth > 0);
    }
});
