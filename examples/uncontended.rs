//! The uncontended paths, for instruction counts (no timing): run under
//! callgrind as `valgrind --tool=callgrind target/release/examples/uncontended
//! <op> <n>` and compare `<op> 1000000` with `<op> 0` (the difference / n is
//! the instructions per operation). Ops: lock, lock_guard, lock_timeout,
//! lock_try, rlock, semaphore, bounded_semaphore, semaphore_timeout,
//! semaphore_guard, event (set, is_set, clear), event_wait (wait and
//! wait_timeout on a set event), mutex, condition_notify (acquire, notify
//! nobody, release).

use pysync::{BoundedSemaphore, Condition, Event, Lock, Mutex, RLock, Semaphore};
use std::hint::black_box;
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_else(|| "lock".into());
    let n: usize = args
        .next()
        .map_or(1_000_000, |s| s.parse().expect("a count"));
    let lock = Lock::new();
    let rlock = RLock::new();
    let sem = Semaphore::new(1);
    let bsem = BoundedSemaphore::new(1);
    let event = Event::new();
    let mutex = Mutex::new(0u64);
    let cond = Condition::with_lock(Lock::new());
    let (lock, rlock, sem, bsem, event, mutex, cond) =
        black_box((&lock, &rlock, &sem, &bsem, &event, &mutex, &cond));
    match op.as_str() {
        "lock" => (0..n).for_each(|_| {
            lock.acquire();
            lock.release().unwrap();
        }),
        "lock_guard" => (0..n).for_each(|_| drop(black_box(lock.lock()))),
        "lock_timeout" => (0..n).for_each(|_| {
            assert!(lock.acquire_timeout(Duration::from_secs(1)));
            lock.release().unwrap();
        }),
        "lock_try" => (0..n).for_each(|_| {
            assert!(lock.try_acquire());
            lock.release().unwrap();
        }),
        "rlock" => (0..n).for_each(|_| {
            rlock.acquire();
            rlock.release().unwrap();
        }),
        "semaphore" => (0..n).for_each(|_| {
            sem.acquire();
            sem.release();
        }),
        "bounded_semaphore" => (0..n).for_each(|_| {
            bsem.acquire();
            bsem.release().unwrap();
        }),
        "semaphore_timeout" => (0..n).for_each(|_| {
            assert!(sem.acquire_timeout(Duration::from_secs(1)));
            sem.release();
        }),
        "semaphore_guard" => (0..n).for_each(|_| drop(black_box(sem.access()))),
        "event" => (0..n).for_each(|_| {
            event.set();
            black_box(event.is_set());
            event.clear();
        }),
        "event_wait" => {
            event.set();
            (0..n).for_each(|_| {
                event.wait();
                assert!(event.wait_timeout(Duration::from_secs(1)));
            })
        }
        "mutex" => (0..n).for_each(|_| *mutex.lock() += 1),
        "condition_notify" => (0..n).for_each(|_| {
            cond.acquire();
            cond.notify_one().unwrap();
            cond.release().unwrap();
        }),
        other => panic!("unknown op {other}"),
    }
    black_box(mutex);
}
