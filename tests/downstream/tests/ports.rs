//! The ports, run as a downstream crate's tests.

use pysync::Event;
use pysync_downstream::queue::{Empty, Full, Queue, TooManyTaskDone};
use pysync_downstream::{counter, phases, pool, shutdown};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::thread;
use std::time::Duration;

#[test]
fn queue_put_get_timeouts_task_done_join() {
    let q = Queue::new(2);
    assert_eq!(q.get_nowait(), Err(Empty));
    assert_eq!(q.get(Some(Duration::from_millis(1))), Err(Empty));
    q.put(1, None).unwrap();
    q.put_nowait(2).unwrap();
    assert!(q.full());
    assert_eq!(q.put(3, Some(Duration::from_millis(1))), Err(Full(3)));
    assert_eq!(q.get(None), Ok(1));
    q.task_done().unwrap();
    assert_eq!(q.get_nowait(), Ok(2));
    q.task_done().unwrap();
    assert_eq!(q.task_done(), Err(TooManyTaskDone));

    // Producers and consumers; join returns once every item is done.
    let q = Arc::new(Queue::new(4));
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let mut sum = 0u64;
                while let Ok(v) = q.get(Some(Duration::from_millis(200))) {
                    sum += v;
                    q.task_done().unwrap();
                }
                sum
            })
        })
        .collect();
    for i in 1..=1000u64 {
        q.put(i, None).unwrap();
    }
    q.join();
    assert!(q.empty());
    let total: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(total, 1000 * 1001 / 2);
}

#[test]
fn pool_leases_move_into_workers() {
    let p = pool::Pool::new(2);
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let mut lease = p.get(Duration::from_secs(30)).unwrap();
            thread::spawn(move || {
                lease.query();
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(p.available(), 2);
    let stats = p.stats();
    assert_eq!(stats.len(), 2);
    assert_eq!(stats.iter().map(|&(_, q)| q).sum::<usize>(), 8);
    let a = p.get(Duration::ZERO).unwrap();
    let b = p.get(Duration::ZERO).unwrap();
    assert!(p.get(Duration::from_millis(1)).is_none(), "pool exhausted");
    drop((a, b));
    assert_eq!(p.available(), 2);
}

#[test]
fn event_signals_shutdown() {
    let stop = Arc::new(Event::new());
    let ticks = Arc::new(AtomicUsize::new(0));
    let workers = shutdown::start_workers(3, &stop, &ticks);
    while ticks.load(std::sync::atomic::Ordering::Relaxed) < 30 {
        thread::yield_now();
    }
    stop.set();
    let total: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(total >= 30);
}

#[test]
fn mutex_counter() {
    assert_eq!(counter::count(4, 10_000), 40_000);
}

#[test]
fn barrier_phases() {
    // Phase p: sum over w of p * w = p * (0 + 1 + 2 + 3) = 6p.
    assert_eq!(phases::run(4, 5), [0, 6, 12, 18, 24]);
}
