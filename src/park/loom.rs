//! Backend under `cfg(loom)`: a model of address-keyed FIFO wait queues.
//!
//! One global table (reset by loom for every execution) holds the parked
//! threads in arrival order, each with its key and park token, behind a loom
//! `Mutex`, which plays the part of parking_lot_core's bucket lock: callbacks
//! run while it is held, exactly as in the real backend.
//!
//! Timeouts: a timed park never sleeps. After queueing (and `before_sleep`) it
//! takes the table lock again and, if nobody has unparked it by then, times
//! out. Because loom schedules that second step at every possible point
//! relative to the other threads, every "timeout fires just before / just
//! after the unpark" schedule is explored. An untimed park blocks on a loom
//! `Condvar` until unparked, so a lost wake-up is a loom deadlock.

use super::{FilterOp, ParkResult, ParkToken, RequeueOp, UnparkResult, UnparkToken};
use loom::sync::{Condvar, Mutex, MutexGuard};
use std::collections::VecDeque;
use std::time::Instant;

struct Waiter {
    id: usize,
    key: usize,
    token: ParkToken,
}

#[derive(Default)]
struct Table {
    queue: VecDeque<Waiter>,
    /// Threads unparked but not yet returned, with their tokens.
    woken: Vec<(usize, UnparkToken)>,
    next_id: usize,
}

impl Table {
    fn has(&self, key: usize) -> bool {
        self.queue.iter().any(|w| w.key == key)
    }

    fn take_first(&mut self, key: usize) -> Option<Waiter> {
        let pos = self.queue.iter().position(|w| w.key == key)?;
        self.queue.remove(pos)
    }

    fn requeue(&mut self, w: Waiter, to: usize) {
        self.queue.push_back(Waiter { key: to, ..w });
    }
}

struct Lot {
    table: Mutex<Table>,
    wake: Condvar,
}

loom::lazy_static! {
    static ref LOT: Lot = Lot { table: Mutex::new(Table::default()), wake: Condvar::new() };
}

fn lock() -> MutexGuard<'static, Table> {
    LOT.table.lock().unwrap()
}

fn wake(table: &mut Table, ids: impl IntoIterator<Item = usize>, token: UnparkToken) {
    for id in ids {
        table.woken.push((id, token));
    }
    LOT.wake.notify_all();
}

pub(crate) fn park(
    key: usize,
    validate: impl FnOnce() -> bool,
    before_sleep: impl FnOnce(),
    timed_out: impl FnOnce(usize, bool),
    token: ParkToken,
    deadline: Option<Instant>,
) -> ParkResult {
    let mut t = lock();
    if !validate() {
        return ParkResult::Invalid;
    }
    let id = t.next_id;
    t.next_id += 1;
    t.queue.push_back(Waiter { id, key, token });
    drop(t);
    before_sleep();
    let mut t = lock();
    if deadline.is_some() {
        // The timeout fires now, unless an unpark got here first.
        if let Some(pos) = t.queue.iter().position(|w| w.id == id) {
            let w = t.queue.remove(pos).expect("position is in range");
            let was_last = !t.has(w.key);
            timed_out(w.key, was_last);
            return ParkResult::TimedOut;
        }
    }
    loop {
        if let Some(pos) = t.woken.iter().position(|&(i, _)| i == id) {
            let (_, tok) = t.woken.swap_remove(pos);
            crate::sync::loom_support::saw_unpark_token(tok.0);
            return ParkResult::Unparked(tok);
        }
        t = LOT.wake.wait(t).unwrap();
    }
}

#[allow(dead_code)] // part of the seam; no primitive needs it at the moment
pub(crate) fn unpark_one(
    key: usize,
    callback: impl FnOnce(UnparkResult) -> UnparkToken,
) -> UnparkResult {
    let mut t = lock();
    let first = t.take_first(key);
    let result = UnparkResult {
        unparked_threads: usize::from(first.is_some()),
        requeued_threads: 0,
        have_more_threads: t.has(key),
    };
    let token = callback(result);
    if let Some(w) = first {
        wake(&mut t, [w.id], token);
    }
    result
}

