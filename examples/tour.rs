//! A guided run through pysync: every primitive doing real work across
//! threads, printing what happened in plain words.
//!
//! `cargo run --release --example tour`

use pysync::{Barrier, BoundedSemaphore, Condition, Event, Gil, Lock, Mutex, RLock, Semaphore};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

fn main() {
    let start = Instant::now();
    println!("pysync tour: Python's threading primitives in Rust\n");
    lock();
    rlock();
    semaphore_and_event();
    condition();
    barrier();
    gil();
    println!("\nTour finished in {:.2?}.", start.elapsed());
}

/// `threading.Lock`: mutual exclusion, and release from another thread.
fn lock() {
    println!("== Lock (threading.Lock)");
    let counter = Arc::new(Mutex::new(0u64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let counter = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..100_000 {
                    *counter.lock() += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    println!(
        "  4 threads each added 100000 under a pysync::Mutex: total = {}",
        counter.lock()
    );

    // A Lock is not owned: one thread can acquire it, another release it.
    // That makes it a one-shot signal, the way Python code often uses it.
    let done = Arc::new(Lock::new());
    done.acquire();
    let signal = Arc::clone(&done);
    let worker = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        signal.release().expect("the lock was held");
    });
    let t0 = Instant::now();
    done.acquire(); // blocks until the worker releases it
    println!(
        "  main thread acquired the Lock after the worker released it ({:.0?} later)",
        t0.elapsed()
    );
    worker.join().unwrap();
    done.release().unwrap();
    match done.release() {
        Err(e) => println!("  releasing it again is an error, like Python: \"{e}\""),
        Ok(()) => unreachable!(),
    }
}

/// `threading.RLock`: re-entry by the owner, errors for everyone else.
fn rlock() {
    println!("\n== RLock (threading.RLock)");
    let rlock = Arc::new(RLock::new());
    fn visit(r: &RLock, depth: usize) -> usize {
        let _g = r.lock(); // re-entrant: the owner may take it again
        if depth == 0 {
            r.recursion_count()
        } else {
            visit(r, depth - 1)
        }
    }
    println!(
        "  a recursive function took the RLock {} levels deep without deadlocking",
        visit(&rlock, 4)
    );
    let _held = rlock.lock();
    let r2 = Arc::clone(&rlock);
    let err = thread::spawn(move || r2.release()).join().unwrap();
    println!(
        "  another thread tried to release it: {}",
        match err {
            Err(e) => format!("refused (\"{e}\")"),
            Ok(()) => "accepted?!".into(),
        }
    );
}

/// `threading.Barrier`: workers compute in lock-step phases; the action runs
/// once per round, in the last thread to arrive.
fn barrier() {
    println!("\n== Barrier (threading.Barrier)");
    let sum = Arc::new(AtomicUsize::new(0));
    let s = Arc::clone(&sum);
    let barrier = Barrier::with_action(4, move || {
        println!("  phase done: running total = {}", s.load(SeqCst));
    });
    thread::scope(|scope| {
        for id in 1..=4usize {
            let (barrier, sum) = (&barrier, &sum);
            scope.spawn(move || {
                for phase in 0..3 {
                    sum.fetch_add(id * 10usize.pow(phase), SeqCst);
                    let index = barrier.wait().expect("nobody breaks this barrier");
                    if index == 0 {
                        println!("  worker {id} arrived first in phase {phase}");
                    }
                }
            });
        }
    });
    barrier.abort();
    println!(
        "  3 rounds of 4 threads, then abort(): broken = {}, wait() -> {:?}",
        barrier.broken(),
        barrier.wait()
    );
}

/// `threading.Condition`: a producer/consumer queue. Consumers sleep in
/// `wait_for` until there is work; the producer notifies one per item and
/// everybody at the end.
fn condition() {
    println!("\n== Condition (threading.Condition)");
    let cond = Condition::with_lock(Lock::new());
    // Only touched while `cond`'s lock is held; the std Mutex is there
    // because Rust wants interior mutability, and is never contended.
    let queue = std::sync::Mutex::new(VecDeque::new());
    let done = AtomicBool::new(false);
    let sums: Vec<u64> = thread::scope(|s| {
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let _held = cond.lock();
                    let mut sum = 0u64;
                    loop {
                        cond.wait_for(|| !queue.lock().unwrap().is_empty() || done.load(SeqCst))
                            .expect("we hold the lock");
                        match queue.lock().unwrap().pop_front() {
                            Some(x) => sum += x,
                            None => return sum,
                        }
                    }
                })
            })
            .collect();
        for x in 1..=1000u64 {
            {
                let _held = cond.lock();
                queue.lock().unwrap().push_back(x);
                cond.notify_one().expect("we hold the lock");
            }
            if x % 50 == 0 {
                thread::sleep(Duration::from_millis(1)); // let consumers catch up
            }
        }
        {
            let _held = cond.lock();
            done.store(true, SeqCst);
            cond.notify_all().expect("we hold the lock");
        }
        consumers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    println!(
        "  3 consumers took 1000 items: their sums {sums:?} add up to {} (expected 500500)",
        sums.iter().sum::<u64>()
    );
    match cond.notify_one() {
        Err(e) => println!("  notify without holding the lock: \"{e}\", like Python"),
        Ok(()) => unreachable!(),
    }
}

