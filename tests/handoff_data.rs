//! Plain data guarded *only* by pysync primitives, across every hand-off
//! path: the test Miri and ThreadSanitizer run to prove each primitive's
//! memory ordering (CI: `.ci/run`, "Miri and ThreadSanitizer").
//!
//! Everywhere else the tests guard their data with atomics or
//! `std::sync::Mutex`, whose own ordering would hide a missing
//! Release/Acquire inside pysync. Here the shared data is a [`Plain`] cell:
//! non-atomic reads and writes, no std lock. The only thing that orders a
//! write on one thread before a read on another is the pysync primitive
//! under test, so a missing ordering on any hand-off path (a fast-path
//! release, a direct hand-off to a parked waiter, a release from another
//! thread, a wake-up, a requeue from a condition onto its lock, a barrier's
//! action, a GIL switch) is a data race that Miri and TSan report, with both
//! stacks.
//!
//! Liveness-only signals ("go on, the other thread has moved") are `Relaxed`
//! atomics: they create no happens-before, so they hide nothing.
//!
//! Sizes are small under Miri (about 100x slower, and its scheduler
//! explores a different interleaving per seed: CI runs several seeds).

mod common;

use pysync::{
    Barrier, BoundedSemaphore, Condition, ConditionLock, Event, Gil, Lock, RLock, Semaphore,
};
use std::cell::UnsafeCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

/// Iterations: `full` natively (and under TSan), `miri` under Miri.
const fn iters(full: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { full }
}

/// A timeout that never fires in a passing run (a failure shows up as a
/// `false` and an assertion, not a hang): exercises the timed park paths.
const LONG: Duration = Duration::from_secs(600);

/// Data with no synchronisation of its own.
struct Plain<T>(UnsafeCell<T>);

// SAFETY: every test below touches a `Plain` only where a pysync primitive
// orders the access after the previous one on any other thread (holding the
// lock, after the wake-up, ...): that ordering is exactly what this file
// tests. Where pysync failed to provide it, the accesses race and Miri and
// TSan report the race (the test is unsound by design only if pysync is).
unsafe impl<T: Send> Sync for Plain<T> {}

impl<T> Plain<T> {
    const fn new(v: T) -> Self {
        Plain(UnsafeCell::new(v))
    }

    /// Runs `f` on the data.
    ///
    /// # Safety
    /// No other thread accesses the data until `f` returns, and every earlier
    /// access on another thread happens-before this one.
    unsafe fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: the caller guarantees exclusive, ordered access.
        f(unsafe { &mut *self.0.get() })
    }

    /// Runs `f` on a shared view of the data (several threads may read at
    /// once).
    ///
    /// # Safety
    /// No other thread writes the data until `f` returns, and every earlier
    /// write on another thread happens-before this read.
    unsafe fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        // SAFETY: the caller guarantees no concurrent or unordered write.
        f(unsafe { &*self.0.get() })
    }

    fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

/// Lets the other threads run for a while (yielding, never sleeping), so
/// that those waiting for what this thread holds exhaust their spinning and
/// park: the next release then takes the slow path (wake-up or direct
/// hand-off to a parked waiter) rather than the fast one. Under Miri a yield
/// is a scheduling point, and a waiter parks after about ten of its own.
fn dawdle() {
    for _ in 0..if cfg!(miri) { 24 } else { 4 } {
        thread::yield_now();
    }
}

// ===== Lock =====================================================================

/// Mutual exclusion through every acquire form and every release form,
/// contended (the holder yields inside, so others spin and park): the plain
/// counter's read-modify-writes never race and none is lost.
#[test]
fn lock_every_acquire_and_release_form() {
    let _watchdog = common::watchdog();
    const THREADS: usize = 3;
    let n = iters(300, 12);
    let lock = Lock::new();
    let count = Plain::new(0usize);
    thread::scope(|s| {
        for t in 0..THREADS {
            let (lock, count) = (&lock, &count);
            s.spawn(move || {
                for i in 0..n {
                    let k = t + i;
                    let guard = match k % 5 {
                        0 => {
                            lock.acquire();
                            None
                        }
                        1 => {
                            assert!(lock.acquire_timeout(LONG));
                            None
                        }
                        2 => {
                            assert!(lock.acquire_until(Instant::now() + LONG));
                            None
                        }
                        3 => {
                            while !lock.try_acquire() {
                                thread::yield_now();
                            }
                            None
                        }
                        _ => Some(lock.lock()),
                    };
                    // SAFETY: we hold `lock`.
                    unsafe { count.with(|c| *c += 1) };
                    dawdle(); // let the others queue up and park
                    // SAFETY: as above.
                    unsafe { count.with(|c| *c += 1) };
                    match guard {
                        Some(g) if k % 2 == 0 => g.release_fair(),
                        Some(g) => drop(g),
                        None if k % 3 == 0 => lock.release_fair().unwrap(),
                        None => lock.release().unwrap(),
                    }
                }
            });
        }
    });
    assert!(!lock.locked());
    assert_eq!(count.into_inner(), 2 * THREADS * n);
}

