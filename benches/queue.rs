//! The bounded producer/consumer queue users write from the docs — a port of
//! CPython's `queue.Queue(maxsize=4)`: one lock, two conditions bound to it,
//! a timed wait on a predicate, `notify_one` after each put and get (see
//! `benches/common/queue.rs`) — with T producers and T consumers, T = 1, 2,
//! 4: pysync vs std vs parking_lot.
//!
//! * `condition_queue/<impl>/<T>`: all CPUs the process may use;
//! * `condition_queue_1cpu/<impl>/<T>`: every thread pinned to one CPU
//!   (`sched_setaffinity`), as in a container with a one-CPU cpuset;
//! * run under `scripts/busy_neighbour.sh` for the third machine state (one
//!   other process spinning): the groups get a `_busy` suffix.
//!
//! One iteration moves `ITEMS` items from each producer (throughput: `T ×
//! ITEMS` elements, so `/op` is the time per item).

mod common;
use common::{config_slow, cpu, group, queue};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Items per producer per criterion iteration.
const ITEMS: u64 = 1_000;

fn bench(c: &mut Criterion) {
    for (name, pinned) in [("condition_queue", false), ("condition_queue_1cpu", true)] {
        let mut g = c.benchmark_group(group(name));
        for t in [1usize, 2, 4] {
            g.throughput(Throughput::Elements(t as u64 * ITEMS));
            for imp in queue::IMPLS {
                g.bench_with_input(BenchmarkId::new(imp, t), &t, |b, &t| {
                    b.iter_custom(|iters| {
                        cpu::maybe_one_cpu(pinned, || {
                            queue::run_named(imp, t, iters * ITEMS).elapsed
                        })
                    })
                });
            }
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = config_slow();
    targets = bench
}
criterion_main!(benches);
