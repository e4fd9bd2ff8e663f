//! Loom models of `pysync::RLock`.

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use pysync::{Error, RLock};

struct Guarded {
    lock: RLock,
    data: UnsafeCell<usize>,
}

// SAFETY: `data` is only touched by the RLock's owner (checked by loom).
unsafe impl Sync for Guarded {}

#[test]
fn reentry_and_owner_checks() {
    crate::support::model(|| {
        let g = Arc::new(Guarded {
            lock: RLock::new(),
            data: UnsafeCell::new(0),
        });
        let t = {
            let g = g.clone();
            thread::spawn(move || {
                // Not the owner (yet): release fails, whatever the main
                // thread is doing.
                assert_eq!(g.lock.release(), Err(Error::NotOwned));
                g.lock.acquire();
                g.lock.acquire();
                assert_eq!(g.lock.recursion_count(), 2);
                // SAFETY: we own the RLock.
                g.data.with_mut(|d| unsafe { *d += 1 });
                g.lock.release().unwrap();
                assert!(g.lock.is_owned());
                g.lock.release().unwrap();
                assert!(!g.lock.is_owned());
            })
        };
        g.lock.acquire();
        assert!(g.lock.try_acquire());
        // SAFETY: we own the RLock.
        g.data.with_mut(|d| unsafe { *d += 1 });
        g.lock.release().unwrap();
        g.lock.release().unwrap();
        assert_eq!(g.lock.release(), Err(Error::NotOwned));
        t.join().unwrap();
        // SAFETY: the other thread was joined.
        assert_eq!(g.data.with(|d| unsafe { *d }), 2);
        assert!(!g.lock.locked());
    });
}

#[test]
fn release_save_restore_across_threads() {
    crate::support::model(|| {
        let r = Arc::new(RLock::new());
        r.acquire();
        r.acquire();
        let t = {
            let r = r.clone();
            thread::spawn(move || {
                r.acquire();
                assert_eq!(r.recursion_count(), 1);
                r.release().unwrap();
            })
        };
        let saved = r.release_save().unwrap();
        r.acquire_restore(saved);
        assert_eq!(r.recursion_count(), 2);
        r.release().unwrap();
        r.release().unwrap();
        t.join().unwrap();
        assert!(!r.locked());
    });
}

/// The destruction promise: the thread that acquires the RLock after the
/// owner's last release, and is its last user, may free it at once; the
/// release must not touch it afterwards (the owner's bookkeeping happens
/// before the inner lock's release).
#[test]
fn next_owner_may_free_the_rlock() {
    crate::support::deep_model(|| {
        let r = crate::lock::Freeable::new(RLock::new());
        r.get().acquire();
        r.get().acquire();
        let waiter = thread::spawn(move || {
            let l = r.get();
            l.acquire();
            assert_eq!(l.recursion_count(), 1);
            l.release().unwrap();
            // SAFETY: the main thread's releases were the only other use.
            unsafe { r.free() };
        });
        r.get().release().unwrap();
        r.get().release().unwrap();
        waiter.join().unwrap();
        // SAFETY: freed by the waiter; every thread is joined.
        unsafe { r.dealloc() };
    });
}
