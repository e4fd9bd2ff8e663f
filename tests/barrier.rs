//! Barrier: Python's `threading.Barrier` semantics (after CPython's
//! `BarrierTests` in `Lib/test/lock_tests.py`, written anew).

mod common;

use pysync::{Barrier, Error};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Generous: only ever an upper bound for things that should be instant.
const LONG: Duration = Duration::from_secs(20);

/// Runs `f(i)` on `n` threads and returns their results in thread order.
fn run<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    thread::scope(|s| {
        let hs: Vec<_> = (0..n)
            .map(|i| {
                s.spawn({
                    let f = &f;
                    move || f(i)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn rounds_with_unique_indices() {
    let _watchdog = common::watchdog();
    const N: usize = 5;
    const ROUNDS: usize = 20;
    let b = Barrier::new(N);
    let per_thread = run(N, |_| {
        (0..ROUNDS).map(|_| b.wait().unwrap()).collect::<Vec<_>>()
    });
    for round in 0..ROUNDS {
        let mut idx: Vec<usize> = per_thread.iter().map(|v| v[round]).collect();
        idx.sort_unstable();
        assert_eq!(idx, (0..N).collect::<Vec<_>>(), "round {round}");
    }
    assert_eq!(b.n_waiting(), 0);
    assert!(!b.broken());
}

#[test]
fn nobody_passes_before_everyone_arrived() {
    let _watchdog = common::watchdog();
    // Python's test_barrier: phase counters show nobody runs ahead.
    const N: usize = 4;
    const ROUNDS: usize = 10;
    let b = Barrier::new(N);
    let arrived = AtomicUsize::new(0);
    run(N, |_| {
        for round in 0..ROUNDS {
            arrived.fetch_add(1, Ordering::SeqCst);
            b.wait().unwrap();
            assert!(arrived.load(Ordering::SeqCst) >= (round + 1) * N);
            b.wait().unwrap();
        }
    });
    assert_eq!(arrived.load(Ordering::SeqCst), N * ROUNDS);
}

#[test]
fn last_arrival_gets_the_last_index() {
    let _watchdog = common::watchdog();
    let b = Barrier::new(2);
    thread::scope(|s| {
        let first = s.spawn(|| b.wait());
        common::wait_for("1 waiting", || b.n_waiting() == 1);
        assert_eq!(b.wait(), Ok(1));
        assert_eq!(first.join().unwrap(), Ok(0));
    });
}

#[test]
fn action_runs_once_per_round_before_release() {
    let _watchdog = common::watchdog();
    const N: usize = 3;
    const ROUNDS: usize = 10;
    let runs = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&runs);
    let b = Barrier::with_action(N, move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    run(N, |_| {
        for round in 0..ROUNDS {
            b.wait().unwrap();
            // Released only after this round's action ran.
            assert!(runs.load(Ordering::SeqCst) > round);
        }
    });
    assert_eq!(runs.load(Ordering::SeqCst), ROUNDS);
}

#[test]
fn action_runs_in_the_last_arrival() {
    let _watchdog = common::watchdog();
    let who = Arc::new(Mutex::new(None));
    let w = Arc::clone(&who);
    let b = Barrier::with_action(2, move || {
        *w.lock().unwrap() = Some(thread::current().id());
    });
    thread::scope(|s| {
        let first = s.spawn(|| b.wait());
        common::wait_for("1 waiting", || b.n_waiting() == 1);
        assert_eq!(b.wait(), Ok(1));
        assert_eq!(first.join().unwrap(), Ok(0));
    });
    assert_eq!(*who.lock().unwrap(), Some(thread::current().id()));
}

#[test]
fn abort_breaks_waiters_and_later_waits() {
    let _watchdog = common::watchdog();
    let b = Barrier::new(3);
    thread::scope(|s| {
        let hs: Vec<_> = (0..2).map(|_| s.spawn(|| b.wait())).collect();
        common::wait_for("2 waiting", || b.n_waiting() == 2);
        b.abort();
        for h in hs {
            assert_eq!(h.join().unwrap(), Err(Error::BrokenBarrier));
        }
    });
    assert!(b.broken());
    assert_eq!(b.n_waiting(), 0);
    // Stays broken, for every form of wait.
    assert_eq!(b.wait(), Err(Error::BrokenBarrier));
    assert_eq!(
        b.wait_timeout(Duration::from_secs(1)),
        Err(Error::BrokenBarrier)
    );
    assert_eq!(
        b.wait_until(Instant::now() + LONG),
        Err(Error::BrokenBarrier)
    );
    assert!(b.broken());
}

#[test]
fn reset_while_waiting_then_usable() {
    let _watchdog = common::watchdog();
    const N: usize = 3;
    let b = Barrier::new(N);
    thread::scope(|s| {
        let hs: Vec<_> = (0..N - 1).map(|_| s.spawn(|| b.wait())).collect();
        common::wait_for("N - 1 parties waiting", || b.n_waiting() == N - 1);
        b.reset();
        for h in hs {
            assert_eq!(h.join().unwrap(), Err(Error::BrokenBarrier));
        }
    });
    assert!(!b.broken());
    assert_eq!(b.n_waiting(), 0);
    // A full round works afterwards.
    let mut idx = run(N, |_| b.wait().unwrap());
    idx.sort_unstable();
    assert_eq!(idx, [0, 1, 2]);
}

#[test]
fn reset_repairs_an_aborted_barrier() {
    let _watchdog = common::watchdog();
    // Python's test_reset / test_abort_and_reset: abort, reset, then rounds.
    const N: usize = 3;
    let b = Barrier::new(N);
    b.abort();
    assert!(b.broken());
    b.reset();
    assert!(!b.broken());
    for _ in 0..3 {
        let mut idx = run(N, |_| b.wait().unwrap());
        idx.sort_unstable();
        assert_eq!(idx, [0, 1, 2]);
    }
}

#[test]
fn abort_from_one_thread_mid_rounds() {
    let _watchdog = common::watchdog();
    // Python's test_abort: one thread aborts in the second round; everyone
    // leaves with an error, nobody hangs.
    const N: usize = 4;
    let b = Barrier::new(N);
    let errors = AtomicUsize::new(0);
    run(N, |i| {
        b.wait().unwrap();
        if i == 0 {
            b.abort();
            errors.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if b.wait() == Err(Error::BrokenBarrier) {
            errors.fetch_add(1, Ordering::SeqCst);
        }
    });
    assert_eq!(errors.load(Ordering::SeqCst), N);
    assert!(b.broken());
}

#[test]
fn timeout_breaks_the_barrier() {
    let _watchdog = common::watchdog();
    let b = Barrier::new(3);
    let start = Instant::now();
    thread::scope(|s| {
        let other = s.spawn(|| b.wait());
        common::wait_for("1 waiting", || b.n_waiting() == 1);
        assert_eq!(
            b.wait_timeout(Duration::from_millis(20)),
            Err(Error::BrokenBarrier)
        );
        // The untimed waiter is released with an error too.
        assert_eq!(other.join().unwrap(), Err(Error::BrokenBarrier));
    });
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert!(b.broken());
    b.reset();
    assert!(!b.broken());
}

#[test]
fn wait_until_past_deadline_breaks_unless_last() {
    let _watchdog = common::watchdog();
    let b = Barrier::new(2);
    assert_eq!(b.wait_until(Instant::now()), Err(Error::BrokenBarrier));
    assert!(b.broken());
    b.reset();
    // The last arrival never waits, so an expired deadline does not matter.
    thread::scope(|s| {
        let first = s.spawn(|| b.wait());
        common::wait_for("1 waiting", || b.n_waiting() == 1);
        assert_eq!(b.wait_timeout(Duration::ZERO), Ok(1));
        assert_eq!(first.join().unwrap(), Ok(0));
    });
}

#[test]
fn default_timeout_applies_to_wait() {
    let _watchdog = common::watchdog();
    let b = Barrier::with_timeout(2, Duration::from_millis(20));
    assert_eq!(b.default_timeout(), Some(Duration::from_millis(20)));
    let start = Instant::now();
    assert_eq!(b.wait(), Err(Error::BrokenBarrier));
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert!(b.broken());
    // An explicit timeout overrides it.
    b.reset();
    thread::scope(|s| {
        let first = s.spawn(|| b.wait_timeout(LONG));
        common::wait_for("1 waiting", || b.n_waiting() == 1);
        thread::sleep(Duration::from_millis(40)); // longer than the default
        assert_eq!(b.wait(), Ok(1));
        assert_eq!(first.join().unwrap(), Ok(0));
    });
}

#[test]
fn huge_timeouts_mean_forever() {
    let _watchdog = common::watchdog();
    let b = Barrier::with_timeout(2, Duration::MAX);
    assert_eq!(b.default_timeout(), Some(Duration::MAX));
    let idx = run(2, |i| {
        if i == 0 {
            b.wait()
        } else {
            b.wait_timeout(Duration::MAX)
        }
    });
    let mut idx: Vec<usize> = idx.into_iter().map(Result::unwrap).collect();
    idx.sort_unstable();
    assert_eq!(idx, [0, 1]);
}

#[test]
fn panicking_action_breaks_the_barrier() {
    let _watchdog = common::watchdog();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let b = Barrier::with_action(3, move || {
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("action failed");
        }
    });
    thread::scope(|s| {
        let hs: Vec<_> = (0..2).map(|_| s.spawn(|| b.wait())).collect();
        common::wait_for("2 waiting", || b.n_waiting() == 2);
        // This thread is last and runs the action: the panic continues here.
        let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.wait()));
        let payload = p.expect_err("the action's panic is resumed");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"action failed"));
        for h in hs {
            assert_eq!(h.join().unwrap(), Err(Error::BrokenBarrier));
        }
    });
    assert!(b.broken());
    assert_eq!(b.wait(), Err(Error::BrokenBarrier));
    b.reset();
    let idx = run(3, |_| b.wait());
    assert!(idx.iter().all(Result::is_ok), "{idx:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// `n_waiting` counts the parties that wait; the indices are the arrival
/// order, "the first to arrive gets 0, the last `parties - 1`"
/// (barrier/mod.rs).
#[test]
fn n_waiting_counts_parked_parties() {
    let _watchdog = common::watchdog();
    let b = Barrier::new(4);
    thread::scope(|s| {
        let mut hs = Vec::new();
        for k in 1..=3 {
            hs.push(s.spawn(|| b.wait()));
            common::wait_for("k parties waiting", || b.n_waiting() == k);
        }
        assert_eq!(b.wait(), Ok(3));
        for (k, h) in hs.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), Ok(k), "arrival {k}");
        }
    });
    assert_eq!(b.n_waiting(), 0);
}

#[test]
fn one_party_never_blocks() {
    let _watchdog = common::watchdog();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&runs);
    let b = Barrier::with_action(1, move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    for _ in 0..100 {
        assert_eq!(b.wait(), Ok(0));
        assert_eq!(b.wait_timeout(Duration::ZERO), Ok(0));
        assert_eq!(b.wait_until(Instant::now()), Ok(0));
    }
    assert_eq!(runs.load(Ordering::SeqCst), 300);
    b.abort();
    assert_eq!(b.wait(), Err(Error::BrokenBarrier));
    b.reset();
    assert_eq!(b.wait(), Ok(0));
}

#[test]
fn zero_parties_is_an_error() {
    let _watchdog = common::watchdog();
    assert_eq!(
        Barrier::try_new(0).unwrap_err(),
        Error::InvalidArgument("parties must be >= 1")
    );
    assert_eq!(
        Barrier::try_new(0).unwrap_err().to_string(),
        "parties must be >= 1"
    );
    let p = std::panic::catch_unwind(|| Barrier::new(0));
    let msg = p.expect_err("new(0) panics");
    assert_eq!(
        msg.downcast_ref::<&str>(),
        Some(&"Barrier needs at least 1 party")
    );
    assert!(std::panic::catch_unwind(|| Barrier::with_timeout(0, LONG)).is_err());
}

#[test]
fn debug_shows_state_without_blocking() {
    let _watchdog = common::watchdog();
    let b = Barrier::new(2);
    assert_eq!(
        format!("{b:?}"),
        "Barrier { parties: 2, n_waiting: 0, broken: false }"
    );
    thread::scope(|s| {
        let h = s.spawn(|| b.wait());
        common::wait_for("1 waiting", || b.n_waiting() == 1);
        assert_eq!(
            format!("{b:?}"),
            "Barrier { parties: 2, n_waiting: 1, broken: false }"
        );
        b.abort();
        assert_eq!(h.join().unwrap(), Err(Error::BrokenBarrier));
    });
    assert_eq!(
        format!("{b:?}"),
        "Barrier { parties: 2, n_waiting: 0, broken: true }"
    );
}

#[test]
fn timeouts_racing_completion_never_mix_results() {
    let _watchdog = common::watchdog();
    // Every party uses a short timeout; in each round either all get Ok
    // with unique indices (it completed) or all get Err (one timed out and
    // broke it). After a break the threads reset and resynchronise.
    const N: usize = 3;
    const ROUNDS: usize = 200;
    let b = Barrier::new(N);
    let sync = std::sync::Barrier::new(N);
    let results = run(N, |i| {
        let mut out = Vec::with_capacity(ROUNDS);
        for round in 0..ROUNDS {
            sync.wait();
            let d = Duration::from_micros(((i * 7 + round * 13) % 50) as u64);
            out.push(b.wait_timeout(d));
            sync.wait();
            if i == 0 {
                b.reset();
            }
        }
        out
    });
    for round in 0..ROUNDS {
        let r: Vec<_> = results.iter().map(|v| v[round]).collect();
        let oks: Vec<usize> = r.iter().filter_map(|x| x.ok()).collect();
        assert!(
            oks.is_empty() || oks.len() == N,
            "round {round}: mixed {r:?}"
        );
        if oks.len() == N {
            let mut s = oks.clone();
            s.sort_unstable();
            assert_eq!(s, [0, 1, 2], "round {round}");
        }
    }
}

/// The calling thread's kernel id (`/proc/thread-self`), for
/// [`in_untimed_futex_wait`]. `None` under Miri (no `/proc`).
fn kernel_tid() -> Option<String> {
    if cfg!(miri) {
        return None;
    }
    let link = std::fs::read_link("/proc/thread-self").expect("Linux /proc/thread-self");
    Some(link.file_name().unwrap().to_string_lossy().into_owned())
}

/// Whether thread `tid` sleeps in a futex wait *without* a timeout (the
/// system call in progress is futex and its timeout argument is NULL).
/// A party whose timed park timed out while the action ran re-parks like
/// that (a straggler), while a party still in its timed park has a timeout
/// argument. `true` where that cannot be observed (no tid under Miri, or
/// no readable `syscall` file): then only the deadline is waited for.
fn in_untimed_futex_wait(tid: Option<&str>) -> bool {
    let Some(tid) = tid else { return true };
    let syscall = match std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")) {
        Ok(s) if !s.is_empty() => s,
        _ => return true,
    };
    // "nr arg1 arg2 arg3 arg4 ...": futex(uaddr, op, val, timeout, ...).
    let fields: Vec<&str> = syscall.split_whitespace().collect();
    const FUTEX: &[&str] = if cfg!(target_arch = "x86_64") {
        &["202"]
    } else if cfg!(target_arch = "x86") {
        &["240", "422"]
    } else if cfg!(target_arch = "aarch64") {
        &["98"]
    } else {
        &[]
    };
    fields.len() > 4 && FUTEX.contains(&fields[0]) && fields[4] == "0x0"
}

