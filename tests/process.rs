//! `pysync::process`: Python semantics and region checks, within one
//! process (threads stand in for processes: each object handle works from
//! any thread). Killing real processes: `tests/process_kill.rs`.
#![cfg(all(target_os = "linux", not(miri)))]

mod common;

use pysync::Error;
use pysync::process::{Region, RegionError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn region() -> Region {
    Region::anonymous(1 << 20).expect("an anonymous region")
}

/// A named region removed when the test ends.
struct Named(String, Region);
impl Drop for Named {
    fn drop(&mut self) {
        let _ = Region::unlink(&self.0);
    }
}
fn named(tag: &str) -> Named {
    let name = format!("/pysync-test-{tag}-{}", std::process::id());
    let _ = Region::unlink(&name);
    let r = Region::create(&name, 1 << 20).expect("create");
    Named(name, r)
}

// ----- region ---------------------------------------------------------------

#[test]
fn region_names_sizes_and_existence_are_checked() {
    let _watchdog = common::watchdog();
    for bad in ["", "/", "noslash", "/a/b", "/nul\0"] {
        assert!(
            matches!(Region::create(bad, 1 << 16), Err(RegionError::BadName(_))),
            "{bad:?}"
        );
        assert!(matches!(Region::open(bad), Err(RegionError::BadName(_))));
    }
    let n = named("names");
    for bad in [0, 1, 4096, usize::MAX, pysync::process::MAX_SIZE + 1] {
        assert!(
            matches!(Region::create("/pysync-x", bad), Err(RegionError::BadSize(s)) if s == bad),
            "{bad}"
        );
    }
    assert!(matches!(
        Region::create(&n.0, 1 << 16),
        Err(RegionError::Exists(_))
    ));
    let missing = format!("/pysync-missing-{}", std::process::id());
    assert!(matches!(
        Region::open(&missing),
        Err(RegionError::NotFound(_))
    ));
    assert!(Region::create_with_mode("/pysync-mode", 1 << 16, 0o7777).is_err());
    // Error messages say what was wrong.
    let msg = Region::create("bad", 1 << 16).unwrap_err().to_string();
    assert!(msg.contains("invalid region name"), "{msg}");
}

/// `open_or_create` from two threads at once, on many fresh names: whoever
/// comes first creates, the other opens — never an error, whatever the
/// interleaving (the opener can find the object between the creator's
/// `shm_open` and its `ftruncate`: empty, not yet a region).
#[test]
#[cfg_attr(miri, ignore)] // shared memory
fn open_or_create_races_create_with_open() {
    let _watchdog = common::watchdog();
    let base = format!("/pysync-test-ooc-race-{}", std::process::id());
    let go = std::sync::Barrier::new(2);
    for i in 0..300 {
        let name = format!("{base}-{i}");
        let _ = Region::unlink(&name);
        let [a, b] = std::thread::scope(|s| {
            let opener = || {
                go.wait();
                Region::open_or_create(&name, 1 << 16).map(|r| r.size())
            };
            let a = s.spawn(opener);
            let b = s.spawn(opener);
            [a.join().unwrap(), b.join().unwrap()]
        });
        let _ = Region::unlink(&name);
        assert!(
            matches!((&a, &b), (Ok(65536), Ok(65536))),
            "round {i}: {a:?}, {b:?}"
        );
    }
}

#[test]
fn opening_checks_magic_version_and_size() {
    let _watchdog = common::watchdog();
    use std::io::{Seek, SeekFrom, Write};
    let r = region();
    // A region of another layout version: the version field (offset 8).
    let mut f = std::fs::File::from(r.inheritable_fd().unwrap());
    f.seek(SeekFrom::Start(8)).unwrap();
    f.write_all(&99u32.to_le_bytes()).unwrap();
    match Region::from_fd(r.inheritable_fd().unwrap()) {
        Err(RegionError::Version { found, expected }) => {
            assert_eq!((found, expected), (99, pysync::process::LAYOUT_VERSION))
        }
        other => panic!("expected a version error, got {other:?}"),
    }
    // Not a region at all: wrong magic.
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(b"NOTAREGN").unwrap();
    assert!(matches!(
        Region::from_fd(r.inheritable_fd().unwrap()),
        Err(RegionError::NotARegion(_))
    ));
    // Too small to hold a header.
    let small = rustix::fs::memfd_create("small", rustix::fs::MemfdFlags::empty()).unwrap();
    rustix::fs::ftruncate(&small, 100).unwrap();
    assert!(matches!(
        Region::from_fd(small),
        Err(RegionError::NotARegion(_))
    ));
}

#[test]
fn objects_are_found_by_name_and_kind_and_parameters() {
    let _watchdog = common::watchdog();
    let r = region();
    let a = r.lock("x").unwrap();
    let b = r.lock("x").unwrap();
    a.acquire();
    assert!(b.locked());
    b.release().unwrap();
    assert!(matches!(
        r.semaphore("x", 1),
        Err(RegionError::KindMismatch {
            found: "Lock",
            expected: "Semaphore",
            ..
        })
    ));
    r.semaphore("s", 2).unwrap();
    assert!(matches!(
        r.semaphore("s", 3),
        Err(RegionError::ParameterMismatch(_))
    ));
    assert!(matches!(
        r.barrier("b", 0),
        Err(RegionError::BadParameter(_))
    ));
    assert!(matches!(
        r.semaphore("big", usize::MAX),
        Err(RegionError::BadParameter(_))
    ));
    assert!(matches!(r.lock(""), Err(RegionError::BadObjectName(_))));
    assert!(matches!(
        r.lock(&"n".repeat(pysync::process::MAX_NAME + 1)),
        Err(RegionError::BadObjectName(_))
    ));
    // Another region handle's lock cannot be bound to this condition.
    let other = region();
    assert!(
        r.condition_with_lock("c", other.lock("l").unwrap())
            .is_err()
    );
}

#[test]
fn a_full_directory_or_region_is_an_error() {
    let _watchdog = common::watchdog();
    let r = region();
    let mut made = 0;
    let err = loop {
        match r.lock(&format!("l{made}")) {
            Ok(_) => made += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(made, pysync::process::MAX_OBJECTS);
    assert!(matches!(err, RegionError::Full(_)), "{err}");
    let small = Region::anonymous(Region::min_size()).unwrap();
    assert!(matches!(
        small.data("big", 1 << 20),
        Err(RegionError::Full(_))
    ));
}

#[test]
fn named_regions_are_shared_between_handles() {
    let _watchdog = common::watchdog();
    let n = named("shared");
    let other = Region::open(&n.0).unwrap();
    assert_ne!(other.token(), n.1.token(), "each open registers");
    let e = n.1.event("e").unwrap();
    let e2 = other.event("e").unwrap();
    thread::scope(|s| {
        let t = s.spawn(|| e2.wait_timeout(common::PROMPT));
        e.set();
        assert!(t.join().unwrap());
    });
    assert!(n.1.is_alive(other.token()));
    let t = other.token();
    drop(e2);
    drop(other);
    assert!(!n.1.is_alive(t), "a closed registration is dead");
}

// ----- Lock -----------------------------------------------------------------

#[test]
fn lock_python_semantics() {
    let _watchdog = common::watchdog();
    let r = region();
    let lock = r.lock("l").unwrap();
    assert_eq!(lock.release(), Err(Error::ReleaseUnlocked));
    assert!(lock.try_acquire());
    assert!(!lock.try_acquire());
    assert!(!lock.acquire_timeout(Duration::ZERO));
    assert!(!lock.acquire_timeout(Duration::from_millis(30)));
    assert!(!lock.acquire_until(Instant::now()));
    assert!(lock.held_by_this_process());
    // Not owned: another thread releases it.
    let l2 = lock.clone();
    thread::spawn(move || l2.release().unwrap()).join().unwrap();
    assert!(!lock.locked());
    assert!(lock.acquire_timeout(Duration::MAX));
    lock.release().unwrap();
    assert_eq!(
        format!("{lock:?}"),
        "process::Lock { locked: false, owner_died: false }"
    );
}

#[test]
fn lock_excludes_and_wakes_across_threads() {
    let _watchdog = common::watchdog();
    let r = region();
    let lock = r.lock("l").unwrap();
    let data = r.data("n", 8).unwrap();
    let ptr = data.as_ptr() as usize;
    thread::scope(|s| {
        for _ in 0..4 {
            let lock = lock.clone();
            s.spawn(move || {
                for _ in 0..5_000 {
                    let _g = lock.lock();
                    // SAFETY: only touched under `lock`.
                    unsafe {
                        let p = ptr as *mut u64;
                        p.write_volatile(p.read_volatile() + 1)
                    };
                }
            });
        }
    });
    // SAFETY: every thread was joined.
    assert_eq!(unsafe { *(ptr as *const u64) }, 20_000);
    assert!(!lock.locked());
}

#[test]
fn lock_waiter_is_woken_by_release() {
    let _watchdog = common::watchdog();
    let r = region();
    let lock = r.lock("l").unwrap();
    lock.acquire();
    thread::scope(|s| {
        let t = common::spawn_parked(s, || lock.acquire_timeout(common::PROMPT));
        lock.release().unwrap();
        assert!(t.join().unwrap());
    });
    assert!(lock.locked());
    assert!(!lock.owner_died());
}

// ----- RLock ----------------------------------------------------------------

#[test]
fn rlock_python_semantics() {
    let _watchdog = common::watchdog();
    let r = region();
    let rl = r.rlock("r").unwrap();
    assert_eq!(rl.release(), Err(Error::NotOwned));
    rl.acquire();
    assert!(rl.try_acquire());
    assert!(rl.acquire_timeout(Duration::ZERO));
    assert_eq!(rl.recursion_count(), 3);
    let other = rl.clone();
    thread::spawn(move || {
        assert!(!other.is_owned());
        assert_eq!(other.recursion_count(), 0);
        assert_eq!(other.release(), Err(Error::NotOwned));
        assert!(!other.try_acquire());
        assert!(!other.acquire_timeout(Duration::from_millis(30)));
    })
    .join()
    .unwrap();
    for _ in 0..3 {
        rl.release().unwrap();
    }
    assert!(!rl.locked());
    {
        let _a = rl.lock();
        let _b = rl.lock();
        assert_eq!(rl.recursion_count(), 2);
    }
    assert!(!rl.locked());
}

// ----- Semaphore ------------------------------------------------------------

#[test]
fn semaphore_counts_and_bounds() {
    let _watchdog = common::watchdog();
    let r = region();
    let s = r.semaphore("s", 2).unwrap();
    assert!(s.try_acquire());
    assert!(s.acquire_timeout(Duration::ZERO));
    assert!(!s.try_acquire());
    assert!(!s.acquire_timeout(Duration::from_millis(30)));
    s.release_n(2);
    assert_eq!(s.available(), 2);
    {
        let _g = s.access();
        assert_eq!(s.held_by_this_process(), 1);
        assert_eq!(s.available(), 1);
    }
    assert_eq!(s.held_by_this_process(), 0);
    assert_eq!(s.available(), 2);

    let b = r.bounded_semaphore("b", 2).unwrap();
    assert_eq!(b.release(), Err(Error::TooManyReleases));
    b.acquire();
    assert_eq!(b.release_n(2), Err(Error::TooManyReleases));
    assert_eq!(b.available(), 1, "all or nothing");
    b.release().unwrap();
    assert_eq!(b.initial(), 2);
}

#[test]
fn semaphore_overflow_panic_with_waiters_queued_leaves_it_usable() {
    // The overflow panic must come after the semaphore's inner lock is
    // released: a panic under it would leave that (process-shared) lock
    // held, and every later release or acquire would hang.
    let _watchdog = common::watchdog();
    let r = region();
    let s = r.semaphore("s", 0).unwrap();
    thread::scope(|sc| {
        let waiter = common::spawn_parked(sc, || s.acquire_timeout(common::PROMPT));
        let max = pysync::process::Semaphore::MAX_PERMITS;
        let overflow = std::panic::catch_unwind(|| s.release_n(max + 1));
        assert!(overflow.is_err(), "past MAX_PERMITS is a documented panic");
        s.release();
        assert!(waiter.join().unwrap(), "the queued waiter got the permit");
    });
    assert_eq!(s.available(), 0);
}

#[test]
fn semaphore_serves_waiters_in_fifo_order() {
    let _watchdog = common::watchdog();
    let r = region();
    let s = r.semaphore("s", 0).unwrap();
    let order = Mutex::new(Vec::new());
    thread::scope(|sc| {
        let mut hs = Vec::new();
        for i in 0..4 {
            let (s, order) = (&s, &order);
            hs.push(common::spawn_parked(sc, move || {
                s.acquire();
                order.lock().unwrap().push(i);
            }));
        }
        for i in 0..4 {
            s.release();
            // A late arrival must not barge past the queued waiters.
            assert!(!s.try_acquire());
            // The longest waiter got it (each records before the next
            // release, so the record is the grant order).
            common::wait_for("the granted waiter ran", || {
                order.lock().unwrap().len() == i + 1
            });
        }
        for h in hs {
            h.join().unwrap();
        }
    });
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    assert_eq!(s.available(), 0);
}

/// More waiters than `QUEUE_CELLS`: the extra ones wait for a free cell.
/// Every waiter is served, none lost: `release_n(n)` serves exactly `n`,
/// the rest stay blocked until their permits come.
#[test]
fn semaphore_serves_more_waiters_than_queue_cells() {
    let _watchdog = common::watchdog();
    let cells = pysync::process::QUEUE_CELLS;
    for extra in [2, 6] {
        let r = region();
        let s = r.semaphore("s", 0).unwrap();
        let n = cells + extra;
        let served = AtomicUsize::new(0);
        thread::scope(|sc| {
            let (s, served) = (&s, &served);
            let mut hs = Vec::new();
            let mut tids = Vec::new();
            for _ in 0..n {
                let (h, tid) = common::spawn_tid(sc, move || {
                    let ok = s.acquire_timeout(common::PROMPT);
                    served.fetch_add(1, Ordering::SeqCst);
                    ok
                });
                hs.push(h);
                tids.push(tid);
            }
            for tid in &tids {
                common::wait_until_parked(tid);
            }
            // Fewer permits than queued waiters (and than cells): exactly
            // that many are served; the others, queued in cells or waiting
            // for one, stay blocked.
            let first = 5;
            s.release_n(first);
            common::wait_for("the first permits were taken", || {
                served.load(Ordering::SeqCst) == first
            });
            common::wait_until_settled(&tids);
            assert_eq!(served.load(Ordering::SeqCst), first, "{n} waiters");
            assert_eq!(s.available(), 0);
            assert!(!s.try_acquire(), "waiters are still queued");
            // The rest, with more permits than cells in one call.
            s.release_n(n - first);
            for h in hs {
                assert!(h.join().unwrap(), "a waiter was never served");
            }
        });
        assert_eq!(served.load(Ordering::SeqCst), n);
        assert_eq!(s.available(), 0, "no permit lost or created");
        s.release();
        assert!(s.try_acquire(), "nobody left queued");
    }
}

#[test]
fn semaphore_permits_are_conserved_under_timeouts() {
    let _watchdog = common::watchdog();
    let r = region();
    let s = r.semaphore("s", 3).unwrap();
    let got = AtomicUsize::new(0);
    thread::scope(|sc| {
        for t in 0..4 {
            let (s, got) = (&s, &got);
            sc.spawn(move || {
                for i in 0..2_000u64 {
                    let timeout = Duration::from_micros((i * 7 + t) % 50);
                    if s.acquire_timeout(timeout) {
                        got.fetch_add(1, Ordering::Relaxed);
                        s.release();
                    }
                }
            });
        }
    });
    assert_eq!(s.available(), 3, "no permit lost or created");
    assert!(got.load(Ordering::Relaxed) > 0);
}

// ----- Event ----------------------------------------------------------------

#[test]
fn event_set_wakes_every_waiter_even_if_cleared_at_once() {
    let _watchdog = common::watchdog();
    let r = region();
    let e = r.event("e").unwrap();
    assert!(!e.wait_timeout(Duration::from_millis(20)));
    thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| common::spawn_parked(s, || e.wait_timeout(common::PROMPT)))
            .collect();
        e.set();
        e.clear();
        for h in hs {
            assert!(h.join().unwrap(), "woken by set: true despite clear");
        }
    });
    assert!(!e.is_set());
    e.set();
    e.wait();
    assert!(e.try_wait());
}

