//! Loom models of `pysync::Lock`.

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use pysync::{Error, Lock};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

/// A primitive on the heap that its last user frees, as bindings do (a
/// Python object, an FFI handle, an `Arc` dropped by whoever acquired last).
/// "Freeing" drops it in place: under loom pysync's state words are checked
/// (`park::Watched`), so any later access by a call still in progress
/// panics, and the memory itself is released only at the end of the
/// execution, so that the late access is caught instead of being UB.
pub struct Freeable<T>(*mut T);

impl<T> Clone for Freeable<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Freeable<T> {}

// SAFETY: a pointer to a `Sync` primitive, shared by the model's threads;
// the models free it once, after every other user is done with it (that is
// what they check), and deallocate it after joining every thread.
unsafe impl<T: Sync> Send for Freeable<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Freeable<T> {}

impl<T> Freeable<T> {
    pub fn new(value: T) -> Self {
        Freeable(Box::into_raw(Box::new(value)))
    }

    pub fn get(&self) -> &T {
        // SAFETY: the allocation lives until `dealloc`, which the models call
        // last; after `free` a pysync primitive panics on any access.
        unsafe { &*self.0 }
    }

    /// Drops the value in place: the last user is done with it.
    ///
    /// # Safety
    /// Once per value, by its last user.
    pub unsafe fn free(self) {
        // SAFETY: the caller's contract.
        unsafe { core::ptr::drop_in_place(self.0) }
    }

    /// Releases the memory of a value already freed.
    ///
    /// # Safety
    /// After `free`, once every thread has been joined.
    pub unsafe fn dealloc(self) {
        // SAFETY: allocated by `Box::new` in `new`; `ManuallyDrop` has the
        // same layout and does not drop the value a second time.
        drop(unsafe { Box::from_raw(self.0.cast::<core::mem::ManuallyDrop<T>>()) });
    }
}

/// Shared data that loom checks for unsynchronised access.
struct Guarded {
    lock: Lock,
    data: UnsafeCell<usize>,
}

// SAFETY: `data` is only touched while `lock` is held (that is what the
// models check: loom reports any concurrent access).
unsafe impl Sync for Guarded {}

impl Guarded {
    fn new() -> Arc<Self> {
        Arc::new(Guarded {
            lock: Lock::new(),
            data: UnsafeCell::new(0),
        })
    }

    /// Increments `data`; the caller holds `lock`.
    fn bump(&self) {
        // SAFETY: the caller holds `lock`; loom checks this claim.
        self.data.with_mut(|d| unsafe { *d += 1 });
    }

    fn get(&self) -> usize {
        // SAFETY: called after all other threads were joined.
        self.data.with(|d| unsafe { *d })
    }
}

#[test]
fn mutual_exclusion_three_threads() {
    crate::support::model(|| {
        let g = Guarded::new();
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let g = g.clone();
                thread::spawn(move || {
                    g.lock.acquire();
                    g.bump();
                    g.lock.release().unwrap();
                })
            })
            .collect();
        g.lock.acquire();
        g.bump();
        g.lock.release().unwrap();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(g.get(), 3);
        assert!(!g.lock.locked());
    });
}

#[test]
fn release_races_timed_out_waiter() {
    // The main thread holds the lock; a timed waiter may time out at any
    // point relative to the release, and an untimed waiter must still be
    // woken (a stale or lost PARKED bit would leave it parked: a loom
    // deadlock).
    crate::support::model(|| {
        let g = Guarded::new();
        g.lock.acquire();
        let timed = {
            let g = g.clone();
            thread::spawn(move || {
                if g.lock.acquire_timeout(Duration::from_millis(1)) {
                    g.bump();
                    g.lock.release().unwrap();
                    true
                } else {
                    false
                }
            })
        };
        let untimed = {
            let g = g.clone();
            thread::spawn(move || {
                g.lock.acquire();
                g.bump();
                g.lock.release().unwrap();
            })
        };
        g.lock.release().unwrap();
        let got = timed.join().unwrap();
        untimed.join().unwrap();
        assert_eq!(g.get(), 1 + usize::from(got));
        assert!(!g.lock.locked(), "no waiter left behind on a free lock");
        assert!(g.lock.try_acquire());
    });
}

