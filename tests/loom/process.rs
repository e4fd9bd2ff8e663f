//! Loom models of `pysync::process`'s state machines: threads stand in for
//! processes (each with its own token, `ModelCx`), and a process's death
//! (SIGKILL: everything it holds stays as it is) is a step of the model.
//! The futex seam is modelled as address-keyed queues; a death tells every
//! blocked waiter to re-check liveness, which is what a slice's end does
//! for real. A lost wake-up or a death nobody notices is a loom deadlock.
//!
//! Each death delivers exactly **one** check to each waiter (a waiter that
//! starts to wait after the death gets it at its first wait), so a model in
//! which a waiter must notice a death also bounds the detection: the first
//! check after the death suffices, which is the documented "at most one
//! slice after the death". A check wasted on a stale snapshot would be
//! caught up a slice later for real, and deadlocks here (that is how
//! `barrier_process_dying_inside_the_action_breaks_the_round` found one).

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use pysync::process::raw::{
    CondLock, Cx, Got, ModelCx, Procs, RawBarrier, RawCond, RawLock, RawSem,
};
use std::time::{Duration, Instant};

fn deadline() -> Option<Instant> {
    // Under loom the value is never read: a timed wait times out where loom
    // schedules it.
    Some(Instant::now() + Duration::from_secs(1))
}

struct Guarded {
    lock: RawLock,
    data: UnsafeCell<usize>,
}

// SAFETY: `data` is only touched under `lock` (what the models check).
unsafe impl Sync for Guarded {}
// SAFETY: as above.
unsafe impl Send for Guarded {}

impl Guarded {
    fn new() -> Arc<Guarded> {
        Arc::new(Guarded {
            lock: RawLock::new(),
            data: UnsafeCell::new(0),
        })
    }
    fn bump(&self) {
        // SAFETY: the caller holds `lock`; loom checks the claim.
        self.data.with_mut(|d| unsafe { *d += 1 });
    }
}

#[test]
fn lock_excludes_between_processes() {
    crate::support::model(|| {
        let procs = Procs::new();
        let g = Guarded::new();
        let t = {
            let (g, cx) = (g.clone(), ModelCx::new(&procs, 1));
            thread::spawn(move || {
                assert!(g.lock.acquire(&cx, None).ok());
                g.bump();
                g.lock.release(cx.me()).unwrap();
            })
        };
        let cx = ModelCx::new(&procs, 2);
        assert!(g.lock.acquire(&cx, None).ok());
        g.bump();
        g.lock.release(cx.me()).unwrap();
        t.join().unwrap();
        assert!(!g.lock.locked());
    });
}

#[test]
fn holder_dies_waiter_recovers_with_owner_died() {
    // The holder takes the lock and dies holding it; a waiter blocked with
    // no timeout must get it, told the owner died (never a deadlock, never
    // two holders).
    crate::support::model(|| {
        let procs = Procs::new();
        let g = Guarded::new();
        let holder = {
            let (g, cx) = (g.clone(), ModelCx::new(&procs, 1));
            thread::spawn(move || {
                assert!(g.lock.acquire(&cx, None).ok());
                g.bump();
                cx.die();
            })
        };
        let cx = ModelCx::new(&procs, 2);
        let got = g.lock.acquire(&cx, None);
        assert!(got.ok());
        g.bump();
        if got == Got::Recovered {
            assert!(g.lock.owner_died());
        }
        g.lock.release(cx.me()).unwrap();
        if got == Got::Yes {
            // We went first: the holder then took it and died with it.
            holder.join().unwrap();
            assert_eq!(g.lock.acquire(&cx, None), Got::Recovered);
            g.lock.release(cx.me()).unwrap();
        } else {
            holder.join().unwrap();
        }
        assert!(!g.lock.locked());
    });
}

