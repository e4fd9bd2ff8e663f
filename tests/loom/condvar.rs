//! Loom models: Condvar (waiting with a guard; bound to a lock only while
//! threads wait). Under loom there is no `Mutex<T>` (lock_api needs a const
//! lock), so the models wait with a `LockGuard`, through the same core.
//!
//! Data "protected by the lock" lives in loom atomics accessed with Relaxed
//! while the lock is held: the lock provides the ordering.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use loom::thread;
use pysync::{Condvar, Lock};
use std::time::Duration;

/// As `condition::notify_vs_timeout_loses_nothing`, with a Condvar: a timed
/// waiter (the racer) races notify_one, which may time out at the worst
/// moment; an untimed waiter (the patient one) waits for a token. A
/// swallowed notification leaves the patient waiter asleep beside an
/// unclaimed token: a loom deadlock.
#[test]
fn notify_vs_timeout_loses_nothing() {
    crate::support::model(|| {
        let shared = Arc::new((Lock::new(), Condvar::new()));
        let tokens = Arc::new(AtomicUsize::new(0));

        let (s, t) = (Arc::clone(&shared), Arc::clone(&tokens));
        let racer = thread::spawn(move || {
            let (lock, cv) = &*s;
            let mut g = lock.lock();
            let notified = t.load(Relaxed) == 0
                && !cv.wait_timeout(&mut g, Duration::from_secs(1)).timed_out();
            assert!(lock.locked(), "wait returns holding the lock");
            notified
        });
        let (s, t) = (Arc::clone(&shared), Arc::clone(&tokens));
        let patient = thread::spawn(move || {
            let (lock, cv) = &*s;
            let mut g = lock.lock();
            while t.load(Relaxed) == 0 {
                cv.wait(&mut g);
            }
            t.fetch_sub(1, Relaxed);
        });

        let (lock, cv) = &*shared;
        {
            let _g = lock.lock();
            tokens.fetch_add(1, Relaxed);
            cv.notify_one();
        }
        if racer.join().unwrap() {
            let _g = lock.lock();
            cv.notify_one();
        }
        patient.join().unwrap();
        assert_eq!(tokens.load(Relaxed), 0);
        assert!(!lock.locked());
        assert_eq!(cv.waiters(), 0);
    });
}

/// Notifying without holding the lock (std allows it): the flag is set
/// under the lock, then `notify_all` runs after the release, racing a
/// waiter that is between its check and its park, and a timed waiter whose
/// timeout may fire anywhere. Nobody sleeps forever.
#[test]
fn notify_outside_the_lock_loses_nothing() {
    crate::support::model(|| {
        let shared = Arc::new((Lock::new(), Condvar::new()));
        let flag = Arc::new(AtomicBool::new(false));

        let (s, f) = (Arc::clone(&shared), Arc::clone(&flag));
        let waiter = thread::spawn(move || {
            let (lock, cv) = &*s;
            let mut g = lock.lock();
            while !f.load(Relaxed) {
                cv.wait(&mut g);
            }
        });
        let (s, f) = (Arc::clone(&shared), Arc::clone(&flag));
        let timed = thread::spawn(move || {
            let (lock, cv) = &*s;
            let mut g = lock.lock();
            if !f.load(Relaxed) {
                let r = cv.wait_timeout(&mut g, Duration::from_secs(1));
                assert!(lock.locked());
                assert!(r.timed_out() || f.load(Relaxed), "notified implies the flag");
            }
        });

        let (lock, cv) = &*shared;
        {
            let _g = lock.lock();
            flag.store(true, Relaxed);
        }
        cv.notify_all();
        waiter.join().unwrap();
        timed.join().unwrap();
        assert!(!lock.locked());
        assert_eq!(cv.waiters(), 0);
    });
}

/// The binding moves: a waiter on lock A times out (the condvar is unbound)
/// while a notifier, which saw it bound to A, is about to requeue; then a
/// waiter on lock B queues. The notification must reach B's waiter (the
/// notifier sees the condvar rebound and follows it), and lock A, which
/// nobody waits on any more, is never touched by the requeue.
#[test]
fn rebinding_races_a_notify() {
    crate::support::model(|| {
        let shared = Arc::new((Lock::new(), Lock::new(), Condvar::new()));
        let flag = Arc::new(AtomicBool::new(false));
        let a_done = Arc::new(AtomicBool::new(false));

        let (s, d) = (Arc::clone(&shared), Arc::clone(&a_done));
        let on_a = thread::spawn(move || {
            let (a, _, cv) = &*s;
            let mut g = a.lock();
            let _ = cv.wait_timeout(&mut g, Duration::from_secs(1));
            drop(g);
            d.store(true, Relaxed);
        });
        let (s, f, d) = (Arc::clone(&shared), Arc::clone(&flag), Arc::clone(&a_done));
        let on_b = thread::spawn(move || {
            let (_, b, cv) = &*s;
            while !d.load(Relaxed) {
                thread::yield_now();
            }
            let mut g = b.lock();
            while !f.load(Relaxed) {
                cv.wait(&mut g);
            }
        });

        let (a, b, cv) = &*shared;
        {
            let _g = b.lock();
            flag.store(true, Relaxed);
        }
        cv.notify_one();
        if !a_done.load(Relaxed) {
            // The notification may have gone to A's waiter: B's waiter
            // needs one of its own once it waits.
            on_a.join().unwrap();
            let _g = b.lock();
            cv.notify_one();
        } else {
            on_a.join().unwrap();
        }
        on_b.join().unwrap();
        assert!(!a.locked() && !b.locked());
        assert_eq!(cv.waiters(), 0);
    });
}
