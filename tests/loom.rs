//! Every loom model of the crate.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test loom`
//! (`.ci/run` sets `LOOM_MAX_PREEMPTIONS=3`). Without `--cfg loom` this file
//! compiles to nothing.
#![cfg(loom)]

#[path = "loom/support.rs"]
mod support;

#[path = "loom/lock.rs"]
mod lock;

#[path = "loom/rlock.rs"]
mod rlock;

#[path = "loom/semaphore.rs"]
mod semaphore;

#[path = "loom/event.rs"]
mod event;

#[path = "loom/condition.rs"]
mod condition;

#[path = "loom/barrier.rs"]
mod barrier;

#[path = "loom/gil.rs"]
mod gil;

#[path = "loom/process.rs"]
mod process;

#[path = "loom/condvar.rs"]
mod condvar;
