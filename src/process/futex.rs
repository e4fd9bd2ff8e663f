//! The process parking seam: wait on and wake a 32-bit word in shared memory.
//!
//! * normally: Linux `futex(FUTEX_WAIT / FUTEX_WAKE)` **without**
//!   `FUTEX_PRIVATE_FLAG`, so the kernel keys the wait queue on the physical
//!   page (inode + offset for shared mappings) and a wake in one process
//!   reaches a waiter in another;
//! * under `cfg(loom)`: a model of address-keyed futex queues built from
//!   loom's types (threads stand in for processes).
//!
//! Every wait is **sliced**: [`Waiter::wait`] never sleeps longer than
//! [`SLICE`] past the last liveness check, whatever the caller's deadline,
//! and says [`Woke::Check`] when a slice has passed, so the caller looks at
//! whether the process it waits for is still alive. That is what bounds the
//! time to notice a dead owner (see `process` module docs). Under loom there
//! is no clock: a `Check` is delivered when a modelled process dies
//! ([`model_death`]), which is the only moment a check can find anything.

use crate::sync::AtomicU32;
use std::time::{Duration, Instant};

/// Longest sleep between two liveness checks of a blocked waiter: a waiter
/// notices a dead owner at most one slice after the death.
///
/// ```
/// assert!(pysync::process::SLICE <= std::time::Duration::from_millis(20));
/// ```
pub const SLICE: Duration = Duration::from_millis(20);

/// Why [`Waiter::wait`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Woke {
    /// Woken, the word changed, a signal, or spuriously: re-read the word.
    Woken,
    /// A slice passed since the last check: re-read the word, and check the
    /// liveness of whoever the caller waits for.
    Check,
    /// The caller's deadline passed.
    Deadline,
}

/// One blocking operation's waits: the caller's deadline and the time of
/// the last liveness check.
#[derive(Debug)]
pub(crate) struct Waiter {
    deadline: Option<Instant>,
    #[cfg(not(loom))]
    checked: Instant,
    /// Model: deaths this waiter has already been told about.
    #[cfg(loom)]
    deaths_seen: usize,
}

impl Waiter {
    /// A waiter for one blocking call that ends at `deadline` (`None`: never).
    pub(crate) fn new(deadline: Option<Instant>) -> Waiter {
        Waiter {
            deadline,
            #[cfg(not(loom))]
            checked: Instant::now(),
            #[cfg(loom)]
            deaths_seen: 0,
        }
    }

    /// Whether the caller's deadline has passed (never, under loom).
    pub(crate) fn expired(&self) -> bool {
        crate::deadline::expired(self.deadline)
    }

    /// Sleeps while `word == expected`, at most until the deadline or the end
    /// of the current slice. Returns at once if the word differs.
    #[cfg(not(loom))]
    pub(crate) fn wait(&mut self, word: &AtomicU32, expected: u32) -> Woke {
        let now = Instant::now();
        let slice_end = self.checked + SLICE;
        if now >= slice_end {
            self.checked = now;
            return Woke::Check;
        }
        let (until, is_deadline) = match self.deadline {
            Some(d) if d <= slice_end => (d, true),
            _ => (slice_end, false),
        };
        if now >= until {
            return Woke::Deadline;
        }
        let left = until - now;
        let ts = rustix::thread::futex::Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        #[cfg(test)]
        crate::sync::blocking_steps::note();
        // Flags::empty(): a *shared* futex (no FUTEX_PRIVATE_FLAG), keyed by
        // the mapping, so waiters and wakers in other processes meet here.
        match rustix::thread::futex::wait(
            word,
            rustix::thread::futex::Flags::empty(),
            expected,
            Some(&ts),
        ) {
            Err(rustix::io::Errno::TIMEDOUT) if is_deadline => Woke::Deadline,
            Err(rustix::io::Errno::TIMEDOUT) => {
                self.checked = Instant::now();
                Woke::Check
            }
            // Woken, EAGAIN (the word changed), EINTR: re-read the word.
            _ => Woke::Woken,
        }
    }

    /// Model: waits while `word == expected` until woken, until a modelled
    /// process dies (`Check`), or, for a timed wait, until the model
    /// schedules the timeout. A waiter that has not yet been told of a past
    /// death gets `Check` at once (its slice would end while the dead
    /// process stays dead): each death is one `Check` per waiter.
    #[cfg(loom)]
    pub(crate) fn wait(&mut self, word: &AtomicU32, expected: u32) -> Woke {
        model::wait(
            word,
            expected,
            self.deadline.is_some(),
            &mut self.deaths_seen,
        )
    }
}

