//! The bounded producer/consumer queue as users write it from the docs: a
//! port of CPython's `queue.Queue(maxsize=4)` — one lock, two conditions
//! bound to it (`not_empty`, `not_full`), a timed wait on a predicate, and
//! `notify_one` after each put and each get, under the lock.
//!
//! * `pysync`: a [`Lock`] shared through an `Arc` by two `Condition`s, the
//!   items in an `UnsafeCell` that only the lock's holder touches (what
//!   Python's `Queue` does with its `deque`);
//! * `pysync_condvar`: `pysync::Mutex<VecDeque>` + two `pysync::Condvar`s
//!   waiting with its guard, `wait_timeout_while` (no `unsafe`, no second
//!   lock: the port the docs now show);
//! * `std`: `Mutex<VecDeque>` + two `Condvar`s, `wait_timeout_while`;
//! * `parking_lot`: `Mutex<VecDeque>` + two `Condvar`s, `wait_while_for`.
//!
//! [`run`] moves `items` items from each of `t` producers to `t` consumers
//! and checks that every item arrived once.

use super::thread_context_switches;
use pysync::{Condition, Lock};
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The queue's capacity (`queue.Queue(maxsize=4)`).
pub const MAXSIZE: usize = 4;
/// The timeout of each wait: long enough never to expire here (a put or get
/// that times out fails the run), present because the pattern has one.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The implementations, by bench name.
pub const IMPLS: [&str; 4] = ["pysync", "pysync_condvar", "std", "parking_lot"];

/// A blocking bounded queue of `u64`.
pub trait BoundedQueue: Sync + Default {
    fn put(&self, item: u64);
    fn get(&self) -> u64;
}

/// `queue.Queue` ported to pysync.
pub struct PysyncQueue {
    lock: Arc<Lock>,
    not_empty: Condition<Arc<Lock>>,
    not_full: Condition<Arc<Lock>>,
    /// Touched only by the holder of `lock`.
    items: UnsafeCell<VecDeque<u64>>,
}

// SAFETY: `items` is only accessed while `lock` is held (in `put`/`get`
// between acquire and release, and in the predicates, which `wait_for_*`
// runs with the lock held), so accesses from different threads are ordered
// by the lock's acquire/release.
unsafe impl Sync for PysyncQueue {}

impl Default for PysyncQueue {
    fn default() -> Self {
        let lock = Arc::new(Lock::new());
        PysyncQueue {
            not_empty: Condition::with_lock(Arc::clone(&lock)),
            not_full: Condition::with_lock(Arc::clone(&lock)),
            lock,
            items: UnsafeCell::new(VecDeque::with_capacity(MAXSIZE)),
        }
    }
}

impl PysyncQueue {
    /// The items. Caller holds `lock`, and drops the reference before
    /// releasing it.
    #[allow(clippy::mut_from_ref)]
    unsafe fn items(&self) -> &mut VecDeque<u64> {
        // SAFETY: the caller holds the lock (see `Sync` above), and no other
        // reference to the items is alive: each use is one statement.
        unsafe { &mut *self.items.get() }
    }
}

impl BoundedQueue for PysyncQueue {
    fn put(&self, item: u64) {
        self.lock.acquire();
        // SAFETY (both blocks): the predicate runs with the lock held, and
        // so does the push.
        let room = self
            .not_full
            .wait_for_timeout(|| unsafe { self.items() }.len() < MAXSIZE, TIMEOUT)
            .unwrap();
        assert!(room, "put timed out");
        unsafe { self.items() }.push_back(item);
        self.not_empty.notify_one().unwrap();
        self.lock.release().unwrap();
    }

    fn get(&self) -> u64 {
        self.lock.acquire();
        // SAFETY (both blocks): the predicate runs with the lock held, and
        // so does the pop.
        let any = self
            .not_empty
            .wait_for_timeout(|| !unsafe { self.items() }.is_empty(), TIMEOUT)
            .unwrap();
        assert!(any, "get timed out");
        let item = unsafe { self.items() }.pop_front().unwrap();
        self.not_full.notify_one().unwrap();
        self.lock.release().unwrap();
        item
    }
}

/// The same with pysync's `Mutex<T>` and `Condvar` (the guard-passing
/// shape of std's and parking_lot's).
#[derive(Default)]
pub struct PysyncCondvarQueue {
    items: pysync::Mutex<VecDeque<u64>>,
    not_empty: pysync::Condvar,
    not_full: pysync::Condvar,
}

impl BoundedQueue for PysyncCondvarQueue {
    fn put(&self, item: u64) {
        let mut q = self.items.lock();
        let r = self
            .not_full
            .wait_timeout_while(&mut q, TIMEOUT, |q| q.len() >= MAXSIZE);
        assert!(!r.timed_out(), "put timed out");
        q.push_back(item);
        self.not_empty.notify_one();
    }