#[test]
fn holder_dies_while_a_timed_waiter_and_a_blocked_one_wait() {
    // One waiter may time out at any point; the other, untimed, must end up
    // with the lock whichever recovers it.
    crate::support::model(|| {
        let procs = Procs::new();
        let lock = Arc::new(RawLock::new());
        let cx1 = ModelCx::new(&procs, 1);
        assert!(lock.acquire(&cx1, None).ok());
        let timed = {
            let (lock, cx) = (lock.clone(), ModelCx::new(&procs, 2));
            thread::spawn(move || {
                let got = lock.acquire(&cx, deadline());
                if got.ok() {
                    lock.release(cx.me()).unwrap();
                }
            })
        };
        let blocked = {
            let (lock, cx) = (lock.clone(), ModelCx::new(&procs, 3));
            thread::spawn(move || {
                assert!(lock.acquire(&cx, None).ok());
                lock.release(cx.me()).unwrap();
            })
        };
        cx1.die();
        timed.join().unwrap();
        blocked.join().unwrap();
        assert!(!lock.locked());
    });
}

/// Two waiters sleep on the word while process 1 holds the lock; its
/// release wakes one, which takes the lock (the word changes under the
/// other sleeper without a wake-up) and dies holding it. The other must
/// recover the lock at its first check after the death: a check against
/// the word it last slept on (naming the live process 1) does nothing, and
/// for real would be caught up only a slice later (here: a deadlock).
#[test]
fn lock_waiter_asleep_on_an_older_owner_recovers_from_the_next_one() {
    crate::support::model(|| {
        let procs = Procs::new();
        let lock = Arc::new(RawLock::new());
        let first = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let cx1 = ModelCx::new(&procs, 1);
        assert!(lock.acquire(&cx1, None).ok());
        let waiters: Vec<_> = [2, 3]
            .into_iter()
            .map(|slot| {
                let (lock, first) = (lock.clone(), first.clone());
                let cx = ModelCx::new(&procs, slot);
                thread::spawn(move || {
                    let got = lock.acquire(&cx, None);
                    assert!(got.ok());
                    if !first.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        // The first to get it dies holding it.
                        cx.die();
                        return None;
                    }
                    lock.release(cx.me()).unwrap();
                    Some(got)
                })
            })
            .collect();
        lock.release(cx1.me()).unwrap();
        let gots: Vec<_> = waiters.into_iter().map(|t| t.join().unwrap()).collect();
        // The second recovered the first's lock, and released it.
        assert!(gots.contains(&Some(Got::Recovered)), "{gots:?}");
        assert!(!lock.locked());
    });
}

#[test]
fn release_races_a_timed_waiter_without_losing_the_wakeup() {
    crate::support::model(|| {
        let procs = Procs::new();
        let lock = Arc::new(RawLock::new());
        let cx1 = ModelCx::new(&procs, 1);
        assert!(lock.acquire(&cx1, None).ok());
        let timed = {
            let (lock, cx) = (lock.clone(), ModelCx::new(&procs, 2));
            thread::spawn(move || {
                if lock.acquire(&cx, deadline()).ok() {
                    lock.release(cx.me()).unwrap();
                }
            })
        };
        let blocked = {
            let (lock, cx) = (lock.clone(), ModelCx::new(&procs, 3));
            thread::spawn(move || {
                assert!(lock.acquire(&cx, None).ok());
                lock.release(cx.me()).unwrap();
            })
        };
        lock.release(cx1.me()).unwrap();
        timed.join().unwrap();
        blocked.join().unwrap();
        assert!(!lock.locked());
    });
}

#[test]
fn semaphore_permit_of_a_dead_holder_comes_back() {
    crate::support::model(|| {
        let procs = Procs::new();
        let sem = Arc::new(RawSem::new(1, pysync::process::raw::MAX_PERMITS));
        let holder = {
            let (sem, cx) = (sem.clone(), ModelCx::new(&procs, 1));
            thread::spawn(move || sem.access_then_die(&cx))
        };
        let cx = ModelCx::new(&procs, 2);
        // Blocks until the permit is free, or returned from the dead holder.
        assert!(sem.acquire(&cx, None, false));
        sem.release(&cx, 1).unwrap();
        holder.join().unwrap();
        // Whatever the order, the permit is back once reclaimed.
        sem.reclaim(&cx);
        assert_eq!(sem.available(), 1);
    });
}

