//! Misuse and odd inputs: `Barrier` (zero and huge party counts, timeouts,
//! aborts and resets, panicking actions, waits racing the action).

use super::*;

const BROKEN: &str = "barrier is broken";

#[test]
#[should_panic(expected = "Barrier needs at least 1 party")]
fn new_zero_parties_panics() {
    let _watchdog = common::watchdog();
    let _ = Barrier::new(0);
}

#[test]
fn every_constructor_rejects_zero_parties() {
    let _watchdog = common::watchdog();
    let want = "Barrier needs at least 1 party";
    assert_eq!(panic_message(|| Barrier::new(0)), want);
    assert_eq!(panic_message(|| Barrier::with_action(0, || {})), want);
    assert_eq!(
        panic_message(|| Barrier::with_timeout(0, Duration::ZERO)),
        want
    );
    assert_eq!(
        panic_message(|| Barrier::with_action_and_timeout(0, || {}, Duration::MAX)),
        want
    );
    let e = Barrier::try_new(0).unwrap_err();
    assert_eq!(e, Error::InvalidArgument("parties must be >= 1"));
    assert_eq!(e.to_string(), "parties must be >= 1");
}

#[test]
fn too_many_parties_panics_or_errs() {
    let _watchdog = common::watchdog();
    assert_eq!(
        panic_message(|| Barrier::new(usize::MAX)),
        "Barrier has too many parties"
    );
    let e = Barrier::try_new(usize::MAX).unwrap_err();
    assert_eq!(e, Error::InvalidArgument("too many parties"));
    assert_eq!(e.to_string(), "too many parties");
    assert!(Barrier::try_new(usize::MAX / 4 + 1).is_err());
    let b = Barrier::try_new(usize::MAX / 4).expect("the documented maximum");
    assert_eq!(b.parties(), usize::MAX / 4);
    assert_eq!(b.n_waiting(), 0);
}

#[test]
fn the_largest_barrier_breaks_and_resets_like_any_other() {
    let _watchdog = common::watchdog();
    let b = Barrier::try_new(usize::MAX / 4).unwrap();
    assert_err(b.wait_timeout(Duration::ZERO), Error::BrokenBarrier, BROKEN);
    assert!(b.broken());
    b.reset();
    assert!(!b.broken());
    thread::scope(|s| {
        let w = s.spawn(|| b.wait_timeout(Duration::MAX));
        common::wait_for("one party waiting", || b.n_waiting() == 1);
        assert_err(b.wait_until(past()), Error::BrokenBarrier, BROKEN);
        assert_err(w.join().unwrap(), Error::BrokenBarrier, BROKEN);
    });
}

#[test]
fn one_party_never_blocks_with_any_timeout() {
    let _watchdog = common::watchdog();
    let b = Barrier::new(1);
    prompt(|| {
        assert_eq!(b.wait(), Ok(0));
        assert_eq!(b.wait_timeout(Duration::ZERO), Ok(0));
        assert_eq!(b.wait_until(past()), Ok(0));
        for t in HUGE {
            assert_eq!(b.wait_timeout(t), Ok(0));
        }
        assert_eq!(b.wait_until(far_future()), Ok(0));
    });
    assert!(!b.broken());
    let z = Barrier::with_timeout(1, Duration::ZERO);
    assert_eq!(z.wait(), Ok(0), "the last party never times out");
    assert!(!z.broken());
}

#[test]
fn wait_timeout_zero_breaks_it_like_python() {
    let _watchdog = common::watchdog();
    let b = Barrier::new(2);
    assert_err(
        prompt(|| b.wait_timeout(Duration::ZERO)),
        Error::BrokenBarrier,
        BROKEN,
    );
    assert!(b.broken());
    assert_eq!(b.n_waiting(), 0);
    let b = Barrier::new(2);
    assert_err(
        prompt(|| b.wait_until(past())),
        Error::BrokenBarrier,
        BROKEN,
    );
    assert!(b.broken());
    let b = Barrier::with_timeout(2, Duration::ZERO);
    assert_err(prompt(|| b.wait()), Error::BrokenBarrier, BROKEN);
    assert!(b.broken());
}

#[test]
fn waits_on_a_broken_barrier_fail_at_once_even_forever_ones() {
    let _watchdog = common::watchdog();
    let b = Barrier::new(3);
    b.abort();
    b.abort(); // idempotent
    prompt(|| {
        assert_err(b.wait(), Error::BrokenBarrier, BROKEN);
        assert_err(b.wait_timeout(Duration::ZERO), Error::BrokenBarrier, BROKEN);
        for t in HUGE {
            assert_err(b.wait_timeout(t), Error::BrokenBarrier, BROKEN);
        }
        assert_err(b.wait_until(far_future()), Error::BrokenBarrier, BROKEN);
        assert_err(b.wait_until(past()), Error::BrokenBarrier, BROKEN);
    });
    assert!(b.broken());
    assert_eq!(b.n_waiting(), 0);
}