/// `Lock` as Python code uses it for signalling: acquired by one thread,
/// released by another. Two locks pass a plain slot back and forth; each
/// hand-off is "the producer releases a lock it never acquired".
#[test]
fn lock_released_by_another_thread() {
    let _watchdog = common::watchdog();
    let n = iters(2000, 20);
    let filled = Lock::new(); // held while the slot is empty
    let emptied = Lock::new(); // held while the slot is full
    filled.acquire();
    emptied.acquire();
    let slot = Plain::new(usize::MAX);
    thread::scope(|s| {
        s.spawn(|| {
            for i in 0..n {
                // SAFETY: the consumer's last access happened before it
                // released `emptied` (or this is the first round).
                unsafe { slot.with(|v| *v = i) };
                if i % 4 < 2 {
                    dawdle(); // the consumer parks on `filled`
                }
                if i % 2 == 0 {
                    filled.release().unwrap();
                } else {
                    filled.release_fair().unwrap();
                }
                emptied.acquire();
            }
        });
        for i in 0..n {
            if i % 2 == 0 {
                filled.acquire();
            } else {
                assert!(filled.acquire_timeout(LONG));
            }
            // SAFETY: the producer's write happened before it released
            // `filled`, which we now hold.
            unsafe { slot.with(|v| assert_eq!(*v, i)) };
            // SAFETY: as above; the producer waits on `emptied`.
            unsafe { slot.with(|v| *v = usize::MAX) };
            if i % 4 >= 2 {
                dawdle(); // the producer parks on `emptied`
            }
            if i % 3 == 0 {
                emptied.release_fair().unwrap();
            } else {
                emptied.release().unwrap();
            }
        }
    });
    // The producer's last `emptied.acquire()` took the last release.
    assert!(filled.locked() && emptied.locked());
}

// ===== RLock ====================================================================

/// Re-entrant acquisitions (1 to 3 levels, every form) around plain data:
/// only the outermost release hands the lock on, and it carries the data.
#[test]
fn rlock_nested_levels() {
    let _watchdog = common::watchdog();
    const THREADS: usize = 3;
    let n = iters(300, 10);
    let r = RLock::new();
    let count = Plain::new(0usize);
    thread::scope(|s| {
        for t in 0..THREADS {
            let (r, count) = (&r, &count);
            s.spawn(move || {
                for i in 0..n {
                    let depth = 1 + (t + i) % 3;
                    for level in 0..depth {
                        match (i + level) % 4 {
                            0 => r.acquire(),
                            1 => assert!(r.acquire_timeout(LONG)),
                            2 => assert!(r.acquire_until(Instant::now() + LONG)),
                            _ => {
                                while !r.try_acquire() {
                                    thread::yield_now();
                                }
                            }
                        }
                        // SAFETY: we own `r`.
                        unsafe { count.with(|c| *c += 1) };
                    }
                    dawdle();
                    for _ in 0..depth {
                        // SAFETY: we own `r` (at least one level left).
                        unsafe { count.with(|c| *c += 1) };
                        r.release().unwrap();
                    }
                    let _g = r.lock();
                    // SAFETY: we own `r`.
                    unsafe { count.with(|c| *c -= 2 * depth) };
                }
            });
        }
    });
    assert!(!r.locked());
    assert_eq!(count.into_inner(), 0);
}

// ===== Condition ================================================================