#[test]
fn timeout_while_action_runs_gets_the_round_result() {
    // A party's timeout fires while the action is running: the round is
    // complete (Python waits for the lock, then returns normally), so the
    // party gets its index and the barrier stays whole. The schedule is
    // built from states, not luck: the first party parks (timed), the
    // second arrives last, and its action waits until the first party's
    // deadline has passed and its timeout has been processed (it re-parked
    // without a timeout, as a straggler waiting for the round's result).
    // Only if the machine is so slow that the first party times out before
    // the second even arrives does the round break for both; then it is
    // tried again with twice the timeout (a test fails only on wrong
    // results, never on a slow machine).
    let _watchdog = common::watchdog();
    let mut timeout = Duration::from_millis(20);
    loop {
        // The first party's thread and deadline; taken by the first
        // round's action (later rounds' actions do nothing).
        type FirstParty = Option<(Option<String>, Instant)>;
        let first_party: Arc<Mutex<FirstParty>> = Arc::default();
        let seen = Arc::clone(&first_party);
        let b = Barrier::with_action(2, move || {
            if let Some((tid, deadline)) = seen.lock().unwrap().take() {
                common::wait_for("the first party's timeout fired during the action", || {
                    Instant::now() >= deadline && in_untimed_futex_wait(tid.as_deref())
                });
            }
        });
        let (mine, theirs) = thread::scope(|s| {
            let first = s.spawn(|| {
                let deadline = Instant::now() + timeout;
                *first_party.lock().unwrap() = Some((kernel_tid(), deadline));
                b.wait_until(deadline)
            });
            // (Or already timed out, on a very slow machine: then it broke
            // the round, and this wait fails too.)
            common::wait_for("the first party waits", || b.n_waiting() == 1 || b.broken());
            let mine = b.wait();
            (mine, first.join().unwrap())
        });
        match (mine, theirs) {
            (Ok(1), Ok(0)) => {
                assert!(!b.broken());
                for _ in 0..3 {
                    let r = run(2, |_| b.wait());
                    assert!(r.iter().all(Result::is_ok), "{r:?}");
                }
                return;
            }
            // It timed out before the second party arrived (a slow machine).
            (Err(Error::BrokenBarrier), Err(Error::BrokenBarrier)) => {
                assert!(b.broken());
                timeout = (timeout * 2).min(common::PROMPT / 4);
            }
            other => panic!("mixed results {other:?}"),
        }
    }
}

