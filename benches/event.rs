//! Event benches: ping-pong between two threads (two events) against
//! `Mutex<bool>` + `Condvar`; `wait` on a set event; `set` with no waiters
//! against `Condvar::notify_one` with no waiters.

mod common;
use common::config;
use criterion::{Criterion, criterion_group, criterion_main};
use pysync::Event;
use std::hint::black_box;
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The textbook event: a flag under a mutex, a condvar to wait on.
struct StdEvent {
    flag: Mutex<bool>,
    cv: Condvar,
}

impl StdEvent {
    fn new() -> Self {
        StdEvent {
            flag: Mutex::new(false),
            cv: Condvar::new(),
        }
    }
    fn set(&self) {
        *self.flag.lock().unwrap() = true;
        self.cv.notify_all();
    }
    fn clear(&self) {
        *self.flag.lock().unwrap() = false;
    }
    fn wait(&self) {
        let mut f = self.flag.lock().unwrap();
        while !*f {
            f = self.cv.wait(f).unwrap();
        }
    }
}

trait Ev: Sync {
    fn set(&self);
    fn clear(&self);
    fn wait(&self);
}

impl Ev for Event {
    fn set(&self) {
        Event::set(self);
    }
    fn clear(&self) {
        Event::clear(self);
    }
    fn wait(&self) {
        Event::wait(self);
    }
}

impl Ev for StdEvent {
    fn set(&self) {
        StdEvent::set(self);
    }
    fn clear(&self) {
        StdEvent::clear(self);
    }
    fn wait(&self) {
        StdEvent::wait(self);
    }
}

/// `iters` round trips: main sets `ping`, the peer waits for it, clears it
/// and sets `pong`, which main waits for and clears.
fn ping_pong<E: Ev>(ping: &E, pong: &E, iters: u64) -> Duration {
    let start = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..iters {
                ping.wait();
                ping.clear();
                pong.set();
            }
        });
        for _ in 0..iters {
            ping.set();
            pong.wait();
            pong.clear();
        }
    });
    start.elapsed()
}

fn benches_ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group(common::group("event_ping_pong"));
    g.bench_function("pysync", |b| {
        b.iter_custom(|iters| ping_pong(&Event::new(), &Event::new(), iters))
    });
    g.bench_function("handrolled", |b| {
        b.iter_custom(|iters| ping_pong(&StdEvent::new(), &StdEvent::new(), iters))
    });
    g.finish();
}

fn benches_fast_paths(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_wait_when_set");
    let ev = Event::new();
    ev.set();
    g.bench_function("pysync", |b| b.iter(|| black_box(&ev).wait()));
    let std_ev = StdEvent::new();
    std_ev.set();
    g.bench_function("handrolled", |b| b.iter(|| black_box(&std_ev).wait()));
    g.finish();

    let mut g = c.benchmark_group("event_set_no_waiters");
    let ev = Event::new();
    g.bench_function("pysync", |b| b.iter(|| black_box(&ev).set()));
    g.bench_function("pysync_set_clear", |b| {
        b.iter(|| {
            black_box(&ev).set();
            black_box(&ev).clear();
        })
    });
    let cv = Condvar::new();
    g.bench_function("std_condvar_notify_one", |b| {
        b.iter(|| black_box(&cv).notify_one())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = benches_ping_pong, benches_fast_paths
}
criterion_main!(benches);
