#![no_main]
//! Concurrent schedules: the input picks 2–4 threads and, for each, a
//! sequence of operations on primitives shared by all of them. Every
//! operation that could wait has a short timeout (at most ~200 µs), so no
//! input can hang and each runs in a few milliseconds. Per-operation checks
//! run on the spot; invariants are checked after every thread has joined.
//!
//! Each primitive is a [`Subject`]: its operation type, the per-thread state
//! a thread keeps between operations (e.g. "I hold the lock"), what a thread
//! must undo when its sequence ends, and the final invariants. Adding a
//! primitive is one more `Subject` impl, one more `Op` variant and one more
//! field in `Shared`.

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pysync::{Barrier, Error, Lock, RLock};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Most operations a thread runs.
const MAX_OPS: usize = 32;

/// A short timeout from a fuzzer byte: 0..=204 µs.
fn short(us: u8) -> Duration {
    Duration::from_micros(u64::from(us) * 4 / 5)
}

/// Increments a counter with a separate load and store: if two threads ever
/// run this at once (mutual exclusion broken), increments get lost and the
/// final count is short.
fn racy_increment(c: &AtomicUsize) {
    let v = c.load(Ordering::Relaxed);
    std::hint::spin_loop();
    c.store(v + 1, Ordering::Relaxed);
}

/// The per-thread state of a subject that needs none.
#[derive(Default)]
struct NoLocal;

/// A shared primitive under test.
trait Subject: Sync {
    type Op: std::fmt::Debug;
    /// What one thread remembers between its operations.
    type Local: Default;
    /// Runs one operation, checking its immediate result.
    fn apply(&self, op: &Self::Op, local: &mut Self::Local);
    /// The thread's sequence ended: give back what it still holds.
    fn finish(&self, local: Self::Local);
    /// After every thread has joined.
    fn check(&self);
}

// ----- Lock -----------------------------------------------------------------

#[derive(Arbitrary, Debug)]
enum LockOp {
    /// `try_acquire`, increment, release.
    TryIncrement,
    /// `acquire_timeout`, increment, release.
    TimedIncrement(u8),
    /// `acquire_timeout` and keep holding it across operations.
    Hold(u8),
    /// Release what `Hold` took (with `release_fair` if true).
    Unhold(bool),
}

#[derive(Default)]
struct LockSubject {
    lock: Lock,
    /// Incremented only while holding `lock`.
    counter: AtomicUsize,
    /// Successful acquisitions.
    successes: AtomicUsize,
}

impl LockSubject {
    fn critical_section(&self) {
        racy_increment(&self.counter);
        self.successes.fetch_add(1, Ordering::Relaxed);
    }

    fn release(&self, fair: bool) {
        let r = if fair {
            self.lock.release_fair()
        } else {
            self.lock.release()
        };
        // We hold it, and nobody releases a Lock they did not take here.
        assert_eq!(r, Ok(()));
    }
}

impl Subject for LockSubject {
    type Op = LockOp;
    /// Whether this thread holds the lock (from `Hold`).
    type Local = bool;

    fn apply(&self, op: &LockOp, held: &mut bool) {
        match *op {
            LockOp::TryIncrement | LockOp::TimedIncrement(_) => {
                let got = match *op {
                    LockOp::TimedIncrement(us) => self.lock.acquire_timeout(short(us)),
                    _ => self.lock.try_acquire(),
                };
                if *held {
                    // Not re-entrant: we hold it, so it cannot be acquired.
                    assert!(!got, "acquired a Lock this thread holds");
                    return;
                }
                if got {
                    assert!(self.lock.locked());
                    self.critical_section();
                    self.release(false);
                }
            }
            LockOp::Hold(us) if !*held => {
                if self.lock.acquire_timeout(short(us)) {
                    *held = true;
                    self.critical_section();
                }
            }
            LockOp::Unhold(fair) if *held => {
                *held = false;
                self.release(fair);
            }
            LockOp::Hold(_) | LockOp::Unhold(_) => {}
        }
    }

    fn finish(&self, held: bool) {
        if held {
            self.release(false);
        }
    }

    fn check(&self) {
        assert!(!self.lock.locked(), "Lock left locked");
        assert_eq!(self.lock.release(), Err(Error::ReleaseUnlocked));
        assert_eq!(
            self.counter.load(Ordering::Relaxed),
            self.successes.load(Ordering::Relaxed),
            "lost increments: Lock let two threads in"
        );
    }
}

// ----- RLock ----------------------------------------------------------------

#[derive(Arbitrary, Debug)]
enum RLockOp {
    /// `acquire_timeout`, re-enter to a depth of 1..=4, increment, unwind.
    Nested(u8, u8),
    /// `release` without owning it: always `Err(NotOwned)`.
    ReleaseUnowned,
}

#[derive(Default)]
struct RLockSubject {
    rlock: RLock,
    counter: AtomicUsize,
    successes: AtomicUsize,
}

impl Subject for RLockSubject {
    type Op = RLockOp;
    type Local = NoLocal;

