//! Loom models: Barrier.
//!
//! A party left parked would be reported by loom as a deadlock, so every
//! model also checks "nobody is left waiting".

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use pysync::{Barrier, Error};
use std::time::Duration;

/// A timeout that never runs out in real time; under loom it may fire at
/// any interleaving.
const T: Duration = Duration::from_secs(3600);

/// A timed wait (in a model without `reset`) whose `Err` must come from a
/// broken barrier: when it returns `Err`, `broken()` is already true.
fn timed_wait(b: &Barrier, who: &str) -> Result<usize, Error> {
    let r = b.wait_timeout(T);
    if r.is_err() {
        assert!(b.broken(), "{who} got {r:?} but the barrier is not broken");
    }
    r
}

/// Two parties, two rounds on the same barrier: each round's indices are 0
/// and 1.
#[test]
fn two_parties_two_rounds_unique_indices() {
    crate::support::model(|| {
        let b = Arc::new(Barrier::new(2));
        let b2 = Arc::clone(&b);
        let t = thread::spawn(move || [b2.wait().unwrap(), b2.wait().unwrap()]);
        let mine = [b.wait().unwrap(), b.wait().unwrap()];
        let theirs = t.join().unwrap();
        assert_eq!(mine[0] + theirs[0], 1);
        assert_eq!(mine[1] + theirs[1], 1);
        assert_eq!(b.n_waiting(), 0);
        assert!(!b.broken());
    });
}

/// Two parties wait while a third thread aborts: the round either
/// completed (both Ok) or failed (both Err); nobody stays parked.
#[test]
fn wait_vs_abort() {
    crate::support::model(|| {
        let b = Arc::new(Barrier::new(2));
        let (b1, b2) = (Arc::clone(&b), Arc::clone(&b));
        let t1 = thread::spawn(move || b1.wait());
        let t2 = thread::spawn(move || b2.abort());
        let mine = b.wait();
        let theirs = t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(mine.is_ok(), theirs.is_ok(), "{mine:?} {theirs:?}");
        if let (Ok(a), Ok(c)) = (mine, theirs) {
            assert_eq!(a + c, 1);
        }
        assert!(b.broken());
    });
}

/// A timed wait races the last arrival: either the round completed for
/// both, or the timeout broke it for both.
#[test]
fn wait_timeout_vs_last_arrival() {
    crate::support::model(|| {
        let b = Arc::new(Barrier::new(2));
        let b1 = Arc::clone(&b);
        let t = thread::spawn(move || b1.wait_timeout(T));
        let mine = b.wait();
        let theirs = t.join().unwrap();
        match (mine, theirs) {
            (Ok(a), Ok(c)) => {
                assert_eq!(a + c, 1);
                assert!(!b.broken());
            }
            (Err(Error::BrokenBarrier), Err(Error::BrokenBarrier)) => assert!(b.broken()),
            other => panic!("mixed results {other:?}"),
        }
    });
}

/// Both parties time out while the last one runs the action (stragglers):
/// results still agree and the action ran exactly once when they are Ok.
#[test]
fn wait_timeout_vs_action() {
    crate::support::model(|| {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = Arc::clone(&runs);
        let b = Arc::new(Barrier::with_action(2, move || {
            r.fetch_add(1, Ordering::Relaxed);
        }));
        let b1 = Arc::clone(&b);
        let t = thread::spawn(move || b1.wait_timeout(T));
        let mine = b.wait_timeout(T);
        let theirs = t.join().unwrap();
        match (mine, theirs) {
            (Ok(a), Ok(c)) => {
                assert_eq!(a + c, 1);
                assert_eq!(runs.load(Ordering::Relaxed), 1);
            }
            (Err(_), Err(_)) => assert_eq!(runs.load(Ordering::Relaxed), 0),
            other => panic!("mixed results {other:?}"),
        }
    });
}

/// A party waits while another thread resets: it gets Err (reset) or is
/// released by the next arrival; afterwards a round works.
#[test]
fn wait_vs_reset_then_round() {
    crate::support::model(|| {
        let b = Arc::new(Barrier::new(2));
        let b1 = Arc::clone(&b);
        let t = thread::spawn(move || {
            // Retry after a reset until the round completes.
            loop {
                if let Ok(i) = b1.wait() {
                    return i;
                }
            }
        });
        b.reset();
        let mine = b.wait().unwrap();
        assert_eq!(mine + t.join().unwrap(), 1);
        assert!(!b.broken());
    });
}

