//! Loom models: Semaphore and BoundedSemaphore.
//!
//! Under loom a timed park may time out at any interleaving, so every
//! "release races a timeout" schedule is explored; an untimed waiter that
//! nobody wakes shows up as a loom deadlock (a lost permit).

use loom::sync::Arc;
use loom::thread;
use pysync::{BoundedSemaphore, Semaphore};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

/// A release racing a waiter's timeout: the permit is either taken by the
/// waiter (which then reports true) or left in the count, never both or
/// neither.
#[test]
fn release_vs_timeout_conserves_permits() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s2 = Arc::clone(&sem);
        let waiter = thread::spawn(move || s2.acquire_timeout(LONG));
        sem.release();
        let got = waiter.join().unwrap();
        assert_eq!(usize::from(got) + sem.available(), 1);
        assert!(format!("{sem:?}").contains("waiters: false"));
    });
}

/// `release_n(2)` with two untimed waiters wakes both (a lost hand-off
/// would be a deadlock) and leaves nothing in the count.
#[test]
fn release_n_wakes_several_waiters() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let s = Arc::clone(&sem);
                thread::spawn(move || s.acquire())
            })
            .collect();
        sem.release_n(2);
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(sem.available(), 0);
        assert!(format!("{sem:?}").contains("waiters: false"));
    });
}

/// `release_n(2)` racing two timed waiters: permits taken + left == 2.
#[test]
fn release_n_vs_timeouts_conserves_permits() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let s = Arc::clone(&sem);
                thread::spawn(move || s.acquire_timeout(LONG))
            })
            .collect();
        sem.release_n(2);
        let got: usize = waiters
            .into_iter()
            .map(|w| usize::from(w.join().unwrap()))
            .sum();
        assert_eq!(got + sem.available(), 2);
    });
}

/// Hand-off: a permit released to a parked waiter is never stolen by a
/// fresh arrival (the waiter would then block forever: a loom deadlock), and
/// nothing is lost when a barger races the release.
#[test]
fn handoff_is_not_stolen() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s1 = Arc::clone(&sem);
        let waiter = thread::spawn(move || s1.acquire());
        let s2 = Arc::clone(&sem);
        let barger = thread::spawn(move || s2.try_acquire());
        sem.release();
        sem.release();
        waiter.join().unwrap();
        let barged = barger.join().unwrap();
        assert_eq!(usize::from(barged) + sem.available(), 1);
    });
}

/// FIFO hand-off: while a waiter is parked, a release goes to it and a
/// later `try_acquire` fails (the count stays 0).
#[test]
fn fifo_handoff_to_parked_waiter() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s1 = Arc::clone(&sem);
        let waiter = thread::spawn(move || s1.acquire_timeout(LONG));
        sem.release();
        let stolen = sem.try_acquire();
        let got = waiter.join().unwrap();
        // Exactly one of them has the permit.
        assert_eq!(usize::from(got) + usize::from(stolen) + sem.available(), 1);
    });
}

/// BoundedSemaphore: releasing the held permit while a waiter times out is
/// always Ok, and the permit is conserved.
#[test]
fn bounded_release_vs_timeout() {
    loom::model(|| {
        let sem = Arc::new(BoundedSemaphore::new(1));
        assert!(sem.try_acquire());
        let s2 = Arc::clone(&sem);
        let waiter = thread::spawn(move || s2.acquire_timeout(LONG));
        assert_eq!(sem.release(), Ok(()));
        let got = waiter.join().unwrap();
        assert_eq!(usize::from(got) + sem.available(), 1);
        if got {
            assert_eq!(sem.release(), Ok(()));
        }
        assert!(sem.release().is_err());
    });
}
