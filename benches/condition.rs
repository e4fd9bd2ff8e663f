//! Condition benchmarks: pysync vs std (`Mutex` + `Condvar`) vs parking_lot.
//!
//! * `ping_pong`: two threads hand a turn back and forth, one round trip per
//!   iteration (wait + notify_one twice).
//! * `notify_one_no_waiters`: notify with nobody waiting (pysync: one load;
//!   std: a futex wake syscall every time).
//! * `notify_all/N`: one broadcast round per iteration to N waiters, who each
//!   check in; the notifier waits for all N on a second condition.

mod common;
use common::config;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use pysync::{Condition, Lock};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

fn ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group(common::group("condition_ping_pong"));
    g.bench_function("pysync_condition_lock", |b| {
        b.iter_custom(|iters| {
            let cond = Condition::with_lock(Lock::new());
            let turn = AtomicUsize::new(0); // protected by cond's lock
            let pass = |me: usize| {
                let _g = cond.lock();
                while turn.load(Relaxed) != me {
                    cond.wait().unwrap();
                }
                turn.store(1 - me, Relaxed);
                cond.notify_one().unwrap();
            };
            std::thread::scope(|s| {
                s.spawn(|| (0..iters).for_each(|_| pass(1)));
                let start = Instant::now();
                (0..iters).for_each(|_| pass(0));
                start.elapsed()
            })
        })
    });
    g.bench_function("pysync_condition_rlock", |b| {
        b.iter_custom(|iters| {
            let cond = Condition::new();
            let turn = AtomicUsize::new(0);
            let pass = |me: usize| {
                let _g = cond.lock();
                while turn.load(Relaxed) != me {
                    cond.wait().unwrap();
                }
                turn.store(1 - me, Relaxed);
                cond.notify_one().unwrap();
            };
            std::thread::scope(|s| {
                s.spawn(|| (0..iters).for_each(|_| pass(1)));
                let start = Instant::now();
                (0..iters).for_each(|_| pass(0));
                start.elapsed()
            })
        })
    });
    g.bench_function("std", |b| {
        b.iter_custom(|iters| {
            let m = std::sync::Mutex::new(0usize);
            let cv = std::sync::Condvar::new();
            let pass = |me: usize| {
                let mut t = m.lock().unwrap();
                while *t != me {
                    t = cv.wait(t).unwrap();
                }
                *t = 1 - me;
                cv.notify_one();
            };
            std::thread::scope(|s| {
                s.spawn(|| (0..iters).for_each(|_| pass(1)));
                let start = Instant::now();
                (0..iters).for_each(|_| pass(0));
                start.elapsed()
            })
        })
    });
    g.bench_function("parking_lot", |b| {
        b.iter_custom(|iters| {
            let m = parking_lot::Mutex::new(0usize);
            let cv = parking_lot::Condvar::new();
            let pass = |me: usize| {
                let mut t = m.lock();
                while *t != me {
                    cv.wait(&mut t);
                }
                *t = 1 - me;
                cv.notify_one();
            };
            std::thread::scope(|s| {
                s.spawn(|| (0..iters).for_each(|_| pass(1)));
                let start = Instant::now();
                (0..iters).for_each(|_| pass(0));
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn notify_no_waiters(c: &mut Criterion) {
    let mut g = c.benchmark_group("condition_notify_no_waiters");
    let cond = Condition::with_lock(Lock::new());
    let guard = cond.lock();
    g.bench_function("pysync_condition_lock", |b| {
        b.iter(|| black_box(&cond).notify_one())
    });
    drop(guard);
    let rcond = Condition::new();
    let guard = rcond.lock();
    g.bench_function("pysync_condition_rlock", |b| {
        b.iter(|| black_box(&rcond).notify_one())
    });
    drop(guard);
    let cv = std::sync::Condvar::new();
    g.bench_function("std", |b| b.iter(|| black_box(&cv).notify_one()));
    let pcv = parking_lot::Condvar::new();
    g.bench_function("parking_lot", |b| b.iter(|| black_box(&pcv).notify_one()));
    g.finish();
}

fn notify_all(c: &mut Criterion) {
    let mut g = c.benchmark_group("condition_notify_all");
    for waiters in [2usize, 4, 8] {
        g.bench_function(BenchmarkId::new("pysync_condition_lock", waiters), |b| {
            b.iter_custom(|iters| {
                let lock = Lock::new();
                let work = Condition::with_lock(&lock);
                let done = Condition::with_lock(&lock);
                // All protected by `lock`.
                let generation = AtomicUsize::new(0);
                let checked_in = AtomicUsize::new(0);
                let stop = AtomicBool::new(false);
                std::thread::scope(|s| {
                    for _ in 0..waiters {
                        s.spawn(|| {
                            let _g = work.lock();
                            let mut seen = 0;
                            loop {
                                while generation.load(Relaxed) == seen && !stop.load(Relaxed) {
                                    work.wait().unwrap();
                                }
                                if stop.load(Relaxed) {
                                    return;
                                }
                                seen = generation.load(Relaxed);
                                if checked_in.fetch_add(1, Relaxed) + 1 == waiters {
                                    done.notify_one().unwrap();
                                }
                            }
                        });
                    }
                    let start = Instant::now();
                    let _g = work.lock();
                    for _ in 0..iters {
                        checked_in.store(0, Relaxed);
                        generation.fetch_add(1, Relaxed);
                        work.notify_all().unwrap();
                        while checked_in.load(Relaxed) != waiters {
                            done.wait().unwrap();
                        }
                    }
                    let elapsed = start.elapsed();
                    stop.store(true, Relaxed);
                    work.notify_all().unwrap();
                    elapsed
                })
            })
        });
        g.bench_function(BenchmarkId::new("std", waiters), |b| {
            b.iter_custom(|iters| {
                // (generation, checked_in, stop)
                let m = std::sync::Mutex::new((0usize, 0usize, false));
                let work = std::sync::Condvar::new();
                let done = std::sync::Condvar::new();
                std::thread::scope(|s| {
                    for _ in 0..waiters {
                        s.spawn(|| {
                            let mut st = m.lock().unwrap();
                            let mut seen = 0;
                            loop {
                                while st.0 == seen && !st.2 {
                                    st = work.wait(st).unwrap();
                                }
                                if st.2 {
                                    return;
                                }
                                seen = st.0;
                                st.1 += 1;
                                if st.1 == waiters {
                                    done.notify_one();
                                }
                            }
                        });
                    }
                    let start = Instant::now();
                    let mut st = m.lock().unwrap();
                    for _ in 0..iters {
                        st.1 = 0;
                        st.0 += 1;
                        work.notify_all();
                        while st.1 != waiters {
                            st = done.wait(st).unwrap();
                        }
                    }
                    let elapsed = start.elapsed();
                    st.2 = true;
                    work.notify_all();
                    elapsed
                })
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = ping_pong, notify_no_waiters, notify_all
}
criterion_main!(benches);
