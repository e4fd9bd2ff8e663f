//! Ping-pongs of Condition, Event, Semaphore and Barrier on one CPU, and of
//! Semaphore and Barrier on all CPUs (the all-CPU Condition and Event
//! ping-pongs are in `benches/condition.rs` and `benches/event.rs`).
//!
//! * `<primitive>_ping_pong_1cpu/<impl>`: both threads pinned to one CPU
//!   (`sched_setaffinity`), as in a container with a one-CPU cpuset: what
//!   spinning before sleeping costs when the thread it waits for cannot run;
//! * `semaphore_ping_pong/<impl>`, `barrier_ping_pong/<impl>`: unpinned.
//!
//! Implementations: pysync; `std` and `parking_lot`: the same primitive
//! written the textbook way on that library's `Mutex` + `Condvar` (std's own
//! `Barrier` for `barrier_ping_pong/std`). See `benches/common/pingpong.rs`.
//! One iteration is one round trip. The p99 of a round trip is measured by
//! `cargo bench --bench latency` (criterion reports means and medians of
//! batches, which hide the tail).

mod common;
use common::{config, cpu, group, pingpong};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    for primitive in pingpong::PRIMITIVES {
        for pinned in [false, true] {
            if !pinned && matches!(primitive, "condition" | "event") {
                continue; // in their own bench files
            }
            let suffix = if pinned { "_1cpu" } else { "" };
            let mut g = c.benchmark_group(group(&format!("{primitive}_ping_pong{suffix}")));
            for imp in pingpong::impls(primitive) {
                g.bench_function(imp, |b| {
                    b.iter_custom(|iters| {
                        cpu::maybe_one_cpu(pinned, || {
                            pingpong::run_named(primitive, imp, iters, false).elapsed
                        })
                    })
                });
            }
            g.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench
}
criterion_main!(benches);
