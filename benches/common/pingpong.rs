//! Ping-pongs: two threads hand a turn back and forth through one
//! primitive; one round trip is one turn each way.
//!
//! | primitive   | side A (timed)                     | side B                     |
//! |-------------|------------------------------------|----------------------------|
//! | `condition` | wait for turn 0, give turn 1, notify | wait for 1, give 0, notify |
//! | `event`     | `ping.set`, `pong.wait`, `pong.clear` | `ping.wait`, `ping.clear`, `pong.set` |
//! | `semaphore` | `a.release`, `b.acquire` (both start at 0) | `a.acquire`, `b.release` |
//! | `barrier`   | `wait` on a two-party barrier      | `wait`                     |
//!
//! Implementations: `pysync`; `std` (the primitive written the textbook way
//! on `std::sync::Mutex` + `Condvar`, or `std::sync::Barrier`);
//! `parking_lot` (the same on `parking_lot::Mutex` + `Condvar`). The
//! condition ping-pong's pysync entry is `pysync_condition_lock`
//! (`Condition<Lock>`), as in `benches/condition.rs`.
//!
//! Both sides run on threads spawned for the run (none on the caller's), so
//! that in a pinned run (`cpu::one_cpu`) both inherit the pinning and both
//! start fresh.

use super::thread_context_switches;
use std::ops::DerefMut;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The primitives, by bench name.
pub const PRIMITIVES: [&str; 4] = ["condition", "event", "semaphore", "barrier"];

/// The implementations of `primitive`, by bench name.
pub fn impls(primitive: &str) -> [&'static str; 3] {
    match primitive {
        "condition" => ["pysync_condition_lock", "std", "parking_lot"],
        _ => ["pysync", "std", "parking_lot"],
    }
}

/// What one run measured.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// Side A's time for all round trips.
    pub elapsed: Duration,
    /// Each round trip's time in ns, if asked for.
    pub round_trips: Vec<u64>,
    /// Voluntary context switches of both sides together.
    pub voluntary: u64,
    /// Involuntary context switches (preemptions) of both sides.
    pub involuntary: u64,
}

/// Runs `iters` round trips: `a` and `b` each `iters` times on their own
/// threads; times `a`'s loop and, if `record`, each of its iterations.
pub fn run(a: impl Fn() + Sync, b: impl Fn() + Sync, iters: u64, record: bool) -> Run {
    std::thread::scope(|s| {
        let peer = s.spawn(|| {
            let cs = thread_context_switches();
            for _ in 0..iters {
                b();
            }
            let end = thread_context_switches();
            (end.0 - cs.0, end.1 - cs.1)
        });
        let timed = s.spawn(|| {
            let mut round_trips = Vec::with_capacity(if record { iters as usize } else { 0 });
            let cs = thread_context_switches();
            let start = Instant::now();
            let mut last = start;
            for _ in 0..iters {
                a();
                if record {
                    let now = Instant::now();
                    round_trips.push((now - last).as_nanos() as u64);
                    last = now;
                }
            }
            let elapsed = start.elapsed();
            let end = thread_context_switches();
            (elapsed, round_trips, end.0 - cs.0, end.1 - cs.1)
        });
        let (elapsed, round_trips, va, ia) = timed.join().unwrap();
        let (vb, ib) = peer.join().unwrap();
        Run {
            elapsed,
            round_trips,
            voluntary: va + vb,
            involuntary: ia + ib,
        }
    })
}