#[test]
fn timed_waiter_alone_never_leaves_parked_bit() {
    // A timed waiter that gives up must not leave the lock in a state where
    // the next release thinks someone waits and nobody does, or vice versa.
    crate::support::model(|| {
        let g = Guarded::new();
        g.lock.acquire();
        let t = {
            let g = g.clone();
            thread::spawn(move || {
                let ok = g.lock.acquire_timeout(Duration::from_millis(1));
                if ok {
                    g.lock.release().unwrap();
                }
                ok
            })
        };
        g.lock.release().unwrap();
        t.join().unwrap();
        assert!(!g.lock.locked());
        // Fast paths work again.
        assert!(g.lock.try_acquire());
        g.lock.release().unwrap();
    });
}

#[test]
fn fair_hand_off() {
    // release_fair hands the lock to a parked waiter: exclusion holds, the
    // waiter finishes, and the lock ends free whichever way it went.
    crate::support::model(|| {
        let g = Guarded::new();
        g.lock.acquire();
        let t = {
            let g = g.clone();
            thread::spawn(move || {
                g.lock.acquire();
                g.bump();
                g.lock.release().unwrap();
            })
        };
        g.lock.release_fair().unwrap();
        if g.lock.try_acquire() {
            g.bump();
            g.lock.release_fair().unwrap();
        }
        t.join().unwrap();
        assert!(g.get() >= 1);
        assert!(!g.lock.locked());
    });
}

#[test]
fn release_from_another_thread_wakes_waiter() {
    crate::support::model(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire();
        let releaser = {
            let lock = lock.clone();
            thread::spawn(move || lock.release().unwrap())
        };
        lock.acquire(); // blocks until the other thread releases
        releaser.join().unwrap();
        assert!(lock.locked());
        lock.release().unwrap();
        assert!(lock.release().is_err());
    });
}

#[test]
fn hand_off_after_release_races_a_barger() {
    // Two parked waiters and a main thread that releases and then tries to
    // barge back in. Under loom every other slow release finds the fairness
    // deadline due, so both the plain wake-up and the take-back-and-hand-off
    // path run, racing the barger's try_acquire.
    crate::support::model(|| {
        let g = Guarded::new();
        g.lock.acquire();
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let g = g.clone();
                thread::spawn(move || {
                    g.lock.acquire();
                    g.bump();
                    g.lock.release().unwrap();
                })
            })
            .collect();
        g.lock.release().unwrap();
        if g.lock.try_acquire() {
            g.bump();
            g.lock.release().unwrap();
        }
        for t in ts {
            t.join().unwrap();
        }
        assert!(g.get() >= 2);
        assert!(!g.lock.locked());
    });
}

/// Both answers of "is the longest waiter's fairness deadline due?" are
/// explored at the very first slow release: some execution hands the lock
/// off (the waiter wakes with the hand-off token, 1) and some wakes the
/// waiter to retry (token 0). Under the old "every other call is due"
/// stand-in for the clock, the first slow release was never a hand-off.
#[test]
fn first_slow_release_explores_hand_off_and_plain_wake() {
    let _ = pysync::loom_support::take_unpark_tokens_seen();
    crate::support::model(|| {
        let g = Guarded::new();
        g.lock.acquire();
        let t = {
            let g = g.clone();
            thread::spawn(move || {
                g.lock.acquire();
                g.bump();
                g.lock.release().unwrap();
            })
        };
        g.lock.release().unwrap();
        t.join().unwrap();
        assert_eq!(g.get(), 1);
        assert!(!g.lock.locked());
    });
    let seen = pysync::loom_support::take_unpark_tokens_seen();
    assert!(
        seen.contains(&1) && seen.contains(&0),
        "unpark tokens seen: {seen:?} (want both the plain wake-up 0 and the hand-off 1)"
    );
}

