//! Timeouts and misuse, end to end.
//!
//! Every public method of `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`,
//! `Event`, `Condition` (over `Lock`, `RLock`, `&Lock`, `Arc<RLock>`),
//! `Barrier` and the guards, driven with odd inputs: zero and huge timeouts,
//! deadlines in the past and far in the future, releases from the wrong
//! thread or in the wrong order, double releases, zero parties, permit
//! counts at and past the maximum, `notify(0)` / `notify(usize::MAX)`, waits
//! without the lock, panics inside guard scopes. Each one must give a clear
//! result: the documented `Err` (variant *and* Python-worded message), the
//! documented panic (exact message), or correct behaviour. Never a hang:
//! every test runs under the common watchdog.
//!
//! Timings are only generous sanity bounds ("returned at once" means within
//! [`common::PROMPT`]), never speed assertions.
//!
//! One test binary, one file per primitive under `tests/misuse/`; the shared
//! helpers (`assert_err`, `panic_message`, `HUGE`, `past`, ...) are in
//! `tests/common`.

mod common;

// What every file below uses, through `use super::*`.
use common::{HUGE, assert_err, far_future, panic_message, past, prompt};
use pysync::{
    Barrier, BoundedSemaphore, Condition, ConditionLock, Error, Event, Lock, Mutex, RLock,
    ReentrantMutex, Semaphore,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

#[path = "misuse/lock.rs"]
mod lock;

#[path = "misuse/rlock.rs"]
mod rlock;

#[path = "misuse/semaphore.rs"]
mod semaphore;

#[path = "misuse/bounded_semaphore.rs"]
mod bounded_semaphore;

#[path = "misuse/event.rs"]
mod event;

#[path = "misuse/condition.rs"]
mod condition;

#[path = "misuse/barrier.rs"]
mod barrier;

#[path = "misuse/max_instant.rs"]
mod max_instant_deadline;