/// A one-slot channel over a condition: the producer fills the slot when
/// empty, consumers empty it when full; every wait and notify form. Each
/// item crosses a notify → requeue onto the lock → re-acquire hand-off.
fn condition_slot<L: ConditionLock + Sync>(cond: Condition<L>) {
    const CONSUMERS: usize = 2;
    let n = iters(600, 8);
    let slot: Plain<Option<usize>> = Plain::new(None);
    let sum = Plain::new(0usize);
    // Liveness only: how many items were taken (orders nothing).
    let taken = AtomicUsize::new(0);
    let full = || {
        // SAFETY: called only by `wait_for*`, under the condition's lock.
        unsafe { slot.with(|v| v.is_some()) }
    };
    thread::scope(|s| {
        s.spawn(|| {
            for i in 0..n {
                let _g = cond.lock();
                match i % 3 {
                    0 => cond.wait_for(|| !full()).unwrap(),
                    1 => assert!(cond.wait_for_timeout(|| !full(), LONG).unwrap()),
                    _ => {
                        while full() {
                            cond.wait_timeout(LONG).unwrap();
                        }
                    }
                }
                // SAFETY: under the condition's lock.
                unsafe { slot.with(|v| *v = Some(i)) };
                if i % 2 == 0 {
                    cond.notify_all().unwrap();
                } else {
                    cond.notify(2).unwrap();
                }
            }
        });
        for c in 0..CONSUMERS {
            let (cond, slot, sum, taken) = (&cond, &slot, &sum, &taken);
            s.spawn(move || {
                loop {
                    let _g = cond.lock();
                    let ready = || {
                        // SAFETY: under the condition's lock.
                        taken.load(Relaxed) == n || unsafe { slot.with(|v| v.is_some()) }
                    };
                    if c == 0 {
                        cond.wait_for(ready).unwrap();
                    } else {
                        assert!(cond.wait_for_until(ready, Instant::now() + LONG).unwrap());
                    }
                    // SAFETY: under the condition's lock.
                    let Some(item) = (unsafe { slot.with(Option::take) }) else {
                        return; // all taken
                    };
                    // SAFETY: under the condition's lock.
                    unsafe { sum.with(|total| *total += item) };
                    // Wake the producer (and the other consumer: to leave,
                    // after the last item). At most 2 others wait.
                    if taken.fetch_add(1, Relaxed) % 2 == 0 {
                        cond.notify_all().unwrap();
                    } else {
                        cond.notify(CONSUMERS).unwrap();
                    }
                }
            });
        }
    });
    assert_eq!(slot.into_inner(), None);
    assert_eq!(sum.into_inner(), n * (n - 1) / 2);
}

#[test]
fn condition_over_lock() {
    let _watchdog = common::watchdog();
    condition_slot(Condition::with_lock(Lock::new()));
}

#[test]
fn condition_over_rlock() {
    let _watchdog = common::watchdog();
    condition_slot(Condition::new());
}

#[test]
fn condition_over_borrowed_lock() {
    let _watchdog = common::watchdog();
    let lock = Lock::new();
    condition_slot(Condition::with_lock(&lock));
}

#[test]
fn condition_over_arc_rlock() {
    let _watchdog = common::watchdog();
    condition_slot(Condition::with_lock(Arc::new(RLock::new())));
}

/// A condition over an RLock held three levels deep: `wait` releases every
/// level and restores them, carrying the data both ways.
#[test]
fn condition_over_rlock_held_several_levels() {
    let _watchdog = common::watchdog();
    let n = iters(300, 6);
    let cond = Condition::new();
    let turn = Plain::new(0usize); // whose turn: even = A, odd = B
    thread::scope(|s| {
        for me in 0..2 {
            let (cond, turn) = (&cond, &turn);
            s.spawn(move || {
                for _ in 0..n {
                    let _a = cond.lock();
                    let _b = cond.lock();
                    let _c = cond.lock();
                    // SAFETY: under the condition's lock (every wait below
                    // returns holding all three levels again).
                    cond.wait_for(|| unsafe { turn.with(|t| *t % 2 == me) })
                        .unwrap();
                    assert_eq!(cond.lock_ref().recursion_count(), 3);
                    // SAFETY: as above.
                    unsafe { turn.with(|t| *t += 1) };
                    cond.notify_one().unwrap();
                }
            });
        }
    });
    assert_eq!(turn.into_inner(), 2 * n);
}

// ===== Semaphore and BoundedSemaphore ===========================================