/// Time is the model's: a timed waiter whose real timeout is shorter than
/// the time it takes to get to its park still parks and races the release
/// in the model (some execution wakes it with a token). When the real clock
/// decided, the deadline had always passed by then, the waiter never
/// parked, and the "timeout races the wake-up" schedules were never
/// explored (and on a loaded machine a longer timeout flipped between runs:
/// "Is the model fully deterministic?").
#[test]
fn timed_waiter_parks_whatever_the_real_timeout() {
    let _ = pysync::loom_support::take_unpark_tokens_seen();
    crate::support::model(|| {
        let g = Guarded::new();
        g.lock.acquire();
        let t = {
            let g = g.clone();
            thread::spawn(move || {
                let got = g.lock.acquire_timeout(Duration::from_nanos(1));
                if got {
                    g.bump();
                    g.lock.release().unwrap();
                }
                got
            })
        };
        g.lock.release().unwrap();
        let got = t.join().unwrap();
        assert_eq!(g.get(), usize::from(got));
        assert!(!g.lock.locked());
    });
    let seen = pysync::loom_support::take_unpark_tokens_seen();
    assert!(
        !seen.is_empty(),
        "the timed waiter was never woken from a park: it never parked"
    );
}

/// The destruction promise: the thread that acquires the lock after a
/// release, and is its last user, may free it at once; the release must not
/// touch the lock after the store that let that thread in. The waiter is
/// parked or about to park, so the release takes its slow path (plain
/// wake-up, hand-off or, if the waiter is not queued yet, neither), and a
/// timed waiter may also time out and come back.
fn next_owner_frees_the_lock(release: fn(&Lock) -> Result<(), Error>, timed: bool) {
    crate::support::deep_model(move || {
        let lock = Freeable::new(Lock::new());
        lock.get().acquire();
        let waiter = thread::spawn(move || {
            let l = lock.get();
            if !(timed && l.acquire_timeout(LONG)) {
                l.acquire();
            }
            l.release().unwrap();
            // SAFETY: the main thread's release was the only other use.
            unsafe { lock.free() };
        });
        release(lock.get()).unwrap();
        waiter.join().unwrap();
        // SAFETY: freed by the waiter; every thread is joined.
        unsafe { lock.dealloc() };
    });
}

#[test]
fn next_owner_may_free_the_lock_after_release() {
    next_owner_frees_the_lock(Lock::release, false);
}

#[test]
fn next_owner_may_free_the_lock_after_release_fair() {
    next_owner_frees_the_lock(Lock::release_fair, false);
}

#[test]
fn timed_next_owner_may_free_the_lock_after_release() {
    next_owner_frees_the_lock(Lock::release, true);
}

/// Two threads release one acquisition while a third waits (so the
/// releases take the slow path, where one may hand the lock to the waiter):
/// every acquisition is released exactly once, the extra release is
/// `Err(ReleaseUnlocked)`, and nobody is left parked.
#[test]
fn racing_releases_of_one_acquisition_with_a_waiter() {
    crate::support::model(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire();
        let waiter = {
            let lock = lock.clone();
            thread::spawn(move || {
                lock.acquire();
                lock.release()
            })
        };
        let other = {
            let lock = lock.clone();
            thread::spawn(move || lock.release())
        };
        let mine = lock.release();
        let results = [mine, other.join().unwrap(), waiter.join().unwrap()];
        // Two acquisitions (ours and the waiter's), each released once.
        let oks = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(oks, 2, "{results:?}");
        assert!(results.contains(&Err(Error::ReleaseUnlocked)));
        assert!(!lock.locked());
        assert!(lock.try_acquire(), "no stale state left behind");
    });
}
