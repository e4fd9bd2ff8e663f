//! Owned (`Arc`) guards: they move into `thread::spawn`, are stored without
//! a lifetime, and, like every guard, never panic when dropped.

mod common;

use pysync::{
    ArcLockGuard, ArcSemaphoreGuard, BoundedSemaphore, Error, Lock, Mutex, MutexExt, RLock,
    Semaphore,
};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn lock_guard_moves_into_spawn_and_releases_there() {
    let _watchdog = common::watchdog();
    let lock = Arc::new(Lock::new());
    let g: ArcLockGuard = lock.lock_arc();
    assert!(lock.try_lock_arc().is_none());
    assert!(lock.lock_arc_timeout(Duration::ZERO).is_none());
    assert!(lock.lock_arc_until(common::past()).is_none());
    thread::spawn(move || drop(g)).join().unwrap();
    assert!(!lock.locked());
    let g = lock
        .lock_arc_until(Instant::now() + common::PROMPT)
        .unwrap();
    assert!(Arc::ptr_eq(g.lock(), &lock));
    assert_eq!(Arc::strong_count(&lock), 2, "the guard holds one Arc");
    drop(g);
    assert_eq!(Arc::strong_count(&lock), 1);
}

/// The connection-pool shape: permits taken on one thread, held by workers.
#[test]
fn semaphore_guards_move_into_workers() {
    let _watchdog = common::watchdog();
    let pool = Arc::new(Semaphore::new(2));
    let a = pool.access_arc();
    let b = pool.try_access_arc().unwrap();
    assert!(pool.try_access_arc().is_none());
    assert!(pool.access_arc_timeout(Duration::ZERO).is_none());
    let workers = [a, b].map(|permit| thread::spawn(move || drop(permit)));
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(pool.available(), 2);
    let c = pool
        .access_arc_until(Instant::now() + common::PROMPT)
        .unwrap();
    assert!(format!("{c:?}").starts_with("ArcSemaphoreGuard { semaphore: Semaphore"));
    assert_eq!(c.release(), Ok(()));
    assert_eq!(pool.available(), 2);
}

/// A waiter blocked in `access_arc` gets the permit an owned guard gives
/// back from another thread.
#[test]
#[cfg_attr(miri, ignore)]
fn owned_permit_released_elsewhere_wakes_a_waiter() {
    let _watchdog = common::watchdog();
    let pool = Arc::new(BoundedSemaphore::new(1));
    let held = pool.access_arc();
    thread::scope(|s| {
        let waiter = common::spawn_parked(s, || pool.access_arc());
        thread::spawn(move || drop(held)).join().unwrap();
        let permit = waiter.join().unwrap();
        assert_eq!(pool.available(), 0);
        drop(permit);
    });
    assert_eq!(pool.available(), 1);
}

#[test]
fn rlock_guard_is_owned_and_reentrant() {
    let _watchdog = common::watchdog();
    let r = Arc::new(RLock::new());
    let a = r.lock_arc();
    let b = r.try_lock_arc().unwrap();
    assert_eq!(r.recursion_count(), 2);
    let other = Arc::clone(&r);
    assert!(
        thread::spawn(move || other.lock_arc_timeout(Duration::ZERO).is_none())
            .join()
            .unwrap()
    );
    drop(a);
    assert!(b.rlock().is_owned());
    drop(b);
    assert!(!r.locked());
}

#[test]
fn mutex_arc_guard_and_timed_names() {
    let _watchdog = common::watchdog();
    let m = Arc::new(Mutex::new(0));
    let mut g = m.lock_arc();
    assert!(m.lock_timeout(Duration::ZERO).is_none());
    assert!(m.lock_until(common::past()).is_none());
    assert!(m.lock_arc_timeout(Duration::ZERO).is_none());
    thread::spawn(move || *g += 1).join().unwrap();
    let mut g = m.lock_arc_until(Instant::now() + common::PROMPT).unwrap();
    *g += 1;
    drop(g);
    assert_eq!(*m.lock_timeout(common::PROMPT).unwrap(), 2);
}

/// Dropping an owned permit after an over-release: no panic, count at the
/// ceiling; also while unwinding; `release` reports it.
#[test]
fn owned_permit_drop_never_panics() {
    let _watchdog = common::watchdog();
    let sem = Arc::new(BoundedSemaphore::new(1));
    let g: ArcSemaphoreGuard = sem.access_arc();
    sem.release().unwrap();
    assert!(
        catch_unwind(AssertUnwindSafe(|| drop(g))).is_ok(),
        "Drop panicked"
    );
    assert_eq!(sem.available(), 1);

    let r = catch_unwind(AssertUnwindSafe(|| {
        let _g = sem.access_arc();
        sem.release().unwrap();
        panic!("the original panic");
    }));
    assert_eq!(common::message(&*r.unwrap_err()), "the original panic");
    assert_eq!(sem.available(), 1);

    let g = sem.access_arc();
    sem.release().unwrap();
    assert_eq!(g.release(), Err(Error::TooManyReleases));
    assert_eq!(sem.available(), 1);
}

/// An `ArcLockGuard`'s drop, like a `LockGuard`'s, releases the lock
/// whoever holds it now: released by hand and taken by another thread
/// meanwhile, the drop releases that hold (owned.rs, lock/mod.rs).
#[test]
fn arc_lock_guard_dropped_after_a_release_by_hand_releases_the_new_hold() {
    let _watchdog = common::watchdog();
    let lock = Arc::new(Lock::new());
    let g = lock.lock_arc();
    lock.release().unwrap();
    thread::scope(|s| s.spawn(|| lock.acquire()).join().unwrap());
    assert!(lock.locked(), "the other thread holds it");
    drop(g);
    assert!(!lock.locked(), "the stale guard released the other hold");
}

/// Lock and RLock guards (borrowed and owned) whose acquisition was
/// released by hand drop quietly.
#[test]
fn lock_guards_released_by_hand_drop_quietly() {
    let _watchdog = common::watchdog();
    let lock = Arc::new(Lock::new());
    let g = lock.lock();
    lock.release().unwrap();
    drop(g);
    let g = lock.lock_arc();
    lock.release().unwrap();
    drop(g);
    assert!(!lock.locked());
    let r = Arc::new(RLock::new());
    let g = r.lock();
    r.release().unwrap();
    drop(g);
    let g = r.lock_arc();
    r.release().unwrap();
    drop(g);
    assert!(!r.locked());
}