/// How many threads are queued (on any key): lets a model wait for the
/// state "this thread is parked" instead of guessing.
pub(crate) fn queued() -> usize {
    lock().queue.len()
}

pub(crate) fn unpark_all(key: usize, token: UnparkToken) -> usize {
    let mut t = lock();
    let (hit, rest): (VecDeque<Waiter>, VecDeque<Waiter>) =
        t.queue.drain(..).partition(|w| w.key == key);
    t.queue = rest;
    let n = hit.len();
    wake(&mut t, hit.into_iter().map(|w| w.id), token);
    n
}

pub(crate) fn unpark_requeue(
    from: usize,
    to: usize,
    validate: impl FnOnce() -> RequeueOp,
    callback: impl FnOnce(RequeueOp, UnparkResult) -> UnparkToken,
) -> UnparkResult {
    let mut t = lock();
    let op = validate();
    let mut result = UnparkResult::default();
    if op == RequeueOp::Abort {
        return result;
    }
    let mut woken = None;
    match op {
        RequeueOp::Abort => unreachable!(),
        RequeueOp::UnparkOne => woken = t.take_first(from),
        RequeueOp::RequeueOne => {
            if let Some(w) = t.take_first(from) {
                t.requeue(w, to);
                result.requeued_threads = 1;
            }
        }
        RequeueOp::UnparkOneRequeueRest | RequeueOp::RequeueAll => {
            if op == RequeueOp::UnparkOneRequeueRest {
                woken = t.take_first(from);
            }
            while let Some(w) = t.take_first(from) {
                t.requeue(w, to);
                result.requeued_threads += 1;
            }
        }
    }
    result.unparked_threads = usize::from(woken.is_some());
    result.have_more_threads = t.has(from);
    let token = callback(op, result);
    if let Some(w) = woken {
        wake(&mut t, [w.id], token);
    }
    result
}

pub(crate) fn unpark_filter(
    key: usize,
    mut filter: impl FnMut(ParkToken) -> FilterOp,
    callback: impl FnOnce(UnparkResult) -> UnparkToken,
) -> UnparkResult {
    let mut t = lock();
    let mut result = UnparkResult::default();
    let mut picked = Vec::new();
    let mut kept = VecDeque::new();
    let mut stopped = false;
    while let Some(w) = t.queue.pop_front() {
        if stopped || w.key != key {
            kept.push_back(w);
            continue;
        }
        match filter(w.token) {
            FilterOp::Unpark => picked.push(w.id),
            FilterOp::Skip => {
                result.have_more_threads = true;
                kept.push_back(w);
            }
            FilterOp::Stop => {
                result.have_more_threads = true;
                stopped = true;
                kept.push_back(w);
            }
        }
    }
    t.queue = kept;
    result.unparked_threads = picked.len();
    let token = callback(result);
    wake(&mut t, picked, token);
    result
}

/// A primitive's state word under loom, checked for use after the primitive
/// was dropped (see `park::Watched`). The check is a plain (non-loom) flag:
/// loom runs a model's threads on one OS thread, and the flag is the model's
/// bookkeeping, not a synchronising operation loom should explore. A model
/// "frees" a primitive by dropping it in place and releases the memory only
/// at the end of the execution, so reading the flag late is well defined.
pub(crate) struct Watched<T> {
    word: T,
    alive: std::sync::atomic::AtomicBool,
}

pub(crate) fn watched<T>(word: T) -> Watched<T> {
    Watched {
        word,
        alive: std::sync::atomic::AtomicBool::new(true),
    }
}

impl<T> core::ops::Deref for Watched<T> {
    type Target = T;

    #[track_caller]
    fn deref(&self) -> &T {
        assert!(
            self.alive.load(std::sync::atomic::Ordering::Relaxed),
            "pysync (loom): a primitive's state was touched after the last user freed it \
             (the destruction promise: the last access of a call must be the one that lets \
             another thread finish with the primitive)"
        );
        &self.word
    }
}

impl<T> Drop for Watched<T> {
    fn drop(&mut self) {
        self.alive
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}