/// Process 1 has `cells` waiters queued on a semaphore with no permit, and
/// dies while process 2 releases one permit (the release may grant the
/// oldest dead cell, before or after the death, or a live waiter's);
/// process 3 acquires, `timed` (it may give up) or not. Returns whether it
/// got the permit; checks that, once the dead cells are reclaimed, the
/// one permit is its or back in the semaphore, never lost.
fn dead_waiters_then_release_and_acquire(cells: usize, timed: bool) -> bool {
    let procs = Procs::new();
    let sem = Arc::new(RawSem::new(0, pysync::process::raw::MAX_PERMITS));
    let dying = ModelCx::new(&procs, 1);
    for _ in 0..cells {
        sem.queue_for_model(&dying);
    }
    let death = thread::spawn(move || dying.die());
    let releaser = {
        let (sem, cx) = (sem.clone(), ModelCx::new(&procs, 2));
        thread::spawn(move || sem.release(&cx, 1).unwrap())
    };
    let cx = ModelCx::new(&procs, 3);
    let got = sem.acquire(&cx, if timed { deadline() } else { None }, false);
    death.join().unwrap();
    releaser.join().unwrap();
    sem.reclaim(&cx);
    assert_eq!(sem.available() + u32::from(got), 1, "got: {got}");
    got
}

/// A waiter killed while queued: the permit reaches the blocked acquirer
/// however the death and the release interleave; one left with a dead
/// process's grant would hang the model.
#[test]
fn semaphore_permit_granted_to_a_dead_waiter_comes_back() {
    crate::support::model(|| assert!(dead_waiters_then_release_and_acquire(1, false)));
}

/// The same with a timed acquirer, which may give up: the permit is never
/// lost.
#[test]
fn semaphore_timed_acquire_beside_a_dead_waiter_loses_no_permit() {
    crate::support::model(|| {
        dead_waiters_then_release_and_acquire(1, true);
    });
}

/// The queue is full of a killed process's cells (a pool killed while
/// they all waited). An acquirer that finds no free cell waits for space:
/// its checks must reclaim the dead cells (nobody else is left to), so it
/// gets the permit. One that ignored its checks would wait for space for
/// ever (here: a deadlock).
#[test]
fn semaphore_acquirer_waiting_for_space_behind_dead_waiters_gets_the_permit() {
    crate::support::model(|| {
        assert!(dead_waiters_then_release_and_acquire(
            pysync::process::raw::QCAP,
            false
        ));
    });
}

/// The same with no release: the one permit is held through a guard by
/// the process whose waiters fill the queue, and it dies. The acquirer
/// waiting for space gets the dead holder's permit back at its check.
#[test]
fn semaphore_acquirer_waiting_for_space_gets_a_dead_holders_permit() {
    crate::support::model(|| {
        let procs = Procs::new();
        let sem = Arc::new(RawSem::new(1, pysync::process::raw::MAX_PERMITS));
        let dying = ModelCx::new(&procs, 1);
        assert!(sem.acquire(&dying, None, true));
        for _ in 0..pysync::process::raw::QCAP {
            sem.queue_for_model(&dying);
        }
        let death = thread::spawn(move || dying.die());
        let cx = ModelCx::new(&procs, 2);
        assert!(sem.acquire(&cx, None, true));
        assert_eq!(sem.held_by(cx.me()), 1);
        death.join().unwrap();
        assert_eq!(sem.available(), 0);
        assert_eq!(sem.held_by(1), 0);
    });
}

