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

/// Two parties, two rounds on the same barrier: each round's indices are 0
/// and 1.
#[test]
fn two_parties_two_rounds_unique_indices() {
    loom::model(|| {
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
    loom::model(|| {
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
    loom::model(|| {
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
    loom::model(|| {
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
    loom::model(|| {
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
    loom::model(|| {
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
    loom::model(|| {
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
