//! `cargo bench --bench gil`: `check()` against a relaxed load, uncontended
//! acquire/release (pysync::Gil vs std/parking_lot mutexes), and hand-off
//! ping-pong / contended acquire at 2, 4 and 8 threads.

mod common;
use common::config;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use pysync::Gil;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

fn check(c: &mut Criterion) {
    let mut g = c.benchmark_group("gil_check");
    let flag = AtomicBool::new(false);
    g.bench_function("relaxed_atomic_load", |b| {
        b.iter(|| black_box(&flag).load(Ordering::Relaxed))
    });
    let gil = Gil::new();
    let guard = gil.acquire();
    g.bench_function("pysync", |b| b.iter(|| black_box(&guard).check()));
    g.finish();
}

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("gil_uncontended");
    let gil = Gil::new();
    g.bench_function("pysync", |b| b.iter(|| drop(black_box(&gil).acquire())));
    let m = std::sync::Mutex::new(());
    g.bench_function("std", |b| b.iter(|| drop(black_box(&m).lock())));
    let p = parking_lot::Mutex::new(());
    g.bench_function("parking_lot", |b| b.iter(|| drop(black_box(&p).lock())));
    g.finish();
}

/// Runs `body` on `threads` threads that are all parked on the GIL when the
/// clock starts (the caller holds it while they arrive), and times until all
/// are done.
fn timed_from_release(threads: usize, body: impl Fn(&Gil) + Sync) -> Duration {
    // A huge interval: only the hand-offs under test, no forced switches.
    let gil = Gil::with_switch_interval(Duration::from_secs(3600));
    let guard = gil.acquire();
    thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| body(&gil));
        }
        // Let them all park (not timed).
        thread::sleep(Duration::from_millis(5));
        let start = Instant::now();
        drop(guard);
        // Scope end joins every thread.
        start
    })
    .elapsed()
}

/// Every `yield_now` with others queued is a direct hand-off (round-robin).
fn ping_pong(threads: usize, rounds: u64) -> Duration {
    timed_from_release(threads, |gil| {
        let guard = gil.acquire();
        for _ in 0..rounds {
            guard.yield_now();
        }
    })
}

/// Every drop with others queued hands the GIL to the longest waiter.
fn contended(threads: usize, rounds: u64) -> Duration {
    timed_from_release(threads, |gil| {
        for i in 0..rounds {
            let g = gil.acquire();
            black_box(i);
            drop(g);
        }
    })
}

fn handoff(c: &mut Criterion) {
    const ROUNDS: u64 = 200;
    let mut g = c.benchmark_group("gil_handoff");
    for threads in [2usize, 4, 8] {
        // One iteration: `threads` threads doing ROUNDS turns each.
        g.bench_function(BenchmarkId::new("pysync_yield_now", threads), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| ping_pong(threads, ROUNDS)).sum())
        });
        g.bench_function(BenchmarkId::new("pysync_acquire_drop", threads), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| contended(threads, ROUNDS)).sum())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = check, uncontended, handoff
}
criterion_main!(benches);