#[test]
fn semaphore_release_races_a_timeout_without_losing_a_permit() {
    crate::support::model(|| {
        let procs = Procs::new();
        let sem = Arc::new(RawSem::new(0, pysync::process::raw::MAX_PERMITS));
        let waiter = {
            let (sem, cx) = (sem.clone(), ModelCx::new(&procs, 1));
            thread::spawn(move || sem.acquire(&cx, deadline(), false))
        };
        let cx = ModelCx::new(&procs, 2);
        sem.release(&cx, 1).unwrap();
        let got = waiter.join().unwrap();
        assert_eq!(sem.available(), if got { 0 } else { 1 });
    });
}

/// The condition's user lock, for the models: a `RawLock` held by one
/// modelled process.
struct UserLock<'a> {
    lock: &'a RawLock,
    cx: &'a ModelCx,
}

impl CondLock for UserLock<'_> {
    type Saved = ();
    fn is_held(&self) -> bool {
        self.lock.holder() == self.cx.me()
    }
    fn release_save(&self) -> Option<()> {
        self.lock.release(self.cx.me()).ok()
    }
    fn acquire_restore(&self, (): ()) {
        let _ = self.lock.acquire(self.cx, None);
    }
}

/// Process `cx`, holding `lock`, waits on `cond` until notified or
/// `deadline`; whether it was notified. It holds the lock again on return.
fn wait_holding(lock: &RawLock, cond: &RawCond, cx: &ModelCx, deadline: Option<Instant>) -> bool {
    cond.wait(cx, &UserLock { lock, cx }, deadline).unwrap()
}

#[test]
fn condition_waiter_dying_around_notify_does_not_swallow_it() {
    // A queues first and dies (before or after the notify: the model
    // decides); B queues second. notify(1) must reach B either way.
    crate::support::model(|| {
        let procs = Procs::new();
        let lock = Arc::new(RawLock::new());
        let cond = Arc::new(RawCond::new());
        let cx_a = ModelCx::new(&procs, 1);
        {
            assert!(lock.acquire(&cx_a, None).ok());
            cond.enqueue_then_die(
                &cx_a,
                &UserLock {
                    lock: &lock,
                    cx: &cx_a,
                },
            );
        }
        let (tx, rx) = loom::sync::mpsc::channel();
        let b = {
            let (lock, cond, cx) = (lock.clone(), cond.clone(), ModelCx::new(&procs, 2));
            thread::spawn(move || {
                assert!(lock.acquire(&cx, None).ok());
                tx.send(()).unwrap();
                let notified = wait_holding(&lock, &cond, &cx, None);
                lock.release(cx.me()).unwrap();
                notified
            })
        };
        let cx = ModelCx::new(&procs, 3);
        // B holds the lock; once we get it, B is queued behind A.
        rx.recv().unwrap();
        assert!(lock.acquire(&cx, None).ok());
        // A's cell is still queued, or B already reclaimed it (A is dead).
        assert!(cond.waiters() >= 1);
        cond.notify(&cx, 1);
        lock.release(cx.me()).unwrap();
        assert!(b.join().unwrap(), "B got the notification");
    });
}

/// Every cell is a killed process's (its waiters died queued); a live
/// waiter finds no cell and waits for space, then returns as if notified
/// (documented). Its check must free the dead cells, as a queued waiter's
/// does: nobody else is left to, and otherwise every later waiter would
/// find the queue full for ever (and a notify would go to a dead cell).
#[test]
fn condition_waiter_without_a_cell_frees_dead_waiters_cells() {
    crate::support::model(|| {
        let procs = Procs::new();
        let lock = Arc::new(RawLock::new());
        let cond = Arc::new(RawCond::new());
        let cx_a = ModelCx::new(&procs, 1);
        for _ in 0..pysync::process::raw::QCAP {
            assert!(lock.acquire(&cx_a, None).ok());
            let user = UserLock {
                lock: &lock,
                cx: &cx_a,
            };
            cond.enqueue_then_die(&cx_a, &user);
        }
        let notifier = {
            let (lock, cond, cx) = (lock.clone(), cond.clone(), ModelCx::new(&procs, 3));
            thread::spawn(move || {
                assert!(lock.acquire(&cx, None).ok());
                cond.notify(&cx, 1);
                lock.release(cx.me()).unwrap();
            })
        };
        let cx = ModelCx::new(&procs, 2);
        assert!(lock.acquire(&cx, None).ok());
        assert!(wait_holding(&lock, &cond, &cx, None), "a spurious wake-up");
        lock.release(cx.me()).unwrap();
        notifier.join().unwrap();
        assert_eq!(cond.waiters(), 0, "the dead cells were freed");
    });
}