// ----- Condition ------------------------------------------------------------

#[test]
fn condition_misuse_is_an_error() {
    let _watchdog = common::watchdog();
    let r = region();
    let c = r.condition("c").unwrap();
    assert_eq!(c.wait(), Err(Error::WaitUnacquired));
    assert_eq!(c.wait_timeout(Duration::ZERO), Err(Error::WaitUnacquired));
    assert_eq!(c.notify(1), Err(Error::NotifyUnacquired));
    assert_eq!(c.wait_for(|| true), Err(Error::WaitUnacquired));
    let _g = c.lock();
    assert_eq!(c.wait_timeout(Duration::from_millis(20)), Ok(false));
    c.notify_all().unwrap();
}

#[test]
fn condition_notify_is_fifo_and_restores_rlock_depth() {
    let _watchdog = common::watchdog();
    let r = region();
    let c = r.condition("c").unwrap();
    let order = Mutex::new(Vec::new());
    thread::scope(|s| {
        let mut hs = Vec::new();
        for i in 0..3 {
            let (c, order) = (&c, &order);
            hs.push(common::spawn_parked(s, move || {
                c.acquire();
                c.acquire(); // depth 2
                assert_eq!(c.wait_timeout(common::PROMPT), Ok(true));
                assert_eq!(c.lock_ref().recursion_count(), 2);
                order.lock().unwrap().push(i);
                c.release().unwrap();
                c.release().unwrap();
            }));
        }
        for i in 0..3 {
            {
                let _g = c.lock();
                c.notify(1).unwrap();
            }
            // The one notified goes next, before anyone else is notified.
            common::wait_for("the notified waiter ran", || {
                order.lock().unwrap().len() == i + 1
            });
        }
        for h in hs {
            h.join().unwrap();
        }
    });
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2]);
    assert_eq!(c.waiters(), 0);
}