/// `threading.Semaphore` and `threading.Event`: a bounded worker pool, all
/// workers released at once by a starting gun.
fn semaphore_and_event() {
    println!("\n== Semaphore and Event (threading.Semaphore, threading.Event)");
    let pool = Semaphore::new(2); // two "connections"
    let start = Event::new(); // a starting gun for every worker
    let (inside, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let order = std::sync::Mutex::new(Vec::new());
    let t0 = Instant::now();
    thread::scope(|s| {
        for id in 0..6 {
            let (pool, start, inside, peak, order) = (&pool, &start, &inside, &peak, &order);
            s.spawn(move || {
                start.wait();
                let _conn = pool.access(); // FIFO: no worker starves
                peak.fetch_max(inside.fetch_add(1, SeqCst) + 1, SeqCst);
                order.lock().unwrap().push(id);
                thread::sleep(Duration::from_millis(5));
                inside.fetch_sub(1, SeqCst);
            });
        }
        thread::sleep(Duration::from_millis(5));
        start.set(); // every waiting worker wakes
    });
    println!(
        "  6 workers, 2 permits: served in the order they queued {:?}, at most {} at once, {:.0?} in all",
        order.lock().unwrap(),
        peak.load(SeqCst),
        t0.elapsed()
    );
    println!("  permits back in the pool: {}", pool.available());
    let bounded = BoundedSemaphore::new(1);
    match bounded.release() {
        Err(e) => println!("  over-releasing a BoundedSemaphore: \"{e}\", like Python"),
        Ok(()) => unreachable!(),
    }
}

/// `Gil`: a CPU-bound thread and an I/O thread share a GIL. The I/O thread
/// releases it around each blocking call and gets it back within a short
/// slice (no convoy), while the CPU thread keeps most of the time.
fn gil() {
    println!("\n== Gil (a GIL without the convoy effect)");
    let gil = Gil::new(); // 5 ms switch interval, like sys.getswitchinterval()
    let (done, io_ops, cpu_loops) = (AtomicBool::new(false), AtomicU64::new(0), AtomicU64::new(0));
    let run = Duration::from_millis(300);
    thread::scope(|s| {
        s.spawn(|| {
            let guard = gil.acquire(); // a CPU-bound "bytecode" loop
            while !done.load(SeqCst) {
                std::hint::black_box((0..64u64).sum::<u64>());
                cpu_loops.fetch_add(1, SeqCst);
                guard.check(); // the eval-breaker poll: one relaxed load
            }
        });
        let mut guard = gil.acquire();
        let end = Instant::now() + run;
        while Instant::now() < end {
            // "I/O": the GIL is released while the thread sleeps.
            guard.allow_threads(|| thread::sleep(Duration::from_micros(50)));
            io_ops.fetch_add(1, SeqCst);
        }
        done.store(true, SeqCst);
    });
    let st = gil.stats();
    println!(
        "  in {run:?}: {} I/O operations next to a CPU-bound thread ({} CPU loop turns)",
        io_ops.load(SeqCst),
        cpu_loops.load(SeqCst)
    );
    println!(
        "  {} priority (I/O) switches, {} forced switches, longest wait for the GIL {:?}",
        st.priority_switches, st.forced_switches, st.max_wait
    );
    println!(
        "  (CPython's design makes the I/O thread wait a whole 5 ms interval each time:\n   \
         about {} operations in the same time; see `cargo run --release --example gil_report`)",
        run.as_millis() / 5
    );
}