#[test]
fn arrivals_during_the_action_join_the_next_round() {
    let _watchdog = common::watchdog();
    const N: usize = 2;
    let gate = Arc::new(std::sync::Barrier::new(2));
    let g = Arc::clone(&gate);
    let round = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&round);
    let b = Barrier::with_action(N, move || {
        if r.fetch_add(1, Ordering::SeqCst) == 0 {
            g.wait(); // tell the test the action runs
            thread::sleep(Duration::from_millis(50));
        }
    });
    thread::scope(|s| {
        let first: Vec<_> = (0..N).map(|_| s.spawn(|| b.wait())).collect();
        gate.wait();
        // The action of round 1 runs: these arrive for round 2.
        let second: Vec<_> = (0..N).map(|_| s.spawn(|| b.wait())).collect();
        for h in first.into_iter().chain(second) {
            assert!(h.join().unwrap().is_ok());
        }
    });
    assert_eq!(round.load(Ordering::SeqCst), 2);
}

#[test]
fn arrival_timing_out_during_the_action_breaks_the_barrier_at_once() {
    // A third thread arrives while round 1's action runs and times out
    // waiting for round 2: it gets `Err`, and from that moment the barrier
    // is broken (round 2 cannot complete without it): `broken()` says so
    // and a later `wait` fails at once. Round 1 still completes for its two
    // parties, and `reset` repairs the barrier.
    let _watchdog = common::watchdog();
    let running = Arc::new(std::sync::Barrier::new(2));
    let finish = Arc::new(std::sync::Barrier::new(2));
    let first_round = Arc::new(AtomicUsize::new(0));
    let (r, f, n) = (
        Arc::clone(&running),
        Arc::clone(&finish),
        Arc::clone(&first_round),
    );
    let b = Barrier::with_action(2, move || {
        if n.fetch_add(1, Ordering::SeqCst) == 0 {
            r.wait(); // the action runs
            f.wait(); // until the test lets it finish
        }
    });
    thread::scope(|s| {
        let round1: Vec<_> = (0..2).map(|_| s.spawn(|| b.wait())).collect();
        running.wait();
        let late = b.wait_timeout(Duration::from_millis(10));
        let broken_at_once = b.broken();
        // (Only if broken: a wait on a whole barrier would block here.)
        let later = broken_at_once.then(|| b.wait());
        finish.wait();
        let mut indices: Vec<usize> = round1
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect();
        indices.sort_unstable();
        assert_eq!(indices, [0, 1], "round 1 completed");
        assert_eq!(late, Err(Error::BrokenBarrier));
        assert!(
            broken_at_once,
            "a wait returned Err, but the barrier is not broken"
        );
        assert_eq!(
            later,
            Some(Err(Error::BrokenBarrier)),
            "no waiting for round 2"
        );
    });
    assert!(b.broken());
    b.reset();
    let r = run(2, |_| b.wait());
    assert!(r.iter().all(Result::is_ok), "{r:?}");
}