#[test]
fn condition_with_a_plain_lock_and_wait_for() {
    let _watchdog = common::watchdog();
    let r = region();
    let lock = r.lock("l").unwrap();
    let c = r.condition_with_lock("c", lock.clone()).unwrap();
    let ready = r.event("ready").unwrap();
    thread::scope(|s| {
        let t = s.spawn(|| {
            let _g = c.lock();
            c.wait_for_timeout(|| ready.is_set(), common::PROMPT)
        });
        common::wait_for("the waiter queued", || c.waiters() == 1);
        let _g = c.lock();
        ready.set();
        c.notify_all().unwrap();
        drop(_g);
        assert_eq!(t.join().unwrap(), Ok(true));
    });
    assert!(!lock.locked());
}

/// More condition waiters than [`QUEUE_CELLS`](pysync::process::QUEUE_CELLS):
/// the first take every cell, the rest find none and return as if notified
/// (`process` docs: a spurious wake-up), so waiting on a predicate they
/// wait again; one `notify_all` after the predicate turns true lets every
/// one of them out — none lost, none hanging (they wait without a timeout:
/// a waiter left behind hangs the test, which the watchdog fails).
#[test]
fn condition_with_more_waiters_than_queue_cells_loses_none() {
    let _watchdog = common::watchdog();
    let cells = pysync::process::QUEUE_CELLS;
    let n = cells + 6;
    let r = region();
    let c = r.condition("c").unwrap();
    let ready = r.event("ready").unwrap();
    let out = AtomicUsize::new(0);
    thread::scope(|s| {
        let hs: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let _g = c.lock();
                    let ok = c.wait_for(|| ready.is_set());
                    out.fetch_add(1, Ordering::SeqCst);
                    ok
                })
            })
            .collect();
        common::wait_for("every cell taken", || c.waiters() == cells);
        assert_eq!(out.load(Ordering::SeqCst), 0, "nobody out early");
        let g = c.lock();
        ready.set();
        c.notify_all().unwrap();
        drop(g);
        for h in hs {
            assert_eq!(h.join().unwrap(), Ok(()));
        }
    });
    assert_eq!(out.load(Ordering::SeqCst), n);
    assert_eq!(c.waiters(), 0);
}