/// A notified waiter's process dies before it holds the lock again (the
/// model decides where: before or after the notify, the notifier holding
/// the lock or not) while a second waiter sleeps on its cell: the second
/// must get the notification, passed on at its first check after the death.
#[test]
fn condition_notified_waiter_dying_before_relocking_passes_it_on() {
    crate::support::model(|| {
        let procs = Procs::new();
        let lock = Arc::new(RawLock::new());
        let cond = Arc::new(RawCond::new());
        let a = {
            let (lock, cond, cx) = (lock.clone(), cond.clone(), ModelCx::new(&procs, 1));
            thread::spawn(move || {
                assert!(lock.acquire(&cx, None).ok());
                let user = UserLock {
                    lock: &lock,
                    cx: &cx,
                };
                cond.enqueue_then_die(&cx, &user);
            })
        };
        let (tx, rx) = loom::sync::mpsc::channel();
        let b = {
            let (lock, cond, cx) = (lock.clone(), cond.clone(), ModelCx::new(&procs, 2));
            thread::spawn(move || {
                // Queue behind A.
                while cond.waiters() == 0 {
                    thread::yield_now();
                }
                assert!(lock.acquire(&cx, None).ok());
                tx.send(()).unwrap();
                let notified = wait_holding(&lock, &cond, &cx, None);
                lock.release(cx.me()).unwrap();
                notified
            })
        };
        let cx = ModelCx::new(&procs, 3);
        rx.recv().unwrap();
        assert!(lock.acquire(&cx, None).ok());
        // A's cell (first) goes first, unless B already freed it (A dead).
        cond.notify(&cx, 1);
        lock.release(cx.me()).unwrap();
        a.join().unwrap();
        assert!(b.join().unwrap(), "B got the notification");
        assert_eq!(cond.waiters(), 0);
        assert!(!lock.locked());
    });
}

/// The notifier's process dies right after `notify`, holding the lock: the
/// notified waiter, blocked re-taking it, recovers it (`owner_died`) and
/// returns notified.
#[test]
fn condition_notifier_dying_holding_the_lock_leaves_it_to_the_notified() {
    crate::support::model(|| {
        let procs = Procs::new();
        let lock = Arc::new(RawLock::new());
        let cond = Arc::new(RawCond::new());
        let (tx, rx) = loom::sync::mpsc::channel();
        let notifier = {
            let (lock, cond, cx) = (lock.clone(), cond.clone(), ModelCx::new(&procs, 1));
            thread::spawn(move || {
                rx.recv().unwrap();
                // Once we hold the lock, the waiter is queued.
                assert!(lock.acquire(&cx, None).ok());
                cond.notify(&cx, 1);
                cx.die();
            })
        };
        let cx = ModelCx::new(&procs, 2);
        assert!(lock.acquire(&cx, None).ok());
        tx.send(()).unwrap();
        assert!(wait_holding(&lock, &cond, &cx, None), "notified");
        assert_eq!(lock.holder(), cx.me());
        assert!(lock.owner_died());
        lock.release(cx.me()).unwrap();
        notifier.join().unwrap();
        assert_eq!(cond.waiters(), 0);
    });
}

