//! Python's `queue.Queue`, on one [`Mutex`] and three [`Condvar`]s, the way
//! CPython's `queue.py` uses one lock and three `Condition`s sharing it.
//!
//! ```python
//! q = queue.Queue(maxsize=2)
//! q.put(item, timeout=1.0)      # queue.Full after the timeout
//! item = q.get(timeout=1.0)     # queue.Empty after the timeout
//! q.task_done(); q.join()
//! ```

use pysync::{Condvar, Mutex};
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// `queue.Full`: the item that did not fit, handed back.
#[derive(Debug, PartialEq, Eq)]
pub struct Full<T>(pub T);

/// `queue.Empty`.
#[derive(Debug, PartialEq, Eq)]
pub struct Empty;

/// `ValueError('task_done() called too many times')`.
#[derive(Debug, PartialEq, Eq)]
pub struct TooManyTaskDone;

impl fmt::Display for TooManyTaskDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called too many times")
    }
}

struct State<T> {
    items: VecDeque<T>,
    unfinished_tasks: usize,
}

/// A FIFO queue for threads: Python's `queue.Queue`.
pub struct Queue<T> {
    maxsize: usize,
    state: Mutex<State<T>>,
    not_empty: Condvar,
    not_full: Condvar,
    all_tasks_done: Condvar,
}

/// `None`: block forever (Python's `timeout=None`); `Some(t)`: at most `t`.
pub type Timeout = Option<Duration>;

impl<T> Queue<T> {
    /// `queue.Queue(maxsize)`: `0` means unbounded.
    pub fn new(maxsize: usize) -> Self {
        Queue {
            maxsize,
            state: Mutex::new(State {
                items: VecDeque::new(),
                unfinished_tasks: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_tasks_done: Condvar::new(),
        }
    }

    /// `q.put(item, timeout=t)`: waits while the queue is full; `Full(item)`
    /// if it still is when the time runs out.
    pub fn put(&self, item: T, timeout: Timeout) -> Result<(), Full<T>> {
        let mut s = self.state.lock();
        if self.maxsize > 0 {
            let full = |s: &mut State<T>| s.items.len() >= self.maxsize;
            match timeout {
                None => self.not_full.wait_while(&mut s, full),
                Some(t) => {
                    if self
                        .not_full
                        .wait_timeout_while(&mut s, t, full)
                        .timed_out()
                    {
                        return Err(Full(item));
                    }
                }
            }
        }
        s.items.push_back(item);
        s.unfinished_tasks += 1;
        self.not_empty.notify_one();
        Ok(())
    }

    /// `q.put_nowait(item)`.
    pub fn put_nowait(&self, item: T) -> Result<(), Full<T>> {
        self.put(item, Some(Duration::ZERO))
    }

    /// `q.get(timeout=t)`: waits while the queue is empty; `Empty` if it
    /// still is when the time runs out.
    pub fn get(&self, timeout: Timeout) -> Result<T, Empty> {
        let mut s = self.state.lock();
        let deadline = timeout.map(|t| Instant::now().checked_add(t));
        let empty = |s: &mut State<T>| s.items.is_empty();
        match deadline {
            None | Some(None) => self.not_empty.wait_while(&mut s, empty),
            Some(Some(d)) => {
                if self
                    .not_empty
                    .wait_until_while(&mut s, d, empty)
                    .timed_out()
                {
                    return Err(Empty);
                }
            }
        }
        let item = s.items.pop_front().ok_or(Empty)?; // not empty: checked above
        self.not_full.notify_one();
        Ok(item)
    }

    /// `q.get_nowait()`.
    pub fn get_nowait(&self) -> Result<T, Empty> {
        self.get(Some(Duration::ZERO))
    }

    /// `q.task_done()`: one fetched item is processed.
    pub fn task_done(&self) -> Result<(), TooManyTaskDone> {
        let mut s = self.state.lock();
        s.unfinished_tasks = s.unfinished_tasks.checked_sub(1).ok_or(TooManyTaskDone)?;
        if s.unfinished_tasks == 0 {
            self.all_tasks_done.notify_all();
        }
        Ok(())
    }

    /// `q.join()`: blocks until every item put has been marked done.
    pub fn join(&self) {
        let mut s = self.state.lock();
        self.all_tasks_done
            .wait_while(&mut s, |s| s.unfinished_tasks > 0);
    }

    /// `q.qsize()`.
    pub fn qsize(&self) -> usize {
        self.state.lock().items.len()
    }

    /// `q.empty()`.
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// `q.full()`.
    pub fn full(&self) -> bool {
        self.maxsize > 0 && self.qsize() >= self.maxsize
    }
}