/// A ring buffer between a producer and a consumer, ordered only by the
/// two semaphores (`free` slots, `filled` slots): each item crosses a
/// release → acquire, counted or handed straight to a parked waiter.
#[test]
fn semaphore_ring_buffer() {
    let _watchdog = common::watchdog();
    const CAP: usize = 3;
    let n = iters(3000, 24);
    let free = Semaphore::new(CAP);
    let filled = Semaphore::new(0);
    let ring: [Plain<usize>; CAP] = std::array::from_fn(|_| Plain::new(usize::MAX));
    thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0;
            while i < n {
                // Sometimes two items, published with one release_n(2).
                let batch = if i % 5 == 0 && i + 2 <= n { 2 } else { 1 };
                for j in i..i + batch {
                    match j % 3 {
                        0 => free.acquire(),
                        1 => assert!(free.acquire_timeout(LONG)),
                        _ => assert!(free.acquire_until(Instant::now() + LONG)),
                    }
                    // SAFETY: a free slot: the consumer's read of it
                    // happened before its `free` release.
                    unsafe { ring[j % CAP].with(|v| *v = j) };
                }
                if i % 3 == 0 {
                    dawdle(); // the consumer parks on `filled`
                }
                if batch == 1 {
                    filled.release();
                } else {
                    filled.release_n(batch);
                }
                i += batch;
            }
        });
        for i in 0..n {
            if i % 2 == 0 {
                filled.acquire();
            } else {
                while !filled.try_acquire() {
                    thread::yield_now();
                }
            }
            // SAFETY: a filled slot: the producer's write happened before
            // its `filled` release.
            unsafe { ring[i % CAP].with(|v| assert_eq!(std::mem::replace(v, usize::MAX), i)) };
            if i % 4 == 1 {
                dawdle(); // the producer, a ring ahead, parks on `free`
            }
            if i % 2 == 0 {
                free.release();
            } else {
                free.release_n(1);
            }
        }
    });
    assert_eq!(free.available(), CAP);
    assert_eq!(filled.available(), 0);
}

/// A one-permit `Semaphore` and `BoundedSemaphore` as mutexes, contended:
/// each release (counted or handed to the longest waiter) carries the data.
#[test]
fn semaphores_as_mutexes() {
    let _watchdog = common::watchdog();
    const THREADS: usize = 3;
    let n = iters(300, 8);
    let sem = Semaphore::new(1);
    let bsem = BoundedSemaphore::new(1);
    let (a, b) = (Plain::new(0usize), Plain::new(0usize));
    thread::scope(|s| {
        for t in 0..THREADS {
            let (sem, bsem, a, b) = (&sem, &bsem, &a, &b);
            s.spawn(move || {
                for i in 0..n {
                    let k = t + i;
                    {
                        let _permit = if k % 2 == 0 {
                            sem.access()
                        } else {
                            sem.access_timeout(LONG).unwrap()
                        };
                        // SAFETY: we hold the only permit of `sem`.
                        unsafe { a.with(|v| *v += 1) };
                        dawdle();
                        // SAFETY: as above.
                        unsafe { a.with(|v| *v += 1) };
                    }
                    match k % 3 {
                        0 => bsem.acquire(),
                        1 => assert!(bsem.acquire_until(Instant::now() + LONG)),
                        _ => {
                            while !bsem.try_acquire() {
                                thread::yield_now();
                            }
                        }
                    }
                    // SAFETY: we hold the only permit of `bsem`.
                    unsafe { b.with(|v| *v += 1) };
                    dawdle();
                    // SAFETY: as above.
                    unsafe { b.with(|v| *v += 1) };
                    if k % 2 == 0 {
                        bsem.release().unwrap();
                    } else {
                        bsem.release_n(1).unwrap();
                    }
                }
            });
        }
    });
    assert_eq!((sem.available(), bsem.available()), (1, 1));
    assert_eq!(a.into_inner(), 2 * THREADS * n);
    assert_eq!(b.into_inner(), 2 * THREADS * n);
}