#[test]
fn condition_notify_races_a_timeout() {
    crate::support::model(|| {
        let procs = Procs::new();
        let lock = Arc::new(RawLock::new());
        let cond = Arc::new(RawCond::new());
        let w = {
            let (lock, cond, cx) = (lock.clone(), cond.clone(), ModelCx::new(&procs, 1));
            thread::spawn(move || {
                assert!(lock.acquire(&cx, None).ok());
                let r = wait_holding(&lock, &cond, &cx, deadline());
                lock.release(cx.me()).unwrap();
                r
            })
        };
        let cx = ModelCx::new(&procs, 2);
        assert!(lock.acquire(&cx, None).ok());
        let queued = cond.waiters() == 1;
        cond.notify(&cx, 1);
        lock.release(cx.me()).unwrap();
        let notified = w.join().unwrap();
        // A waiter queued before the notify either took it or gave up
        // before it (then nobody was owed it): never both, never lost.
        if !queued {
            assert!(!notified);
        }
        assert_eq!(cond.waiters(), 0);
    });
}

#[test]
fn barrier_party_dying_inside_wait_breaks_the_round() {
    crate::support::model(|| {
        let procs = Procs::new();
        let b = Arc::new(RawBarrier::new(3, u64::MAX));
        let dying = {
            let (b, cx) = (b.clone(), ModelCx::new(&procs, 1));
            thread::spawn(move || b.arrive_then_die(&cx))
        };
        let other = {
            let (b, cx) = (b.clone(), ModelCx::new(&procs, 2));
            thread::spawn(move || b.wait(&cx, None, None))
        };
        dying.join().unwrap();
        // The dead party arrived and died: the live one, waiting without a
        // timeout, must not wait forever.
        let cx = ModelCx::new(&procs, 3);
        let r = other.join().unwrap();
        assert!(r.is_err(), "the round broke");
        assert!(b.broken());
        b.reset(&cx);
        assert!(!b.broken());
    });
}

/// The process running the action (the last arrival) dies inside it: the
/// party waiting without a timeout for the round's outcome must not wait
/// forever; the round breaks.
#[test]
fn barrier_process_dying_inside_the_action_breaks_the_round() {
    crate::support::model(|| {
        let procs = Procs::new();
        let b = Arc::new(RawBarrier::new(2, u64::MAX));
        let other = {
            let (b, cx) = (b.clone(), ModelCx::new(&procs, 2));
            thread::spawn(move || b.wait(&cx, None, None))
        };
        while b.n_waiting() == 0 {
            thread::yield_now();
        }
        let dying = {
            let (b, cx) = (b.clone(), ModelCx::new(&procs, 1));
            thread::spawn(move || b.act_then_die(&cx))
        };
        dying.join().unwrap();
        let r = other.join().unwrap();
        assert!(r.is_err(), "the round broke");
        assert!(b.broken());
        let cx = ModelCx::new(&procs, 3);
        b.reset(&cx);
        assert!(!b.broken());
    });
}

#[test]
fn event_waiter_woken_by_set_returns_true_even_if_cleared_at_once() {
    use pysync::process::raw::RawEvent;
    crate::support::model(|| {
        let ev = Arc::new(RawEvent::new());
        let w = {
            let ev = ev.clone();
            thread::spawn(move || ev.wait(None))
        };
        // Set and clear once the waiter waits (a waiter that starts after
        // a set-and-clear rightly blocks, as in Python).
        while !ev.has_waiters() {
            thread::yield_now();
        }
        ev.set();
        ev.clear();
        assert!(w.join().unwrap(), "a waiter never misses a set");
    });
}

#[test]
fn rlock_owner_dies_at_depth_two_next_owner_starts_at_one() {
    use pysync::process::raw::RawRLock;
    crate::support::model(|| {
        let procs = Procs::new();
        let rl = Arc::new(RawRLock::new());
        let holder = {
            let (rl, cx) = (rl.clone(), ModelCx::new(&procs, 1));
            thread::spawn(move || {
                assert!(rl.acquire(&cx, None, false).ok());
                assert!(rl.acquire(&cx, None, false).ok());
                cx.die();
            })
        };
        let cx = ModelCx::new(&procs, 2);
        let got = rl.acquire(&cx, None, false);
        assert!(got.ok());
        assert_eq!(rl.recursion_count(cx.me()), 1);
        rl.release(cx.me()).unwrap();
        holder.join().unwrap();
        if got == Got::Yes {
            // We went first; the holder then died at depth 2.
            assert_eq!(rl.acquire(&cx, None, false), Got::Recovered);
            assert_eq!(rl.recursion_count(cx.me()), 1);
            rl.release(cx.me()).unwrap();
        }
        assert!(!rl.raw().locked());
    });
}

