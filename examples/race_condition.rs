//! Lost updates: a read-modify-write done as a separate load and store, from
//! several threads at once, loses increments; the same loop under a
//! `pysync::Lock` (or in a `pysync::Mutex<u64>`) loses none.
//!
//! This is Python's classic `counter += 1` race (a load, an add and a store
//! that another thread can interleave with), written without any undefined
//! behaviour: the counter is an atomic, but the load and the store are two
//! separate operations.
//!
//! ```text
//! cargo run --release --example race_condition
//! ```

use pysync::{Lock, Mutex};
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

const THREADS: u64 = 4;
const INCREMENTS: u64 = 1_000_000; // per thread

/// Runs `increment` `INCREMENTS` times on each of `THREADS` threads, then
/// prints what the counter should be, what it is, and how long it took.
fn run(name: &str, increment: impl Fn() + Sync, read: impl Fn() -> u64) {
    // All threads start together, so their loops really overlap.
    let go = Barrier::new(THREADS as usize);
    let start = Instant::now();
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                go.wait();
                for _ in 0..INCREMENTS {
                    increment();
                }
            });
        }
    });
    let took = start.elapsed();
    let (expected, got) = (THREADS * INCREMENTS, read());
    let lost = expected - got;
    println!(
        "{name:<38} expected {expected:>9}, got {got:>9}: {:<24} in {}",
        if lost == 0 {
            "no update lost".to_owned()
        } else {
            format!(
                "{lost} lost ({:.1}%)",
                100.0 * lost as f64 / expected as f64
            )
        },
        ms(took)
    );
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    println!(
        "{THREADS} threads each add 1 to a shared counter {INCREMENTS} times \
         ({} cores here).\n",
        thread::available_parallelism().map_or(1, |n| n.get())
    );

    // 1. The race: load, add, store. Two threads that load the same value
    //    both store value+1, and one increment is lost.
    let counter = AtomicU64::new(0);
    run(
        "load + store, no lock (racy)",
        || {
            let v = counter.load(Relaxed);
            counter.store(v + 1, Relaxed);
        },
        || counter.load(Relaxed),
    );

    // 2. The same load and store, inside a pysync::Lock (Python's
    //    `with lock: counter += 1`). Relaxed is enough: the lock's
    //    acquire/release order the accesses.
    let counter = AtomicU64::new(0);
    let lock = Lock::new();
    run(
        "load + store under pysync::Lock",
        || {
            let _held = lock.lock();
            let v = counter.load(Relaxed);
            counter.store(v + 1, Relaxed);
        },
        || counter.load(Relaxed),
    );

    // 3. The data inside the lock: pysync::Mutex<u64>.
    let counter = Mutex::new(0u64);
    run(
        "pysync::Mutex<u64>",
        || *counter.lock() += 1,
        || *counter.lock(),
    );

    // 4. For comparison: one atomic read-modify-write needs no lock at all
    //    (but only works when the update is a single atomic operation).
    let counter = AtomicU64::new(0);
    run(
        "fetch_add (one atomic RMW, no lock)",
        || {
            counter.fetch_add(1, Relaxed);
        },
        || counter.load(Relaxed),
    );

    println!(
        "\nThe racy loop's result changes from run to run (and may, rarely, lose \
         nothing on one core);\nthe locked ones are always exact."
    );
}