#[test]
fn condition_notifications_are_not_swallowed_by_timeouts() {
    let _watchdog = common::watchdog();
    let r = region();
    let c = r.condition("c").unwrap();
    let woken = AtomicUsize::new(0);
    let tokens = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..3u64 {
            let (c, woken, tokens) = (&c, &woken, &tokens);
            s.spawn(move || {
                for i in 0..300u64 {
                    let _g = c.lock();
                    if c.wait_timeout(Duration::from_micros((i * 13 + t * 5) % 200))
                        .unwrap()
                    {
                        woken.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = tokens.load(Ordering::Relaxed);
                }
            });
        }
        for _ in 0..300 {
            let _g = c.lock();
            c.notify(1).unwrap();
        }
    });
    // Every waiter that reported a notification had one: never more
    // wake-ups reported than notifications sent.
    assert!(woken.load(Ordering::Relaxed) <= 300);
    assert_eq!(c.waiters(), 0);
}

// ----- Barrier --------------------------------------------------------------

#[test]
fn barrier_rounds_indices_and_action() {
    let _watchdog = common::watchdog();
    let r = region();
    let runs = Arc::new(AtomicUsize::new(0));
    let runs2 = runs.clone();
    let b = r.barrier("b", 3).unwrap().with_action(move || {
        runs2.fetch_add(1, Ordering::SeqCst);
    });
    for _round in 0..5 {
        let mut idx: Vec<usize> = thread::scope(|s| {
            let hs: Vec<_> = (0..3).map(|_| s.spawn(|| b.wait().unwrap())).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        idx.sort();
        assert_eq!(idx, vec![0, 1, 2]);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 5);
    assert_eq!(b.parties(), 3);
    assert_eq!(b.n_waiting(), 0);
}

#[test]
fn barrier_timeout_abort_and_reset_break_it() {
    let _watchdog = common::watchdog();
    let r = region();
    let b = r.barrier("b", 2).unwrap();
    assert_eq!(
        b.wait_timeout(Duration::from_millis(10)),
        Err(Error::BrokenBarrier)
    );
    assert!(b.broken());
    assert_eq!(b.wait(), Err(Error::BrokenBarrier));
    b.reset();
    assert!(!b.broken());
    thread::scope(|s| {
        let t = s.spawn(|| b.wait());
        common::wait_for("a party waits", || b.n_waiting() == 1);
        b.abort();
        assert_eq!(t.join().unwrap(), Err(Error::BrokenBarrier));
    });
    b.reset();
    thread::scope(|s| {
        let t = s.spawn(|| b.wait());
        common::wait_for("a party waits", || b.n_waiting() == 1);
        b.reset();
        assert_eq!(t.join().unwrap(), Err(Error::BrokenBarrier));
    });
    assert!(!b.broken());
    let timed = r
        .barrier_with_timeout("t", 2, Duration::from_millis(10))
        .unwrap();
    assert_eq!(timed.wait(), Err(Error::BrokenBarrier));
}

#[test]
fn barrier_action_panic_breaks_the_round() {
    let _watchdog = common::watchdog();
    let r = region();
    let b = r.barrier("b", 2).unwrap();
    let panicky = b.clone().with_action(|| panic!("action failed"));
    thread::scope(|s| {
        let t = s.spawn(|| b.wait());
        common::wait_for("a party waits", || b.n_waiting() == 1);
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| panicky.wait()));
        assert!(res.is_err(), "the panic continues");
        assert_eq!(t.join().unwrap(), Err(Error::BrokenBarrier));
    });
    assert!(b.broken());
}

#[test]
fn types_are_send_sync_debug() {
    let _watchdog = common::watchdog();
    fn check<T: Send + Sync + std::fmt::Debug>() {}
    use pysync::process::*;
    check::<Region>();
    check::<Lock>();
    check::<RLock>();
    check::<Semaphore>();
    check::<BoundedSemaphore>();
    check::<Event>();
    check::<Condition>();
    check::<Condition<Lock>>();
    check::<Barrier>();
    check::<Data>();
    check::<RegionError>();
    let r = region();
    let s = format!("{:?}", r.semaphore("s", 1).unwrap());
    assert!(s.contains("available: 1"), "{s}");
}

#[test]
fn permission_denied_is_a_clear_error() {
    let _watchdog = common::watchdog();
    let name = format!("/pysync-test-perm-{}", std::process::id());
    let _ = Region::unlink(&name);
    let r = Region::create_with_mode(&name, 1 << 16, 0o000).unwrap();
    // root bypasses file permissions: there, opening succeeds.
    let opened = Region::open(&name);
    if !rustix::process::geteuid().is_root() {
        assert!(
            matches!(opened, Err(RegionError::PermissionDenied(_))),
            "{opened:?}"
        );
    }
    drop(r);
    Region::unlink(&name).unwrap();
}