#[test]
fn reset_of_a_broken_barrier_makes_it_usable_again() {
    let _watchdog = common::watchdog();
    let b = Barrier::new(2);
    assert!(b.wait_timeout(Duration::ZERO).is_err());
    assert!(b.broken());
    b.reset();
    b.reset(); // idempotent
    assert!(!b.broken());
    for _ in 0..3 {
        let mut idx = thread::scope(|s| {
            let other = s.spawn(|| b.wait_timeout(Duration::MAX));
            let mine = b.wait_until(far_future());
            vec![mine.unwrap(), other.join().unwrap().unwrap()]
        });
        idx.sort();
        assert_eq!(idx, [0, 1]);
    }
}

#[test]
fn reset_on_a_fresh_barrier_is_a_no_op() {
    let _watchdog = common::watchdog();
    let b = Barrier::new(1);
    b.reset();
    assert!(!b.broken());
    assert_eq!(b.n_waiting(), 0);
    assert_eq!(b.wait(), Ok(0));
}

#[test]
#[cfg_attr(miri, ignore)]
fn huge_timeouts_wait_for_the_other_parties() {
    let _watchdog = common::watchdog();
    for t in HUGE {
        let b = Barrier::new(3);
        let mut idx = thread::scope(|s| {
            let x = s.spawn(|| b.wait_timeout(t));
            let y = s.spawn(|| b.wait_until(far_future()));
            common::wait_for("two parties waiting", || b.n_waiting() == 2);
            vec![
                b.wait().unwrap(),
                x.join().unwrap().unwrap(),
                y.join().unwrap().unwrap(),
            ]
        });
        idx.sort();
        assert_eq!(idx, [0, 1, 2]);
        assert!(!b.broken());
    }
    // A default timeout that means forever.
    let b = Barrier::with_timeout(2, Duration::from_secs(u64::MAX));
    assert_eq!(b.default_timeout(), Some(Duration::from_secs(u64::MAX)));
    thread::scope(|s| {
        // Parked, not broken by a deadline that overflowed to "now".
        let x = common::spawn_parked(s, || b.wait());
        common::wait_for("one party waiting", || b.n_waiting() == 1);
        assert!(b.wait().is_ok());
        assert!(x.join().unwrap().is_ok());
    });
}

#[test]
fn zero_timeout_arrival_breaks_a_forever_waiter() {
    let _watchdog = common::watchdog();
    let b = Barrier::new(3);
    thread::scope(|s| {
        let w = s.spawn(|| b.wait_timeout(Duration::MAX));
        common::wait_for("one party waiting", || b.n_waiting() == 1);
        assert_err(b.wait_timeout(Duration::ZERO), Error::BrokenBarrier, BROKEN);
        assert_err(w.join().unwrap(), Error::BrokenBarrier, BROKEN);
    });
    assert!(b.broken());
    assert_eq!(b.n_waiting(), 0);
}

#[test]
fn abort_and_reset_release_forever_waiters_with_err() {
    let _watchdog = common::watchdog();
    let b = Barrier::new(3);
    thread::scope(|s| {
        let w = s.spawn(|| b.wait());
        common::wait_for("one party waiting", || b.n_waiting() == 1);
        b.abort();
        assert_err(w.join().unwrap(), Error::BrokenBarrier, BROKEN);
    });
    assert!(b.broken());
    b.reset();
    thread::scope(|s| {
        let w = s.spawn(|| b.wait_until(far_future()));
        common::wait_for("one party waiting", || b.n_waiting() == 1);
        b.reset();
        assert_err(w.join().unwrap(), Error::BrokenBarrier, BROKEN);
    });
    assert!(!b.broken(), "reset leaves it usable, not broken");
    assert_eq!(b.n_waiting(), 0);
}