/// The action's runner dies while a party of the *next* round waits for
/// the action to end (its process's other party, asleep in the round,
/// never counts its own process as dead): the next round's arrival must
/// break the round at its first check, or nobody would.
#[test]
fn barrier_arrival_waiting_for_a_dying_action_breaks_the_round() {
    crate::support::model(|| {
        let procs = Procs::new();
        let b = Arc::new(RawBarrier::new(2, u64::MAX));
        let cx1 = ModelCx::new(&procs, 1);
        let sibling = {
            let (b, cx) = (b.clone(), cx1.clone());
            thread::spawn(move || b.wait(&cx, None, None))
        };
        while b.n_waiting() == 0 {
            thread::yield_now();
        }
        b.act_then_die(&cx1);
        let next = {
            let (b, cx) = (b.clone(), ModelCx::new(&procs, 2));
            thread::spawn(move || b.wait(&cx, None, None))
        };
        assert!(next.join().unwrap().is_err(), "the round broke");
        assert!(sibling.join().unwrap().is_err());
        assert!(b.broken());
        let cx = ModelCx::new(&procs, 3);
        b.reset(&cx);
        assert!(!b.broken());
    });
}

/// An RLock's owner dies at depth one while a timed waiter (which may give
/// up anywhere) and an untimed one wait: the lock, at depth one, ends with
/// whoever recovers it, and is free at the end.
#[test]
fn rlock_owner_dying_beside_a_timed_waiter_is_recovered_at_depth_one() {
    use pysync::process::raw::RawRLock;
    crate::support::model(|| {
        let procs = Procs::new();
        let rl = Arc::new(RawRLock::new());
        let cx1 = ModelCx::new(&procs, 1);
        assert!(rl.acquire(&cx1, None, false).ok());
        let timed = {
            let (rl, cx) = (rl.clone(), ModelCx::new(&procs, 2));
            thread::spawn(move || {
                let got = rl.acquire(&cx, deadline(), false);
                if got.ok() {
                    assert_eq!(rl.recursion_count(cx.me()), 1);
                    rl.release(cx.me()).unwrap();
                }
                got
            })
        };
        let death = thread::spawn(move || cx1.die());
        let cx = ModelCx::new(&procs, 3);
        let got = rl.acquire(&cx, None, false);
        assert!(got.ok());
        assert_eq!(rl.recursion_count(cx.me()), 1);
        rl.release(cx.me()).unwrap();
        let theirs = timed.join().unwrap();
        death.join().unwrap();
        // Exactly one of us took it over from the dead owner.
        assert!(
            (got == Got::Recovered) != (theirs == Got::Recovered),
            "{got:?} {theirs:?}"
        );
        assert!(!rl.raw().locked());
    });
}

#[test]
fn barrier_timeout_never_breaks_a_completed_round() {
    crate::support::model(|| {
        let procs = Procs::new();
        let b = Arc::new(RawBarrier::new(2, u64::MAX));
        let timed = {
            let (b, cx) = (b.clone(), ModelCx::new(&procs, 1));
            thread::spawn(move || b.wait(&cx, deadline(), None))
        };
        let cx = ModelCx::new(&procs, 2);
        let mine = b.wait(&cx, deadline(), None);
        let theirs = timed.join().unwrap();
        // Both completed the round (indices 0 and 1), or it broke for both.
        match (mine, theirs) {
            (Ok(a), Ok(b)) => assert_eq!(a + b, 1),
            (Err(_), Err(_)) => {}
            other => panic!("one completed, one broke: {other:?}"),
        }
    });
}
