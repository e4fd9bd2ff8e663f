#![no_main]
//! Barrier, single thread: sequences of waits (that cannot block),
//! `abort`, `reset` and queries against a model; plus `try_new` with
//! arbitrary party counts.
//!
//! One thread can only complete rounds of a 1-party barrier. On a barrier of
//! more parties it can only arrive with an expired timeout, which breaks the
//! barrier (Python: `wait(0)` raises `BrokenBarrierError` and breaks it).

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pysync::{Barrier, Error};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Arbitrary, Debug)]
enum Op {
    /// `wait()`: only issued on a 1-party barrier (it would block otherwise).
    Wait,
    /// `wait_timeout(µs)`: at most 100 µs, so it never blocks for long.
    WaitTimeout(u8),
    /// `wait_until(now)`: an expired deadline.
    WaitUntilNow,
    Abort,
    Reset,
    Query,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// 1..=4 parties.
    parties: u8,
    with_action: bool,
    /// Any party count for `try_new`.
    try_parties: usize,
    ops: Vec<Op>,
}

/// What a barrier used by one thread must do.
#[derive(Default)]
struct Model {
    broken: bool,
    rounds: usize,
}

fuzz_target!(|input: Input| {
    // try_new: 0 is an error, so is more than fits the state word;
    // anything else works and reports its parties.
    match Barrier::try_new(input.try_parties) {
        Ok(b) => {
            assert_ne!(input.try_parties, 0);
            assert_eq!(b.parties(), input.try_parties);
            assert_eq!(b.n_waiting(), 0);
            assert!(!b.broken());
        }
        Err(e) => {
            assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
            assert!(input.try_parties == 0 || input.try_parties > usize::MAX / 4);
        }
    }

    let parties = usize::from(input.parties % 4) + 1;
    let runs = Arc::new(AtomicUsize::new(0));
    let b = if input.with_action {
        let r = Arc::clone(&runs);
        Barrier::with_action(parties, move || {
            r.fetch_add(1, Ordering::Relaxed);
        })
    } else {
        Barrier::new(parties)
    };
    let mut model = Model::default();

    for op in input.ops.iter().take(64) {
        // Checks an arrival by this (only) thread against the model.
        let arrival = |model: &mut Model, got: Result<usize, Error>| {
            let want = if model.broken || parties > 1 {
                // Broken, or alone on a barrier of several parties: it
                // times out and breaks it.
                Err(Error::BrokenBarrier)
            } else {
                Ok(0)
            };
            assert_eq!(got, want, "{op:?} on {parties} parties");
            match got {
                Ok(_) => model.rounds += 1,
                Err(_) => model.broken = true,
            }
        };
        match op {
            Op::Wait if parties == 1 => {
                let got = b.wait();
                arrival(&mut model, got);
            }
            Op::Wait => {}
            Op::WaitTimeout(us) => {
                let got = b.wait_timeout(Duration::from_micros(u64::from(*us % 101)));
                arrival(&mut model, got);
            }
            Op::WaitUntilNow => {
                let got = b.wait_until(Instant::now());
                arrival(&mut model, got);
            }
            Op::Abort => {
                b.abort();
                model.broken = true;
            }
            Op::Reset => {
                b.reset();
                model.broken = false;
            }
            Op::Query => {}
        }
        assert_eq!(b.broken(), model.broken);
        assert_eq!(b.n_waiting(), 0);
        assert_eq!(b.parties(), parties);
        assert_eq!(
            format!("{b:?}"),
            format!(
                "Barrier {{ parties: {parties}, n_waiting: 0, broken: {} }}",
                model.broken
            )
        );
        if input.with_action {
            assert_eq!(runs.load(Ordering::Relaxed), model.rounds);
        }
    }
});