/// A timed party (maybe a straggler of the action), the last arrival and an
/// `abort` race: the two parties agree, the barrier ends broken, and nobody
/// stays parked.
#[test]
fn straggler_vs_abort() {
    crate::support::model(|| {
        let b = Arc::new(Barrier::with_action(2, || {}));
        let (b1, b2) = (Arc::clone(&b), Arc::clone(&b));
        let t1 = thread::spawn(move || b1.wait_timeout(T));
        let t2 = thread::spawn(move || b2.abort());
        let mine = b.wait();
        let theirs = t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(mine.is_ok(), theirs.is_ok(), "{mine:?} {theirs:?}");
        assert!(b.broken());
        assert_eq!(b.n_waiting(), 0);
    });
}

/// Two timed parties of a barrier with an action race a `reset`: the
/// parties agree (a reset while they wait or while the action runs fails the
/// round for both), and nobody stays parked.
#[test]
fn timed_parties_vs_reset() {
    crate::support::model(|| {
        let b = Arc::new(Barrier::with_action(2, || {}));
        let (b1, b2) = (Arc::clone(&b), Arc::clone(&b));
        let t1 = thread::spawn(move || b1.wait_timeout(T));
        let t2 = thread::spawn(move || b2.reset());
        let mine = b.wait_timeout(T);
        let theirs = t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(mine.is_ok(), theirs.is_ok(), "{mine:?} {theirs:?}");
        assert_eq!(b.n_waiting(), 0);
    });
}

/// Three timed threads on a 2-party barrier with an action: the third may
/// arrive while the action runs and time out there (its deadline covers the
/// wait for the previous round). Whatever happens, the completed round's two
/// parties both get `Ok`, a timed-out arrival breaks only the round it meant
/// to join (the barrier is broken as soon as its wait returns `Err`), and
/// nobody stays parked.
#[test]
fn arrival_times_out_while_the_action_runs() {
    crate::support::model(|| {
        let b = Arc::new(Barrier::with_action(2, || {}));
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let b = Arc::clone(&b);
                thread::spawn(move || timed_wait(&b, "a spawned thread"))
            })
            .collect();
        let mine = timed_wait(&b, "the main thread");
        let mut results: Vec<_> = ts.into_iter().map(|t| t.join().unwrap()).collect();
        results.push(mine);
        let oks = results.iter().filter(|r| r.is_ok()).count();
        assert!(
            oks == 0 || oks == 2,
            "a round completes for both its parties: {results:?}"
        );
        let mut indices: Vec<usize> = results.iter().filter_map(|r| r.ok()).collect();
        indices.sort_unstable();
        assert!(indices.is_empty() || indices == [0, 1], "{results:?}");
        assert_eq!(b.n_waiting(), 0);
    });
}

/// A timed `wait` from inside the barrier's own action returns (its
/// deadline covers the wait for the running round) instead of deadlocking,
/// the round that runs the action still completes, and the next one starts
/// broken.
#[test]
fn timed_wait_from_inside_the_action_returns() {
    crate::support::model(|| {
        use std::sync::{Arc as StdArc, Mutex as StdMutex, OnceLock};
        let slot: StdArc<OnceLock<StdArc<Barrier>>> = StdArc::new(OnceLock::new());
        let inner = StdArc::new(StdMutex::new(None));
        let (s2, i2) = (StdArc::clone(&slot), StdArc::clone(&inner));
        let b = StdArc::new(Barrier::with_action(1, move || {
            let me = s2.get().expect("set before the first wait");
            *i2.lock().unwrap() = Some(me.wait_timeout(T));
        }));
        slot.set(StdArc::clone(&b)).ok().unwrap();
        assert_eq!(b.wait(), Ok(0));
        let inner = inner.lock().unwrap().take().expect("the action ran");
        assert_eq!(inner, Err(pysync::Error::BrokenBarrier));
        assert!(b.broken());
    });
}