/// `iters` round trips of `primitive`'s ping-pong with implementation `imp`.
pub fn run_named(primitive: &str, imp: &str, iters: u64, record: bool) -> Run {
    match (primitive, imp) {
        ("condition", "pysync_condition_lock") => condition_pysync(iters, record),
        ("condition", "std") => condition_mon::<StdMonitor<usize>>(iters, record),
        ("condition", "parking_lot") => condition_mon::<PlMonitor<usize>>(iters, record),
        ("event", "pysync") => event(&pysync::Event::new(), &pysync::Event::new(), iters, record),
        ("event", "std") => event(
            &MonEvent::<StdMonitor<bool>>::default(),
            &MonEvent::default(),
            iters,
            record,
        ),
        ("event", "parking_lot") => event(
            &MonEvent::<PlMonitor<bool>>::default(),
            &MonEvent::default(),
            iters,
            record,
        ),
        ("semaphore", "pysync") => semaphore(
            &pysync::Semaphore::new(0),
            &pysync::Semaphore::new(0),
            iters,
            record,
        ),
        ("semaphore", "std") => semaphore(
            &MonSem::<StdMonitor<usize>>::default(),
            &MonSem::default(),
            iters,
            record,
        ),
        ("semaphore", "parking_lot") => semaphore(
            &MonSem::<PlMonitor<usize>>::default(),
            &MonSem::default(),
            iters,
            record,
        ),
        ("barrier", "pysync") => barrier(&pysync::Barrier::new(2), iters, record),
        ("barrier", "std") => barrier(&std::sync::Barrier::new(2), iters, record),
        ("barrier", "parking_lot") => barrier(
            &MonBarrier::<PlMonitor<(usize, usize)>>::default(),
            iters,
            record,
        ),
        _ => panic!("unknown ping-pong {primitive}/{imp}"),
    }
}

// ----- condition ---------------------------------------------------------

fn condition_pysync(iters: u64, record: bool) -> Run {
    let cond = pysync::Condition::with_lock(pysync::Lock::new());
    let turn = AtomicUsize::new(0); // protected by cond's lock
    let pass = |me: usize| {
        let _g = cond.lock();
        while turn.load(Relaxed) != me {
            cond.wait().unwrap();
        }
        turn.store(1 - me, Relaxed);
        cond.notify_one().unwrap();
    };
    run(|| pass(0), || pass(1), iters, record)
}

fn condition_mon<M: Monitor<usize>>(iters: u64, record: bool) -> Run {
    let m = M::new(0);
    let pass = |me: usize| {
        let mut t = m.lock();
        while *t != me {
            t = m.wait(t);
        }
        *t = 1 - me;
        m.notify_one();
    };
    run(|| pass(0), || pass(1), iters, record)
}

// ----- event -------------------------------------------------------------

pub trait Ev: Sync {
    fn set(&self);
    fn clear(&self);
    fn wait(&self);
}

impl Ev for pysync::Event {
    fn set(&self) {
        pysync::Event::set(self);
    }
    fn clear(&self) {
        pysync::Event::clear(self);
    }
    fn wait(&self) {
        pysync::Event::wait(self);
    }
}

/// The textbook event: a flag under a mutex, a condvar to wait on.
#[derive(Default)]
pub struct MonEvent<M>(M);

impl<M: Monitor<bool>> Ev for MonEvent<M> {
    fn set(&self) {
        *self.0.lock() = true;
        self.0.notify_all();
    }
    fn clear(&self) {
        *self.0.lock() = false;
    }
    fn wait(&self) {
        let mut f = self.0.lock();
        while !*f {
            f = self.0.wait(f);
        }
    }
}

fn event<E: Ev>(ping: &E, pong: &E, iters: u64, record: bool) -> Run {
    run(
        || {
            ping.set();
            pong.wait();
            pong.clear();
        },
        || {
            ping.wait();
            ping.clear();
            pong.set();
        },
        iters,
        record,
    )
}

// ----- semaphore ---------------------------------------------------------

pub trait Sem: Sync {
    fn acquire(&self);
    fn release(&self);
}

impl Sem for pysync::Semaphore {
    fn acquire(&self) {
        pysync::Semaphore::acquire(self);
    }
    fn release(&self) {
        pysync::Semaphore::release(self);
    }
}

/// The textbook semaphore: a count under a mutex, a condvar to wait on.
#[derive(Default)]
pub struct MonSem<M>(M);

