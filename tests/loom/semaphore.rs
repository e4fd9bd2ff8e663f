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
    crate::support::model(|| {
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
    crate::support::model(|| {
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
    crate::support::model(|| {
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
    crate::support::model(|| {
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
    crate::support::model(|| {
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
    crate::support::model(|| {
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

/// `release()` is a bare `fetch_add(1)`: with a waiter parked it adds a
/// *pending* permit and then hands it off under the queue lock. The race
/// this design introduces: the last waiter times out between the
/// `fetch_add` and the hand-off. Its timeout must move the pending permit to
/// the count (W+p → p), and the late hand-off must then find nothing to do;
/// a barger may take the permit only once nobody is parked. Permits taken
/// plus permits left is always exactly 1.
#[test]
fn release_fetch_add_vs_last_timeout() {
    crate::support::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s1 = Arc::clone(&sem);
        let waiter = thread::spawn(move || s1.acquire_timeout(LONG));
        let s2 = Arc::clone(&sem);
        let barger = thread::spawn(move || s2.try_acquire());
        sem.release();
        let got = waiter.join().unwrap();
        let barged = barger.join().unwrap();
        assert_eq!(usize::from(got) + usize::from(barged) + sem.available(), 1);
        assert!(format!("{sem:?}").contains("waiters: false"));
    });
}

/// Two `release()`s from two threads both land in the waiters range (two
/// pending permits) while the only waiter may time out: one reconcile may
/// hand off or free both permits, the other then finds none pending; none
/// is lost or doubled.
#[test]
fn two_pending_releases_vs_timeout() {
    crate::support::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s1 = Arc::clone(&sem);
        let waiter = thread::spawn(move || s1.acquire_timeout(LONG));
        let s2 = Arc::clone(&sem);
        let releaser = thread::spawn(move || s2.release());
        sem.release();
        releaser.join().unwrap();
        let got = waiter.join().unwrap();
        assert_eq!(usize::from(got) + sem.available(), 2);
        assert!(format!("{sem:?}").contains("waiters: false"));
    });
}

/// An untimed waiter and a timed one, two `release()`s: the untimed one must
/// always get a permit (a lost hand-off is a loom deadlock), and the permits
/// are conserved whatever the timed one does.
#[test]
fn pending_releases_reach_untimed_waiter() {
    crate::support::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s1 = Arc::clone(&sem);
        let untimed = thread::spawn(move || s1.acquire());
        let s2 = Arc::clone(&sem);
        let timed = thread::spawn(move || s2.acquire_timeout(LONG));
        sem.release();
        sem.release();
        untimed.join().unwrap();
        let got = timed.join().unwrap();
        assert_eq!(1 + usize::from(got) + sem.available(), 2);
    });
}