/// Trust issue, item 2 (the exact schedule): a 2-party barrier with an
/// action; A (timed) parks, B arrives last and runs the action, A times out
/// while it runs (a straggler); C (timed, started by the action, so it
/// always arrives after round 1 is full) waits for round 1 to drain; the
/// round ends and the next one starts, and C's deadline fires before C is
/// woken. C can never complete a round (nobody else comes), so it always
/// gets `Err`; when it does, the barrier is broken at that moment already:
/// its timeout broke the round it was waiting to join (never an `Err` from a
/// barrier that is not broken; nobody resets here). Needs 5 preemptions.
#[test]
fn late_arrival_timeout_breaks_the_round_it_waited_for() {
    crate::support::deep_model(|| {
        use std::sync::{Arc as StdArc, Mutex as StdMutex, OnceLock};
        type Handle = thread::JoinHandle<Result<usize, Error>>;
        let slot: StdArc<OnceLock<StdArc<Barrier>>> = StdArc::new(OnceLock::new());
        let late: StdArc<StdMutex<Option<Handle>>> = StdArc::new(StdMutex::new(None));
        let (s2, l2) = (StdArc::clone(&slot), StdArc::clone(&late));
        let b = StdArc::new(Barrier::with_action(2, move || {
            let me = StdArc::clone(s2.get().expect("set before the first wait"));
            let c = thread::spawn(move || timed_wait(&me, "C (late arrival)"));
            *l2.lock().unwrap() = Some(c);
        }));
        slot.set(StdArc::clone(&b)).ok().unwrap();
        let b1 = StdArc::clone(&b);
        let a = thread::spawn(move || timed_wait(&b1, "a party of round 1"));
        let mine = timed_wait(&b, "a party of round 1");
        let theirs = a.join().unwrap();
        assert_eq!(mine.is_ok(), theirs.is_ok(), "{mine:?} {theirs:?}");
        if let Some(c) = late.lock().unwrap().take() {
            assert_eq!(c.join().unwrap(), Err(Error::BrokenBarrier));
            assert!(b.broken());
        }
        assert_eq!(b.n_waiting(), 0);
    });
}

/// Siblings of the schedule above: the same straggler and late arrival,
/// and a party of round 1 that, once its wait returned, aborts or resets
/// (while the straggler may still be collecting its result and the late
/// arrival waiting). The parties of round 1 agree, the late arrival gets
/// `Err`, nobody stays parked, no owed party is lost (after a `reset`, a
/// full round of two untimed parties completes: a barrier left draining for
/// ever would hang it), and after an `abort` the barrier ends broken. Deep
/// (5 preemptions).
#[test]
fn late_arrival_and_straggler_vs_abort_or_reset() {
    for abort in [true, false] {
        crate::support::deep_model(move || {
            use std::sync::{Arc as StdArc, Mutex as StdMutex, OnceLock};
            type Handle = thread::JoinHandle<Result<usize, Error>>;
            let slot: StdArc<OnceLock<StdArc<Barrier>>> = StdArc::new(OnceLock::new());
            // (the late arrival, whether it was started: only in round 1)
            let late: StdArc<StdMutex<(Option<Handle>, bool)>> =
                StdArc::new(StdMutex::new((None, false)));
            let (s2, l2) = (StdArc::clone(&slot), StdArc::clone(&late));
            let b = StdArc::new(Barrier::with_action(2, move || {
                let mut late = l2.lock().unwrap();
                if !late.1 {
                    let me = StdArc::clone(s2.get().expect("set before the first wait"));
                    *late = (Some(thread::spawn(move || me.wait_timeout(T))), true);
                }
            }));
            slot.set(StdArc::clone(&b)).ok().unwrap();
            let b1 = StdArc::clone(&b);
            let a = thread::spawn(move || b1.wait_timeout(T));
            let mine = b.wait_timeout(T);
            if abort {
                b.abort();
            } else {
                b.reset();
            }
            let theirs = a.join().unwrap();
            assert_eq!(mine.is_ok(), theirs.is_ok(), "{mine:?} {theirs:?}");
            // (and no late arrival in the check round below)
            let c = std::mem::replace(&mut *late.lock().unwrap(), (None, true)).0;
            if let Some(c) = c {
                assert_eq!(
                    c.join().unwrap(),
                    Err(Error::BrokenBarrier),
                    "the late arrival"
                );
            }
            assert_eq!(b.n_waiting(), 0);
            if abort {
                assert!(b.broken());
            } else {
                b.reset();
                let b1 = StdArc::clone(&b);
                let t = thread::spawn(move || b1.wait());
                let mine = b.wait().unwrap();
                assert_eq!(mine + t.join().unwrap().unwrap(), 1);
            }
        });
    }
}