#[test]
fn abort_during_the_action_fails_the_round() {
    let _watchdog = common::watchdog();
    let gate = Arc::new(std::sync::Barrier::new(2));
    let release = Arc::new(std::sync::Barrier::new(2));
    let (g, r) = (Arc::clone(&gate), Arc::clone(&release));
    let b = Barrier::with_action(2, move || {
        g.wait();
        r.wait();
    });
    thread::scope(|s| {
        let hs: Vec<_> = (0..2).map(|_| s.spawn(|| b.wait())).collect();
        gate.wait();
        b.abort();
        release.wait();
        for h in hs {
            assert_eq!(h.join().unwrap(), Err(Error::BrokenBarrier));
        }
    });
    assert!(b.broken());
}

#[test]
fn reset_during_the_action_fails_the_round_then_works() {
    let _watchdog = common::watchdog();
    let gate = Arc::new(std::sync::Barrier::new(2));
    let release = Arc::new(std::sync::Barrier::new(2));
    let (g, r) = (Arc::clone(&gate), Arc::clone(&release));
    let first_round = Arc::new(AtomicUsize::new(0));
    let f = Arc::clone(&first_round);
    let b = Barrier::with_action(2, move || {
        if f.fetch_add(1, Ordering::SeqCst) == 0 {
            g.wait();
            r.wait();
        }
    });
    thread::scope(|s| {
        let hs: Vec<_> = (0..2).map(|_| s.spawn(|| b.wait())).collect();
        gate.wait();
        b.reset();
        release.wait();
        for h in hs {
            assert_eq!(h.join().unwrap(), Err(Error::BrokenBarrier));
        }
    });
    assert!(!b.broken());
    let r = run(2, |_| b.wait());
    assert!(r.iter().all(Result::is_ok), "{r:?}");
}