/// A `BoundedSemaphore` as the `filled` side of a one-slot channel
/// (released by the producer, never past its bound).
#[test]
fn bounded_semaphore_channel() {
    let _watchdog = common::watchdog();
    let n = iters(2000, 16);
    let free = BoundedSemaphore::new(1);
    let filled = BoundedSemaphore::new(1);
    filled.acquire(); // start empty
    let slot = Plain::new(usize::MAX);
    thread::scope(|s| {
        s.spawn(|| {
            for i in 0..n {
                free.acquire();
                // SAFETY: the consumer emptied the slot before releasing `free`.
                unsafe { slot.with(|v| *v = i) };
                if i % 2 == 0 {
                    dawdle(); // the consumer parks on `filled`
                }
                filled.release().unwrap();
            }
        });
        for i in 0..n {
            assert!(filled.acquire_timeout(LONG));
            // SAFETY: the producer wrote before releasing `filled`.
            unsafe { slot.with(|v| assert_eq!(std::mem::replace(v, usize::MAX), i)) };
            if i % 2 == 1 {
                dawdle(); // the producer parks on `free`
            }
            free.release().unwrap();
        }
    });
    assert_eq!((free.available(), filled.available()), (1, 0));
}

// ===== Event ====================================================================

/// Ping-pong over two events with `clear`: what the setter wrote before
/// `set` is visible after every form of `wait` (woken from a park, or
/// finding the event already set).
#[test]
fn event_ping_pong_with_clear() {
    let _watchdog = common::watchdog();
    let n = iters(2000, 16);
    let (ping, pong) = (Event::new(), Event::new());
    let data = Plain::new(0usize);
    let wait = |ev: &Event, i: usize| match i % 4 {
        0 => ev.wait(),
        1 => assert!(ev.wait_timeout(LONG)),
        2 => assert!(ev.wait_until(Instant::now() + LONG)),
        _ => {
            while !ev.try_wait() {
                thread::yield_now();
            }
        }
    };
    thread::scope(|s| {
        s.spawn(|| {
            for i in 0..n {
                wait(&ping, i);
                ping.clear();
                // SAFETY: the main thread wrote before `ping.set()` and
                // waits for `pong` before touching the data again.
                unsafe {
                    data.with(|d| {
                        assert_eq!(*d, 2 * i + 1);
                        *d += 1;
                    })
                };
                pong.set();
            }
        });
        for i in 0..n {
            // SAFETY: the other thread wrote before `pong.set()`, which we
            // waited for (or nothing has run yet).
            unsafe {
                data.with(|d| {
                    assert_eq!(*d, 2 * i);
                    *d += 1;
                })
            };
            ping.set();
            wait(&pong, i + 1);
            pong.clear();
        }
    });
    assert_eq!(data.into_inner(), 2 * n);
}

/// One `set` wakes several waiters at once: each reads what the setter
/// wrote; the setter waits for all of them (a second event per round) before
/// writing again.
#[test]
fn event_set_wakes_every_reader() {
    let _watchdog = common::watchdog();
    const READERS: usize = 3;
    let rounds = iters(200, 4);
    let go: [Event; 2] = [Event::new(), Event::new()];
    let done: [Event; READERS] = std::array::from_fn(|_| Event::new());
    let data = Plain::new(0usize);
    thread::scope(|s| {
        for r in 0..READERS {
            let (go, done, data) = (&go, &done, &data);
            s.spawn(move || {
                for round in 0..rounds {
                    // Reader 0 polls (`is_set`'s Acquire, while the others
                    // are parked: `set` takes its slow path); the others park.
                    match r {
                        0 => {
                            while !go[round % 2].try_wait() {
                                thread::yield_now();
                            }
                        }
                        1 => go[round % 2].wait(),
                        _ => assert!(go[round % 2].wait_timeout(LONG)),
                    }
                    // SAFETY: written before `go.set()`; the writer waits for
                    // our `done` before writing again.
                    unsafe { data.read(|d| assert_eq!(*d, round + 1)) };
                    done[r].set();
                }
            });
        }
        for round in 0..rounds {
            // SAFETY: every reader's read happened before its `done.set()`,
            // which we waited for (and cleared) last round.
            unsafe { data.with(|d| *d = round + 1) };
            go[(round + 1) % 2].clear(); // the next round's gate, now unused
            go[round % 2].set();
            for d in &done {
                d.wait();
                d.clear();
            }
        }
    });
}

// ===== Barrier ==================================================================

