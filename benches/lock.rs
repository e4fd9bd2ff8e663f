//! Lock and RLock against std, parking_lot and each other.
//!
//! Naming (read by scripts/bench_report.py): group `<primitive>_<case>`,
//! function `<impl>` (`pysync`, `pysync_guard`, `parking_lot`, `std`, …),
//! parameter = thread count or depth where there is one.

mod common;
use common::config;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Operations per thread per criterion iteration in contended benches.
const OPS: u64 = 1_000;

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("lock_uncontended");
    let lock = pysync::Lock::new();
    g.bench_function("pysync", |b| {
        b.iter(|| {
            let lock = black_box(&lock);
            lock.acquire();
            lock.release().unwrap();
        })
    });
    g.bench_function("pysync_guard", |b| b.iter(|| drop(black_box(&lock).lock())));
    let m = pysync::Mutex::new(());
    g.bench_function("pysync_mutex", |b| b.iter(|| drop(black_box(&m).lock())));
    let m = parking_lot::Mutex::new(());
    g.bench_function("parking_lot", |b| b.iter(|| drop(black_box(&m).lock())));
    let m = std::sync::Mutex::new(());
    g.bench_function("std", |b| b.iter(|| drop(black_box(&m).lock().unwrap())));
    g.finish();
}

/// Runs `threads` threads, each doing `per_thread` critical sections through
/// `op`, and returns the wall time from the first thread's start to the last
/// thread's finish (each thread reads the clock itself, so a slow main thread
/// cannot shorten the measurement).
fn run_threads<S: Send + Sync + 'static>(
    shared: Arc<S>,
    threads: usize,
    per_thread: u64,
    op: fn(&S),
) -> Duration {
    let start = Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (shared, start) = (shared.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let t0 = Instant::now();
                for _ in 0..per_thread {
                    op(&shared);
                }
                (t0, Instant::now())
            })
        })
        .collect();
    let spans: Vec<(Instant, Instant)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let first = spans.iter().map(|s| s.0).min().unwrap();
    let last = spans.iter().map(|s| s.1).max().unwrap();
    last - first
}

/// A short critical section: a few dependent increments.
#[inline]
fn work(x: &mut u64) {
    for _ in 0..4 {
        *x = black_box(x.wrapping_mul(31).wrapping_add(1));
    }
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group(common::group("lock_contended"));
    for threads in [2usize, 4, 8] {
        g.throughput(Throughput::Elements(OPS * threads as u64));
        g.bench_with_input(BenchmarkId::new("pysync", threads), &threads, |b, &t| {
            b.iter_custom(|iters| {
                run_threads(Arc::new(pysync::Mutex::new(0u64)), t, iters * OPS, |m| {
                    work(&mut m.lock())
                })
            })
        });
        g.bench_with_input(
            BenchmarkId::new("parking_lot", threads),
            &threads,
            |b, &t| {
                b.iter_custom(|iters| {
                    run_threads(
                        Arc::new(parking_lot::Mutex::new(0u64)),
                        t,
                        iters * OPS,
                        |m| work(&mut m.lock()),
                    )
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("std", threads), &threads, |b, &t| {
            b.iter_custom(|iters| {
                run_threads(Arc::new(std::sync::Mutex::new(0u64)), t, iters * OPS, |m| {
                    work(&mut m.lock().unwrap())
                })
            })
        });
    }
    g.finish();
}

fn rlock(c: &mut Criterion) {
    let mut g = c.benchmark_group("rlock_uncontended");
    for depth in [1usize, 3] {
        let r = pysync::RLock::new();
        g.bench_with_input(BenchmarkId::new("pysync", depth), &depth, |b, &d| {
            b.iter(|| {
                for _ in 0..d {
                    black_box(&r).acquire();
                }
                for _ in 0..d {
                    black_box(&r).release().unwrap();
                }
            })
        });
        let m = parking_lot::ReentrantMutex::new(());
        g.bench_with_input(BenchmarkId::new("parking_lot", depth), &depth, |b, &d| {
            b.iter(|| {
                let guards: [_; 3] = std::array::from_fn(|i| (i < d).then(|| m.lock()));
                drop(black_box(guards));
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = uncontended, contended, rlock
}
criterion_main!(benches);
