#![no_main]
//! Event op sequences (single-threaded) checked against a flag.

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pysync::Event;
use std::time::{Duration, Instant};

#[derive(Arbitrary, Debug)]
enum Op {
    Set,
    Clear,
    IsSet,
    TryWait,
    WaitZero,
    WaitPast,
    WaitIfSet,
}

fuzz_target!(|ops: Vec<Op>| {
    let ev = Event::new();
    let mut flag = false;
    for op in ops.iter().take(512) {
        match op {
            Op::Set => {
                ev.set();
                flag = true;
            }
            Op::Clear => {
                ev.clear();
                flag = false;
            }
            Op::IsSet => assert_eq!(ev.is_set(), flag),
            Op::TryWait => assert_eq!(ev.try_wait(), flag),
            Op::WaitZero => assert_eq!(ev.wait_timeout(Duration::ZERO), flag),
            Op::WaitPast => {
                let past = Instant::now().checked_sub(Duration::from_millis(1));
                if let Some(t) = past {
                    assert_eq!(ev.wait_until(t), flag);
                }
            }
            Op::WaitIfSet => {
                if flag {
                    ev.wait();
                }
            }
        }
        assert_eq!(ev.is_set(), flag);
        assert_eq!(
            format!("{ev:?}"),
            format!("Event {{ set: {flag}, waiters: false }}")
        );
    }
});