/// Each party writes its own slot, the action (run by the last arrival)
/// reads every slot and writes a summary, and after `wait` every party reads
/// every slot and the summary. Phases alternate write / read so no slot is
/// written while another party reads it.
#[test]
fn barrier_with_an_action() {
    let _watchdog = common::watchdog();
    const PARTIES: usize = 3;
    let rounds = iters(300, 4);
    let slots: Arc<[Plain<usize>; PARTIES]> = Arc::new(std::array::from_fn(|_| Plain::new(0)));
    let summary = Arc::new(Plain::new((0usize, 0usize))); // (phase, sum)
    let b = {
        let (slots, summary) = (Arc::clone(&slots), Arc::clone(&summary));
        Barrier::with_action(PARTIES, move || {
            // SAFETY: the action runs after every party arrived (their
            // writes happen before it) and before any leaves.
            unsafe {
                summary.with(|(phase, sum)| {
                    if *phase % 2 == 0 {
                        *sum = slots.iter().map(|s| s.read(|v| *v)).sum();
                    }
                    *phase += 1;
                })
            };
        })
    };
    thread::scope(|s| {
        for p in 0..PARTIES {
            let (b, slots, summary) = (&b, &slots, &summary);
            s.spawn(move || {
                for round in 0..rounds {
                    // Write phase: only my slot.
                    // SAFETY: every read of it (last read phase) happened
                    // before the barrier round that ended that phase.
                    unsafe { slots[p].with(|v| *v = round * 10 + p) };
                    if round % 2 == 0 {
                        b.wait().unwrap();
                    } else {
                        b.wait_timeout(LONG).unwrap();
                    }
                    // Read phase: every slot and the action's summary.
                    let want: usize = (0..PARTIES).map(|q| round * 10 + q).sum();
                    // SAFETY: written before the round completed; nobody
                    // writes until the next round completes.
                    unsafe {
                        summary.read(|&(phase, sum)| {
                            assert_eq!((phase, sum), (2 * round + 1, want));
                        });
                        for (q, slot) in slots.iter().enumerate() {
                            slot.read(|v| assert_eq!(*v, round * 10 + q));
                        }
                    }
                    b.wait_until(Instant::now() + LONG).unwrap();
                }
            });
        }
    });
    assert!(!b.broken());
}

// ===== Gil ======================================================================

/// Two threads take turns on plain data under the GIL; the only ways the GIL
/// changes hands are the ones named by `switch`: a forced switch in
/// `check()` (interval zero: the waiter asks at once), `yield_now()`, or
/// `allow_threads` (the other thread gets in while this one is outside).
fn gil_turns(switch: fn(&mut pysync::GilGuard<'_>, &AtomicUsize, usize)) {
    let n = iters(300, 6);
    let gil = Gil::with_switch_interval(Duration::ZERO);
    let turn = Plain::new(0usize); // even: thread 0's turn, odd: thread 1's
    let progress = AtomicUsize::new(0); // liveness only: a Relaxed mirror of `turn`
    thread::scope(|s| {
        for me in 0..2 {
            let (gil, turn, progress) = (&gil, &turn, &progress);
            s.spawn(move || {
                let mut guard = gil.acquire();
                let mut mine = 0;
                while mine < n {
                    // SAFETY: we hold the GIL (every switch below returns
                    // holding it again).
                    let t = unsafe { turn.with(|t| *t) };
                    if t % 2 == me {
                        // SAFETY: as above.
                        unsafe { turn.with(|t| *t += 1) };
                        progress.store(t + 1, Relaxed);
                        mine += 1;
                    } else {
                        switch(&mut guard, progress, t);
                    }
                }
            });
        }
    });
    assert_eq!(turn.into_inner(), 2 * n);
    assert!(!gil.locked());
}

#[test]
fn gil_check_forced_switches() {
    let _watchdog = common::watchdog();
    gil_turns(|guard, _, _| {
        guard.check();
        thread::yield_now(); // let the waiter's request in (Miri, one core)
    });
}

#[test]
fn gil_yield_now() {
    let _watchdog = common::watchdog();
    gil_turns(|guard, _, _| {
        guard.yield_now();
        thread::yield_now();
    });
}

#[test]
fn gil_allow_threads() {
    let _watchdog = common::watchdog();
    gil_turns(|guard, progress, seen| {
        guard.allow_threads(|| {
            // Outside the GIL: wait (Relaxed, ordering nothing) until the
            // other thread has taken its turn, or has finished.
            common::wait_for("the other thread's turn", || progress.load(Relaxed) != seen);
        });
    });
}
