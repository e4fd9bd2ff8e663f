//! Loom models: Condition.
//!
//! Data "protected by the condition's lock" lives in loom atomics accessed
//! with Relaxed while the lock is held: the lock provides the ordering, so a
//! wrong lock shows up as a failed assertion.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use loom::thread;
use pysync::{Condition, Lock};
use std::time::Duration;

/// A timed waiter (the racer) races notify_one; an untimed waiter (the
/// patient one, waiting for a token) may be queued beside it. One token is
/// handed over with one notification; if the racer's wait reports that it
/// got the notification, the notifier sends the patient waiter another one.
/// So a swallowed notification (the racer was taken off the queue but
/// reports a timeout) leaves the patient waiter asleep forever beside an
/// unclaimed token: a loom deadlock.
#[test]
fn notify_vs_timeout_loses_nothing() {
    crate::support::model(|| {
        let cond = Arc::new(Condition::with_lock(Lock::new()));
        let tokens = Arc::new(AtomicUsize::new(0));

        let (c, t) = (Arc::clone(&cond), Arc::clone(&tokens));
        let racer = thread::spawn(move || {
            let _g = c.lock();
            let notified = t.load(Relaxed) == 0 && c.wait_timeout(Duration::from_secs(1)).unwrap();
            assert!(c.lock_ref().locked(), "wait returns holding the lock");
            notified
        });
        let (c, t) = (Arc::clone(&cond), Arc::clone(&tokens));
        let patient = thread::spawn(move || {
            let _g = c.lock();
            while t.load(Relaxed) == 0 {
                c.wait().unwrap();
            }
            t.fetch_sub(1, Relaxed);
        });

        {
            let _g = cond.lock();
            tokens.fetch_add(1, Relaxed);
            cond.notify_one().unwrap();
        }
        if racer.join().unwrap() {
            // The racer got the notification: the patient waiter gets another.
            let _g = cond.lock();
            cond.notify_one().unwrap();
        }
        patient.join().unwrap();
        assert_eq!(tokens.load(Relaxed), 0);
        assert!(!cond.lock_ref().locked());
    });
}

/// notify_all requeues the waiters onto the lock: both get the lock in
/// turn, one at a time, and nobody is stranded on the lock's queue.
#[test]
fn notify_all_requeue() {
    crate::support::model(|| {
        let cond = Arc::new(Condition::with_lock(Lock::new()));
        let go = Arc::new(AtomicBool::new(false));
        let in_cs = Arc::new(AtomicBool::new(false));

        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (c, g, i) = (Arc::clone(&cond), Arc::clone(&go), Arc::clone(&in_cs));
                thread::spawn(move || {
                    let _g = c.lock();
                    while !g.load(Relaxed) {
                        c.wait().unwrap();
                    }
                    assert!(!i.swap(true, Relaxed), "two holders at once");
                    i.store(false, Relaxed);
                })
            })
            .collect();

        {
            let _g = cond.lock();
            go.store(true, Relaxed);
            cond.notify_all().unwrap();
        }
        for w in waiters {
            w.join().unwrap();
        }
        assert!(!cond.lock_ref().locked());
    });
}

/// A wait on an RLock-bound condition entered at depth 2 releases both
/// levels (the notifier can take the lock) and restores depth 2.
#[test]
fn rlock_wait_restores_depth() {
    crate::support::model(|| {
        let cond = Arc::new(Condition::new());
        let flag = Arc::new(AtomicBool::new(false));

        let (c, f) = (Arc::clone(&cond), Arc::clone(&flag));
        let waiter = thread::spawn(move || {
            c.acquire();
            c.acquire();
            while !f.load(Relaxed) {
                c.wait().unwrap();
            }
            assert_eq!(c.lock_ref().recursion_count(), 2);
            c.release().unwrap();
            assert!(c.lock_ref().is_owned());
            c.release().unwrap();
            assert!(!c.lock_ref().is_owned());
        });

        {
            let _g = cond.lock();
            flag.store(true, Relaxed);
            cond.notify_one().unwrap();
        }
        waiter.join().unwrap();
        assert!(!cond.lock_ref().locked());
    });
}

/// The classic handshake: set a flag under the lock and notify; the waiter
/// sees the flag (no lost wake-up between its check and its park), through
/// both `wait_for` and a timed `wait_timeout` that may time out anywhere.
#[test]
fn handshake_with_flag() {
    crate::support::model(|| {
        let cond = Arc::new(Condition::with_lock(Lock::new()));
        let flag = Arc::new(AtomicBool::new(false));

        let (c, f) = (Arc::clone(&cond), Arc::clone(&flag));
        let waiter = thread::spawn(move || {
            let _g = c.lock();
            c.wait_for(|| f.load(Relaxed)).unwrap();
            assert!(c.lock_ref().locked());
        });
        let (c, f) = (Arc::clone(&cond), Arc::clone(&flag));
        let timed = thread::spawn(move || {
            let _g = c.lock();
            // Notified implies the flag is set; holds the lock either way.
            // (One timed wait, not a loop: under loom it may time out at
            // any point, while the deadline is real time.)
            if !f.load(Relaxed) {
                let notified = c.wait_timeout(Duration::from_secs(1)).unwrap();
                assert!(c.lock_ref().locked());
                assert!(!notified || f.load(Relaxed));
            }
        });

        {
            let _g = cond.lock();
            flag.store(true, Relaxed);
            cond.notify_all().unwrap();
        }
        waiter.join().unwrap();
        timed.join().unwrap();
    });
}