    fn apply(&self, op: &RLockOp, _: &mut NoLocal) {
        match *op {
            RLockOp::Nested(us, depth) => {
                assert!(!self.rlock.is_owned());
                if !self.rlock.acquire_timeout(short(us)) {
                    return;
                }
                let depth = usize::from(depth % 4) + 1;
                for _ in 1..depth {
                    assert!(self.rlock.try_acquire(), "re-entry failed");
                }
                assert!(self.rlock.is_owned());
                assert!(self.rlock.locked());
                assert_eq!(self.rlock.recursion_count(), depth);
                racy_increment(&self.counter);
                self.successes.fetch_add(1, Ordering::Relaxed);
                for _ in 0..depth {
                    assert_eq!(self.rlock.release(), Ok(()));
                }
                assert_eq!(self.rlock.recursion_count(), 0);
                assert_eq!(self.rlock.release(), Err(Error::NotOwned));
            }
            RLockOp::ReleaseUnowned => {
                assert_eq!(self.rlock.release(), Err(Error::NotOwned));
            }
        }
    }

    fn finish(&self, _: NoLocal) {
        assert!(!self.rlock.is_owned());
    }

    fn check(&self) {
        assert!(!self.rlock.locked(), "RLock left locked");
        assert_eq!(
            self.counter.load(Ordering::Relaxed),
            self.successes.load(Ordering::Relaxed),
            "lost increments: RLock let two threads in"
        );
    }
}

// ----- Barrier --------------------------------------------------------------

#[derive(Arbitrary, Debug)]
enum BarrierOp {
    WaitTimeout(u8),
    Abort,
    Reset,
}

struct BarrierSubject {
    barrier: Barrier,
    /// Runs of the barrier's action (one per round that got all parties).
    actions: Arc<AtomicUsize>,
    /// `Ok` results.
    oks: AtomicUsize,
}

impl BarrierSubject {
    fn new(parties: usize) -> Self {
        let actions = Arc::new(AtomicUsize::new(0));
        let a = Arc::clone(&actions);
        let barrier = Barrier::with_action(parties, move || {
            a.fetch_add(1, Ordering::Relaxed);
        });
        BarrierSubject {
            barrier,
            actions,
            oks: AtomicUsize::new(0),
        }
    }
}

impl Subject for BarrierSubject {
    type Op = BarrierOp;
    type Local = NoLocal;

    fn apply(&self, op: &BarrierOp, _: &mut NoLocal) {
        match *op {
            BarrierOp::WaitTimeout(us) => match self.barrier.wait_timeout(short(us)) {
                Ok(i) => {
                    assert!(i < self.barrier.parties());
                    self.oks.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => assert_eq!(e, Error::BrokenBarrier),
            },
            BarrierOp::Abort => self.barrier.abort(),
            BarrierOp::Reset => self.barrier.reset(),
        }
    }

    fn finish(&self, _: NoLocal) {}

    fn check(&self) {
        // Nobody is inside `wait` any more.
        assert_eq!(self.barrier.n_waiting(), 0);
        let parties = self.barrier.parties();
        let oks = self.oks.load(Ordering::Relaxed);
        // A round gives every party Ok, or none of them.
        assert_eq!(oks % parties, 0, "a round released only some parties");
        // Every released round ran the action (a round aborted or reset
        // while the action ran fails after running it).
        assert!(oks / parties <= self.actions.load(Ordering::Relaxed));
    }
}

// ----- the schedule ---------------------------------------------------------

#[derive(Arbitrary, Debug)]
enum Op {
    Lock(LockOp),
    RLock(RLockOp),
    Barrier(BarrierOp),
    /// Let another thread run.
    Yield,
}

struct Shared {
    lock: LockSubject,
    rlock: RLockSubject,
    barrier: BarrierSubject,
}

#[derive(Default)]
struct Locals {
    lock: <LockSubject as Subject>::Local,
    rlock: <RLockSubject as Subject>::Local,
    barrier: <BarrierSubject as Subject>::Local,
}

impl Shared {
    fn apply(&self, op: &Op, l: &mut Locals) {
        match op {
            Op::Lock(op) => self.lock.apply(op, &mut l.lock),
            Op::RLock(op) => self.rlock.apply(op, &mut l.rlock),
            Op::Barrier(op) => self.barrier.apply(op, &mut l.barrier),
            Op::Yield => std::thread::yield_now(),
        }
    }

    fn finish(&self, l: Locals) {
        self.lock.finish(l.lock);
        self.rlock.finish(l.rlock);
        self.barrier.finish(l.barrier);
    }

    fn check(&self) {
        self.lock.check();
        self.rlock.check();
        self.barrier.check();
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// 2..=4 threads.
    threads: u8,
    /// Parties of the barrier: 1..=threads.
    parties: u8,
    schedules: Vec<Vec<Op>>,
}

fuzz_target!(|input: Input| {
    let threads = usize::from(input.threads % 3) + 2;
    let parties = usize::from(input.parties) % threads + 1;
    let shared = Shared {
        lock: LockSubject::default(),
        rlock: RLockSubject::default(),
        barrier: BarrierSubject::new(parties),
    };
    let empty = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let ops = input.schedules.get(t).unwrap_or(&empty);
                let shared = &shared;
                s.spawn(move || {
                    let mut locals = Locals::default();
                    for op in ops.iter().take(MAX_OPS) {
                        shared.apply(op, &mut locals);
                    }
                    shared.finish(locals);
                })
            })
            .collect();
        // Join each thread explicitly (pthread_join): the scope's own wait
        // returns before the threads' thread-local destructors have run,
        // which LeakSanitizer would report as leaks.
        for h in handles {
            h.join().expect("a thread's checks failed");
        }
    });
    // Every thread joined (the scope waited for them): nobody is left waiting.
    shared.check();
});