#[test]
fn panicking_action_breaks_the_round_and_reset_recovers() {
    let _watchdog = common::watchdog();
    let fail = Arc::new(AtomicBool::new(true));
    let f2 = Arc::clone(&fail);
    let b = Barrier::with_action(2, move || {
        if f2.load(SeqCst) {
            panic!("action boom");
        }
    });
    thread::scope(|s| {
        let w = s.spawn(|| b.wait_timeout(Duration::MAX));
        common::wait_for("one party waiting", || b.n_waiting() == 1);
        assert_eq!(panic_message(|| b.wait()), "action boom");
        assert_err(w.join().unwrap(), Error::BrokenBarrier, BROKEN);
    });
    assert!(b.broken());
    assert_err(b.wait(), Error::BrokenBarrier, BROKEN);
    fail.store(false, SeqCst);
    b.reset();
    thread::scope(|s| {
        let w = s.spawn(|| b.wait());
        assert!(b.wait().is_ok());
        assert!(w.join().unwrap().is_ok());
    });
}

#[test]
fn debug_and_accessors_never_block() {
    let _watchdog = common::watchdog();
    let b = Barrier::with_action_and_timeout(2, || {}, Duration::MAX);
    assert_eq!(b.default_timeout(), Some(Duration::MAX));
    thread::scope(|s| {
        let w = s.spawn(|| b.wait());
        common::wait_for("one party waiting", || b.n_waiting() == 1);
        let _ = format!("{b:?}");
        assert!(!b.broken());
        assert_eq!(b.parties(), 2);
        assert!(b.wait().is_ok());
        assert!(w.join().unwrap().is_ok());
    });
}

#[test]
fn zero_timeout_arriving_while_the_action_runs_returns_err_and_the_round_completes() {
    // A late arrival with a zero timeout while the action runs: it must
    // return `Err` (never hang) and the completed round stays completed.
    // (How long it may wait for the action: see the ignored test below.)
    let _watchdog = common::watchdog();
    let running = Arc::new(AtomicBool::new(false));
    let once = Arc::new(AtomicBool::new(true));
    let (r2, o2) = (Arc::clone(&running), Arc::clone(&once));
    let b = Barrier::with_action(2, move || {
        if o2.swap(false, SeqCst) {
            r2.store(true, SeqCst);
            thread::sleep(Duration::from_millis(100));
        }
    });
    thread::scope(|s| {
        let x = s.spawn(|| b.wait());
        let y = s.spawn(|| b.wait());
        common::wait_for("the action runs", || running.load(SeqCst));
        let late = prompt(|| b.wait_timeout(Duration::ZERO));
        assert_eq!(late, Err(Error::BrokenBarrier));
        assert!(
            x.join().unwrap().is_ok(),
            "the completed round stays completed"
        );
        assert!(
            y.join().unwrap().is_ok(),
            "the completed round stays completed"
        );
    });
}

#[test]
fn short_timeout_during_a_long_action_returns_by_its_deadline() {
    let _watchdog = common::watchdog();
    let running = Arc::new(AtomicBool::new(false));
    let r2 = Arc::clone(&running);
    let b = Barrier::with_action(2, move || {
        if !r2.swap(true, SeqCst) {
            thread::sleep(Duration::from_secs(5));
        }
    });
    thread::scope(|s| {
        let x = s.spawn(|| b.wait());
        let y = s.spawn(|| b.wait());
        common::wait_for("the action runs", || running.load(SeqCst));
        let start = Instant::now();
        let late = b.wait_timeout(Duration::from_millis(10));
        let took = start.elapsed();
        assert_eq!(late, Err(Error::BrokenBarrier));
        assert!(
            took < Duration::from_millis(2500),
            "wait_timeout(10ms) took {took:?}: it waited for the 5 s action"
        );
        assert!(x.join().unwrap().is_ok());
        assert!(y.join().unwrap().is_ok());
    });
    // The round the late thread meant to join starts broken.
    assert!(b.broken());
    assert_eq!(b.wait_timeout(Duration::MAX), Err(Error::BrokenBarrier));
    b.reset();
    assert!(!b.broken());
}

#[test]
fn zero_timeout_wait_from_inside_the_action_does_not_hang() {
    let _watchdog = common::watchdog();
    let slot: Arc<std::sync::OnceLock<Arc<Barrier>>> = Arc::new(std::sync::OnceLock::new());
    let inner = Arc::new(std::sync::Mutex::new(None));
    let (s2, i2) = (Arc::clone(&slot), Arc::clone(&inner));
    let b = Arc::new(Barrier::with_action(1, move || {
        let me = s2.get().expect("set before the first wait");
        *i2.lock().unwrap() = Some(me.wait_timeout(Duration::ZERO));
    }));
    slot.set(Arc::clone(&b)).ok().unwrap();
    let outer = b.wait();
    let inner = inner.lock().unwrap().take().expect("the action ran");
    // Whatever the exact results, both calls must return.
    assert!(inner.is_err(), "a wait from inside the action: {inner:?}");
    let _ = outer;
}
