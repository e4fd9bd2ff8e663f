//! Loom models: Semaphore and BoundedSemaphore.
//!
//! Under loom a timed park may time out at any interleaving, so every
//! "release races a timeout" schedule is explored; an untimed waiter that
//! nobody wakes shows up as a loom deadlock (a lost permit).

use crate::lock::Freeable;
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

/// A `release()` that finds a waiter parked hands its permit off under the
/// queue lock, while the last waiter may time out first (leaving the
/// waiters state, so the release must start over with the CAS on the
/// count); a barger may take the permit only once nobody is parked. Permits
/// taken plus permits left is always exactly 1.
#[test]
fn release_vs_last_timeout_and_barger() {
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

/// Two `release()`s from two threads both find the waiter parked while it
/// may time out: each hands its own permit off or adds it to the count;
/// none is lost or doubled.
#[test]
fn two_releases_vs_timeout() {
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
fn releases_reach_untimed_waiter() {
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

/// The destruction promise (POSIX's `sem_destroy` after `sem_wait`, glibc
/// bug 12674): the thread that ends up with the permit, as the last user,
/// may free the semaphore while the `release` that provided it is still
/// returning. A waiter parks (and may time out, leaving the semaphore with
/// no waiter); `release()` either hands the permit to it or adds it to the
/// count, where the main thread takes it. The release must not touch the
/// semaphore after the step that makes its permit available.
#[test]
fn taker_may_free_the_semaphore_after_release() {
    crate::support::deep_model(|| {
        let sem = Freeable::new(Semaphore::new(0));
        let releaser = thread::spawn(move || sem.get().release());
        let waiter = thread::spawn(move || sem.get().acquire_timeout(LONG));
        if !waiter.join().unwrap() {
            sem.get().acquire();
        }
        // SAFETY: the waiter returned; the releaser's call is the only other
        // use, and it made the permit we hold available.
        unsafe { sem.free() };
        releaser.join().unwrap();
        // SAFETY: freed above; every thread is joined.
        unsafe { sem.dealloc() };
    });
}

/// The same for the checked release of a `BoundedSemaphore`.
#[test]
fn taker_may_free_the_bounded_semaphore_after_release() {
    crate::support::deep_model(|| {
        let sem = Freeable::new(BoundedSemaphore::new(1));
        assert!(sem.get().try_acquire());
        let releaser = thread::spawn(move || sem.get().release());
        let waiter = thread::spawn(move || sem.get().acquire_timeout(LONG));
        if !waiter.join().unwrap() {
            sem.get().acquire();
        }
        // SAFETY: as above.
        unsafe { sem.free() };
        assert_eq!(releaser.join().unwrap(), Ok(()));
        // SAFETY: as above.
        unsafe { sem.dealloc() };
    });
}