impl<M: Monitor<usize>> Sem for MonSem<M> {
    fn acquire(&self) {
        let mut c = self.0.lock();
        while *c == 0 {
            c = self.0.wait(c);
        }
        *c -= 1;
    }
    fn release(&self) {
        *self.0.lock() += 1;
        self.0.notify_one();
    }
}

fn semaphore<S: Sem>(a: &S, b: &S, iters: u64, record: bool) -> Run {
    run(
        || {
            a.release();
            b.acquire();
        },
        || {
            a.acquire();
            b.release();
        },
        iters,
        record,
    )
}

// ----- barrier -----------------------------------------------------------

pub trait Bar: Sync {
    fn wait_once(&self);
}

impl Bar for pysync::Barrier {
    fn wait_once(&self) {
        self.wait().expect("never broken here");
    }
}

impl Bar for std::sync::Barrier {
    fn wait_once(&self) {
        self.wait();
    }
}

/// The textbook two-party barrier: (arrived, generation) under a mutex.
#[derive(Default)]
pub struct MonBarrier<M>(M);

impl<M: Monitor<(usize, usize)>> Bar for MonBarrier<M> {
    fn wait_once(&self) {
        let mut st = self.0.lock();
        let generation = st.1;
        st.0 += 1;
        if st.0 == 2 {
            *st = (0, generation.wrapping_add(1));
            self.0.notify_all();
            return;
        }
        while st.1 == generation {
            st = self.0.wait(st);
        }
    }
}

fn barrier<B: Bar>(b: &B, iters: u64, record: bool) -> Run {
    run(|| b.wait_once(), || b.wait_once(), iters, record)
}

// ----- a mutex and a condvar, from std or parking_lot ----------------------

/// A value under a mutex with one condvar: the monitor every textbook
/// primitive above is built from.
pub trait Monitor<T>: Sync + Default {
    type Guard<'a>: DerefMut<Target = T>
    where
        Self: 'a;
    fn new(value: T) -> Self;
    fn lock(&self) -> Self::Guard<'_>;
    fn wait<'a>(&'a self, guard: Self::Guard<'a>) -> Self::Guard<'a>;
    fn notify_one(&self);
    fn notify_all(&self);
}

#[derive(Default)]
pub struct StdMonitor<T>(std::sync::Mutex<T>, std::sync::Condvar);

impl<T: Send + Default> Monitor<T> for StdMonitor<T> {
    type Guard<'a>
        = std::sync::MutexGuard<'a, T>
    where
        T: 'a;
    fn new(value: T) -> Self {
        StdMonitor(std::sync::Mutex::new(value), std::sync::Condvar::new())
    }
    fn lock(&self) -> Self::Guard<'_> {
        self.0.lock().unwrap()
    }
    fn wait<'a>(&'a self, guard: Self::Guard<'a>) -> Self::Guard<'a> {
        self.1.wait(guard).unwrap()
    }
    fn notify_one(&self) {
        self.1.notify_one();
    }
    fn notify_all(&self) {
        self.1.notify_all();
    }
}

#[derive(Default)]
pub struct PlMonitor<T>(parking_lot::Mutex<T>, parking_lot::Condvar);

impl<T: Send + Default> Monitor<T> for PlMonitor<T> {
    type Guard<'a>
        = parking_lot::MutexGuard<'a, T>
    where
        T: 'a;
    fn new(value: T) -> Self {
        PlMonitor(parking_lot::Mutex::new(value), parking_lot::Condvar::new())
    }
    fn lock(&self) -> Self::Guard<'_> {
        self.0.lock()
    }
    fn wait<'a>(&'a self, mut guard: Self::Guard<'a>) -> Self::Guard<'a> {
        self.1.wait(&mut guard);
        guard
    }
    fn notify_one(&self) {
        self.1.notify_one();
    }
    fn notify_all(&self) {
        self.1.notify_all();
    }
}
