//! Barrier rounds per second: pysync::Barrier vs std::sync::Barrier (a
//! Mutex + Condvar barrier), with 2, 4 and 8 threads (the CI machine has 2
//! cores: 4 and 8 show oversubscription).
//!
//! One iteration = `ROUNDS` full rounds of `n` threads (threads spawned
//! inside the measurement; the cost is amortised over the rounds). The
//! reported throughput is rounds per second.

mod common;
use common::config;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};

const ROUNDS: u64 = 500;

/// The two barriers behind one face.
trait Wait: Sync {
    fn new(n: usize) -> Self;
    fn wait_once(&self) -> usize;
}

impl Wait for pysync::Barrier {
    fn new(n: usize) -> Self {
        pysync::Barrier::new(n)
    }
    fn wait_once(&self) -> usize {
        self.wait().expect("never broken here")
    }
}

impl Wait for std::sync::Barrier {
    fn new(n: usize) -> Self {
        std::sync::Barrier::new(n)
    }
    fn wait_once(&self) -> usize {
        usize::from(self.wait().is_leader())
    }
}

/// Time for `iters` × `ROUNDS` rounds of `n` threads on one barrier.
fn rounds<B: Wait>(n: usize, iters: u64) -> Duration {
    let barrier = B::new(n);
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..n {
                s.spawn(|| {
                    for _ in 0..ROUNDS {
                        black_box(barrier.wait_once());
                    }
                });
            }
        });
        total += start.elapsed();
    }
    total
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("barrier_rounds");
    g.throughput(Throughput::Elements(ROUNDS));
    for n in [2usize, 4, 8] {
        g.bench_with_input(BenchmarkId::new("pysync", n), &n, |b, &n| {
            b.iter_custom(|iters| rounds::<pysync::Barrier>(n, iters));
        });
        g.bench_with_input(BenchmarkId::new("std", n), &n, |b, &n| {
            b.iter_custom(|iters| rounds::<std::sync::Barrier>(n, iters));
        });
    }
    g.finish();

    // A one-party barrier: the cost of a `wait` that never blocks.
    let mut g = c.benchmark_group("barrier_one_party");
    let p = pysync::Barrier::new(1);
    g.bench_function("pysync", |b| b.iter(|| black_box(p.wait().unwrap())));
    let s = std::sync::Barrier::new(1);
    g.bench_function("std", |b| b.iter(|| black_box(s.wait().is_leader())));
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench
}
criterion_main!(benches);