    fn get(&self) -> u64 {
        let mut q = self.items.lock();
        let r = self
            .not_empty
            .wait_timeout_while(&mut q, TIMEOUT, |q| q.is_empty());
        assert!(!r.timed_out(), "get timed out");
        let item = q.pop_front().unwrap();
        self.not_full.notify_one();
        item
    }
}

/// The same with std's `Mutex` and `Condvar`.
#[derive(Default)]
pub struct StdQueue {
    items: std::sync::Mutex<VecDeque<u64>>,
    not_empty: std::sync::Condvar,
    not_full: std::sync::Condvar,
}

impl BoundedQueue for StdQueue {
    fn put(&self, item: u64) {
        let q = self.items.lock().unwrap();
        let (mut q, r) = self
            .not_full
            .wait_timeout_while(q, TIMEOUT, |q| q.len() >= MAXSIZE)
            .unwrap();
        assert!(!r.timed_out(), "put timed out");
        q.push_back(item);
        self.not_empty.notify_one();
    }

    fn get(&self) -> u64 {
        let q = self.items.lock().unwrap();
        let (mut q, r) = self
            .not_empty
            .wait_timeout_while(q, TIMEOUT, |q| q.is_empty())
            .unwrap();
        assert!(!r.timed_out(), "get timed out");
        let item = q.pop_front().unwrap();
        self.not_full.notify_one();
        item
    }
}

/// The same with parking_lot's `Mutex` and `Condvar`.
#[derive(Default)]
pub struct ParkingLotQueue {
    items: parking_lot::Mutex<VecDeque<u64>>,
    not_empty: parking_lot::Condvar,
    not_full: parking_lot::Condvar,
}

impl BoundedQueue for ParkingLotQueue {
    fn put(&self, item: u64) {
        let mut q = self.items.lock();
        let r = self
            .not_full
            .wait_while_for(&mut q, |q| q.len() >= MAXSIZE, TIMEOUT);
        assert!(!r.timed_out(), "put timed out");
        q.push_back(item);
        self.not_empty.notify_one();
    }

    fn get(&self) -> u64 {
        let mut q = self.items.lock();
        let r = self
            .not_empty
            .wait_while_for(&mut q, |q| q.is_empty(), TIMEOUT);
        assert!(!r.timed_out(), "get timed out");
        let item = q.pop_front().unwrap();
        self.not_full.notify_one();
        item
    }
}

/// What one run measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct Run {
    /// From the moment every thread was ready to the last one's end.
    pub elapsed: Duration,
    /// Voluntary context switches of all the workers together.
    pub voluntary: u64,
    /// Involuntary context switches (preemptions) of all the workers.
    pub involuntary: u64,
}

/// `t` producers each put `items` items, `t` consumers each get `items`.
pub fn run<Q: BoundedQueue>(t: usize, items: u64) -> Run {
    let q = Q::default();
    let gate = std::sync::Barrier::new(2 * t + 1);
    std::thread::scope(|s| {
        let producers: Vec<_> = (0..t)
            .map(|_| {
                s.spawn(|| {
                    gate.wait();
                    let cs = thread_context_switches();
                    for i in 0..items {
                        q.put(i);
                    }
                    let end = thread_context_switches();
                    (0, end.0 - cs.0, end.1 - cs.1)
                })
            })
            .collect();
        let consumers: Vec<_> = (0..t)
            .map(|_| {
                s.spawn(|| {
                    gate.wait();
                    let cs = thread_context_switches();
                    let mut sum = 0u64;
                    for _ in 0..items {
                        sum += q.get();
                    }
                    let end = thread_context_switches();
                    (sum, end.0 - cs.0, end.1 - cs.1)
                })
            })
            .collect();
        gate.wait();
        let start = Instant::now();
        let mut run = Run::default();
        let mut sum = 0;
        for h in producers.into_iter().chain(consumers) {
            let (s, v, i) = h.join().unwrap();
            sum += s;
            run.voluntary += v;
            run.involuntary += i;
        }
        run.elapsed = start.elapsed();
        assert_eq!(
            sum,
            t as u64 * (items * items.saturating_sub(1) / 2),
            "items lost"
        );
        run
    })
}

/// [`run`] for the implementation named `name` (one of [`IMPLS`]).
pub fn run_named(name: &str, t: usize, items: u64) -> Run {
    match name {
        "pysync" => run::<PysyncQueue>(t, items),
        "pysync_condvar" => run::<PysyncCondvarQueue>(t, items),
        "std" => run::<StdQueue>(t, items),
        "parking_lot" => run::<ParkingLotQueue>(t, items),
        _ => panic!("unknown queue implementation {name}"),
    }
}