#[test]
fn many_threads_many_rounds_with_action_and_aborts_never_hang() {
    let _watchdog = common::watchdog();
    // Stress: a short default timeout makes some rounds break; whoever sees
    // an error resets. Everyone must finish (no lost wake-up).
    const N: usize = 4;
    let actions = Arc::new(AtomicUsize::new(0));
    let a = Arc::clone(&actions);
    let b = Barrier::with_action_and_timeout(
        N,
        move || {
            a.fetch_add(1, Ordering::Relaxed);
        },
        Duration::from_millis(2),
    );
    let oks = AtomicUsize::new(0);
    run(N, |_| {
        for _ in 0..200 {
            match b.wait() {
                Ok(_) => {
                    oks.fetch_add(1, Ordering::Relaxed);
                }
                Err(Error::BrokenBarrier) => b.reset(),
                Err(e) => panic!("unexpected {e}"),
            }
        }
    });
    // Each completed round gives N successes and one action run.
    assert_eq!(
        oks.load(Ordering::Relaxed),
        N * actions.load(Ordering::Relaxed)
    );
}

/// Lock-step rounds (the parked party usually still spins when the last one
/// arrives): unique indices every round, never a spurious break, and a timed
/// party whose partner never comes still times out close to its deadline.
#[test]
fn lock_step_rounds_with_timeouts_stay_exact() {
    let _watchdog = common::watchdog();
    const ROUNDS: usize = 2000;
    let b = Barrier::new(2);
    let seen = run(2, |_| {
        (0..ROUNDS)
            .map(|_| b.wait_timeout(LONG).expect("never broken"))
            .collect::<Vec<_>>()
    });
    for (r, (&a, &b)) in seen[0].iter().zip(&seen[1]).enumerate() {
        let mut pair = [a, b];
        pair.sort_unstable();
        assert_eq!(pair, [0, 1], "round {r}");
    }
    let start = Instant::now();
    assert_eq!(
        b.wait_timeout(Duration::from_millis(20)),
        Err(Error::BrokenBarrier)
    );
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(20) && took < LONG, "{took:?}");
    assert!(b.broken());
}

/// `with_scoped_action`: an action borrowing from the scope (not
/// `'static`, not boxed) runs once per round in `thread::scope`; a panic in
/// it breaks the barrier like an owned action's.
#[test]
fn scoped_action_borrows_and_breaks_on_panic() {
    let _watchdog = common::watchdog();
    let rounds = Mutex::new(Vec::new());
    let b = Barrier::with_scoped_action(3, || {
        let mut r = rounds.lock().unwrap();
        let n = r.len();
        r.push(n);
    });
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..4 {
                    b.wait().unwrap();
                }
            });
        }
    });
    assert_eq!(rounds.into_inner().unwrap(), [0, 1, 2, 3]);

    let b = Barrier::with_scoped_action(1, || panic!("action failed"));
    assert_eq!(common::panic_message(|| b.wait()), "action failed");
    assert!(b.broken());
    assert_eq!(b.wait(), Err(Error::BrokenBarrier));
}
