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
                assert!(
                    r.timed_out() || f.load(Relaxed),
                    "notified implies the flag"
                );
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

/// A condvar is bound to a lock only while threads wait with it. A
/// notifier reads the binding (lock A, whose only waiter is about to time
/// out); that waiter leaves and frees A at once (as a binding or an `Arc`
/// would); a waiter on lock B queues, rebinding the condvar. The notifier
/// must not touch A (loom panics on any access to a freed primitive): it
/// finds the condvar rebound under the queue lock and notifies B's waiter
/// instead.
#[test]
fn notify_follows_a_rebinding_and_never_touches_a_freed_lock() {
    crate::support::model(|| {
        let cv = Arc::new(Condvar::new());
        let a = crate::lock::Freeable::new(Lock::new());
        let b = Arc::new(Lock::new());
        let a_gone = Arc::new(AtomicBool::new(false));

        let (c, gone) = (Arc::clone(&cv), Arc::clone(&a_gone));
        let on_a = thread::spawn(move || {
            let mut g = a.get().lock();
            let _ = c.wait_timeout(&mut g, Duration::from_secs(1));
            drop(g);
            // SAFETY: this thread is the lock's only user.
            unsafe { a.free() };
            gone.store(true, Relaxed);
        });
        let (c, l, gone) = (Arc::clone(&cv), Arc::clone(&b), Arc::clone(&a_gone));
        let on_b = thread::spawn(move || {
            while !gone.load(Relaxed) {
                thread::yield_now();
            }
            let mut g = l.lock();
            let _ = c.wait_timeout(&mut g, Duration::from_secs(1));
        });
        cv.notify_one();
        on_a.join().unwrap();
        on_b.join().unwrap();
        // SAFETY: freed by `on_a`, which is joined.
        unsafe { a.dealloc() };
        assert_eq!(cv.waiters(), 0);
        assert!(!b.locked());
    });
}