/// Wakes up to `n` threads, in any process, waiting on `word`.
#[cfg(not(loom))]
#[inline]
pub(crate) fn wake(word: &AtomicU32, n: u32) {
    #[cfg(test)]
    testing::WAKES.set(testing::WAKES.get() + 1);
    // An error (EFAULT, EINVAL) is impossible for a live, aligned word;
    // there is nothing useful to do with one here.
    let _ = rustix::thread::futex::wake(word, rustix::thread::futex::Flags::empty(), n);
}

/// Model: wakes up to `n` waiters on `word`.
#[cfg(loom)]
pub(crate) fn wake(word: &AtomicU32, n: u32) {
    model::wake(word, n);
}

/// Model only: a modelled process died; every waiter re-checks liveness.
#[cfg(loom)]
pub(crate) fn model_death() {
    model::death();
}

/// Wakes every waiter on `word`.
#[inline]
pub(crate) fn wake_all(word: &AtomicU32) {
    wake(word, i32::MAX as u32);
}

#[cfg(loom)]
mod model {
    //! Address-keyed futex queues under one loom mutex (the kernel's hash
    //! bucket lock). The value check and the queueing happen under it, as in
    //! the kernel, so a wake between a waiter's check and its sleep is never
    //! lost: a lost wake-up is a loom deadlock.
    use super::Woke;
    use crate::sync::{AtomicU32, Ordering};
    use loom::sync::{Condvar, Mutex};

    #[derive(Default)]
    struct Table {
        /// (waiter id, address), in arrival order.
        queue: Vec<(usize, usize)>,
        /// Waiter ids woken and not yet returned, with the reason.
        woken: Vec<(usize, Woke)>,
        next: usize,
        /// Modelled processes that died so far.
        deaths: usize,
    }

    struct Futexes {
        table: Mutex<Table>,
        cv: Condvar,
    }

    loom::lazy_static! {
        static ref F: Futexes = Futexes { table: Mutex::new(Table::default()), cv: Condvar::new() };
    }

    pub(super) fn wait(word: &AtomicU32, expected: u32, timed: bool, seen: &mut usize) -> Woke {
        let addr = word as *const AtomicU32 as usize;
        let mut t = F.table.lock().unwrap();
        if t.deaths > *seen {
            *seen = t.deaths;
            return Woke::Check;
        }
        // SeqCst: the kernel's check runs under the bucket lock, after the
        // waiter's own stores; the model's lock orders it with wakers.
        if word.load(Ordering::SeqCst) != expected {
            return Woke::Woken;
        }
        let id = t.next;
        t.next += 1;
        t.queue.push((id, addr));
        if timed {
            drop(t);
            t = F.table.lock().unwrap();
            if let Some(p) = t.queue.iter().position(|&(i, _)| i == id) {
                t.queue.remove(p);
                return Woke::Deadline;
            }
        }
        loop {
            if let Some(p) = t.woken.iter().position(|&(i, _)| i == id) {
                let (_, why) = t.woken.swap_remove(p);
                if why == Woke::Check {
                    *seen = t.deaths;
                }
                return why;
            }
            t = F.cv.wait(t).unwrap();
        }
    }

    pub(super) fn wake(word: &AtomicU32, n: u32) {
        let addr = word as *const AtomicU32 as usize;
        let mut t = F.table.lock().unwrap();
        let mut left = n;
        let mut i = 0;
        while i < t.queue.len() && left > 0 {
            if t.queue[i].1 == addr {
                let (id, _) = t.queue.remove(i);
                t.woken.push((id, Woke::Woken));
                left -= 1;
            } else {
                i += 1;
            }
        }
        F.cv.notify_all();
    }

    pub(super) fn death() {
        let mut t = F.table.lock().unwrap();
        t.deaths += 1;
        let all: Vec<_> = t.queue.drain(..).collect();
        for (id, _) in all {
            t.woken.push((id, Woke::Check));
        }
        F.cv.notify_all();
    }
}

/// Unit tests only: how many futex wake calls (system calls) the calling
/// thread has made.
#[cfg(all(test, not(loom)))]
pub(crate) mod testing {
    use std::cell::Cell;

    std::thread_local!(pub(super) static WAKES: Cell<usize> = const { Cell::new(0) });

    /// Futex wakes made on this thread so far.
    pub(crate) fn wakes_on_this_thread() -> usize {
        WAKES.get()
    }
}
