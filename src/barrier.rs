//! [`Barrier`]: Python's `threading.Barrier`, reusable, breakable, with an
//! action and timeouts.
//!
//! # State
//!
//! Every field below is read and written **only under the parking queue lock**
//! of the barrier's key (inside the seam's `validate`, `timed_out` and
//! `callback` closures). That lock is the barrier's state lock, so arriving
//! and parking, timing out and deciding what the timeout means, and changing
//! the state and waking the waiters are each one atomic step. The fields are
//! atomics only for interior mutability (and so loom sees them); they are all
//! `Relaxed`, because the queue lock orders them. Outside the lock they are
//! only read as snapshots (`n_waiting`, `broken`, `Debug`).
//!
//! * `state`: `count << 2 | phase`. While `FILLING`, `count` is the number
//!   of parties that arrived in the current round (Python's `_count`); while
//!   `RELEASING` or `DRAINING` that field holds only `BREAK_NEXT`: an arrival
//!   timed out waiting for the next round, which starts `BROKEN`;
//! * `generation`: the round number (wrapping, 63 bits on 64-bit targets);
//! * `owed`: `n << 1 | DRAIN_OK`: `n` parties of the releasing round are out
//!   of the queue and still owed their result, which is `DRAIN_OK`.
//!
//! | phase       | Python            | arrivals                        | left by                        |
//! |-------------|-------------------|---------------------------------|--------------------------------|
//! | `FILLING`   | `0` filling       | take index `count`, park        | last arrival → `RELEASING`; timeout, `abort` → `BROKEN`; `reset` → `FILLING` (next round) |
//! | `RELEASING` | (action runs under the lock) | park until it ends; new ones get `Err` once `BREAK_NEXT` is set | releaser: → `FILLING`/`BROKEN` (next round), `DRAINING` (stragglers owed), `BROKEN` (action panicked); `abort` → `BROKEN`; `reset` → `DRAINING` |
//! | `DRAINING`  | `1` draining, `-1` resetting | likewise                 | last owed party → `FILLING`/`BROKEN` (next round); `abort` → `BROKEN`; `reset` clears `BREAK_NEXT` |
//! | `BROKEN`    | `-2` broken       | `Err(BrokenBarrier)`            | `reset` → `FILLING` (next round) or `DRAINING` if parties are owed |
//!
//! "Next round" means: `generation + 1`, `BROKEN` if `BREAK_NEXT` was set,
//! else `FILLING`. [`broken`](Barrier::broken) is `BROKEN` or `BREAK_NEXT`.
//!
//! Waiters learn their result from the **unpark token** the waker hands them
//! (`TOKEN_OK` / `TOKEN_BROKEN`), so a released waiter never touches the
//! barrier again and a new round can start at once: Python's draining and
//! resetting states, which exist there because every waiter must re-take the
//! lock to decrement `_count`, are needed here only for *stragglers*: waiters
//! whose timeout fired while the action was running (Python makes those wait
//! for the lock and then return normally). A straggler is out of the queue, so
//! nobody can hand it a token; it is counted in `owed`, re-parks without a
//! timeout, and while any party is owed the round number cannot move, so the
//! straggler always finds its own round's result.
//!
//! # Why a timeout never breaks a completed round, and always breaks one
//! Two rules make every timeout's meaning decidable under the queue lock
//! (the seam runs `timed_out` there, after taking the waiter out of the
//! queue, so a waiter that times out was not woken):
//!
//! 1. Every transition that ends round `G` (release, `abort`, `reset`) wakes
//!    all of round `G`'s queued parties in the same critical section.
//! 2. Every transition that starts a round (the release, the last owed
//!    straggler collecting its result, `reset`) or breaks the barrier wakes
//!    all queued *arrivals* (threads waiting for a round to end) in the same
//!    critical section: the filter of that unpark runs under the same lock,
//!    before the callback that changes the state.
//!
//! So a party of round `G` whose timeout fires sees `FILLING` of round `G`
//! (nobody completed it: it breaks it, `BROKEN`), `BROKEN` (already broken),
//! or `RELEASING` of round `G` (everyone arrived: it becomes a straggler and
//! gets its round's result). And an arrival whose timeout fires sees
//! `RELEASING` or `DRAINING` (the round it waits to join has not started: it
//! sets `BREAK_NEXT`, so that round starts `BROKEN` and the barrier counts as
//! broken at once) or `BROKEN`; never `FILLING`, which would mean that its
//! round started without waking it (it would break that round, should rule
//! 2 ever fail). In every case a timeout that returns `Err` leaves the
//! barrier broken, and only a round that nobody completed is failed by it.

use crate::deadline;
use crate::error::Error;
use crate::park::{self, FilterOp, ParkResult, ParkToken, UnparkToken};
use crate::sync::{AtomicUsize, Ordering, loom_const_fn, spin_before_sleep};
use core::cell::Cell;
use core::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// Parties arrive; the round completes when `count` reaches `parties`.
const FILLING: usize = 0;
/// Everyone arrived; the last arrival runs the action and then releases.
const RELEASING: usize = 1;
/// Owed stragglers of the last round are collecting their result; arrivals
/// wait. (Python's draining and resetting.)
const DRAINING: usize = 2;
/// Broken until `reset`.
const BROKEN: usize = 3;
const PHASE_MASK: usize = 0b11;
const COUNT_SHIFT: u32 = 2;
/// While `RELEASING` or `DRAINING` the count field holds no count (all
/// parties arrived, or none of the next round did); instead it holds this
/// flag: an arrival timed out waiting for the next round, which therefore
/// starts `BROKEN` (and `broken()` is already true). One word, so a snapshot
/// of "broken" is one load.
const BREAK_NEXT: usize = 1 << COUNT_SHIFT;
/// The most parties a barrier can have (`count` shares a word with the phase).
const MAX_PARTIES: usize = usize::MAX >> COUNT_SHIFT;

/// `generation` wraps within 63 (31) bits so it fits a park token with a kind bit.
const GEN_MASK: usize = usize::MAX >> 1;

/// `owed`: the owed parties' result is success.
const DRAIN_OK: usize = 1;
/// `owed`: one owed party.
const OWED_ONE: usize = 2;

/// Park token kind: a party of the round in the token's generation.
const KIND_WAIT: usize = 0;
/// Park token kind: an arrival waiting for the previous round to finish.
const KIND_ENTER: usize = 1;

/// Unpark token: the round completed.
const TOKEN_OK: UnparkToken = UnparkToken(0);
/// Unpark token: the round was broken (or reset).
const TOKEN_BROKEN: UnparkToken = UnparkToken(1);

/// A thread's park token: its round and kind.
#[inline]
fn token(generation: usize, kind: usize) -> ParkToken {
    ParkToken((generation << 1) | kind)
}

#[inline]
fn is_enter(t: ParkToken) -> bool {
    t.0 & 1 == KIND_ENTER
}

/// The unpark filter that wakes the parties of round `generation` and the
/// arrivals waiting for a round to end, and skips everyone else.
fn round_and_arrivals(generation: usize) -> impl FnMut(ParkToken) -> FilterOp {
    let mine = token(generation, KIND_WAIT);
    move |t| {
        if t == mine || is_enter(t) {
            FilterOp::Unpark
        } else {
            FilterOp::Skip
        }
    }
}

/// What an arrival found, decided under the queue lock.
#[derive(Clone, Copy)]
enum Arrival {
    /// The barrier is broken.
    Broken,
    /// Last to arrive, at this index, in this round: run the action, release.
    Release(usize, usize),
    /// Parked as a party, with this index.
    Wait(usize),
    /// Parked until the previous round finishes.
    Enter,
    /// The park token did not match the state (it changed since we looked):
    /// try again with the state seen, `(state, generation)`.
    Retry(usize, usize),
}

/// What a waiter's timeout meant, decided under the queue lock.
#[derive(Clone, Copy)]
enum Timeout {
    /// The round in this generation was still filling: the timeout broke
    /// it, and the waiter wakes that round's parties.
    Broke(usize),
    /// The barrier was already broken.
    Broken,
    /// Everyone had arrived and the action runs: wait for its result.
    Straggle,
    /// It timed out before it could join a round (the previous round's
    /// action was still running, or stragglers were collecting results):
    /// the barrier is broken from now on (`BREAK_NEXT`).
    Entering,
}

/// A barrier with Python's `threading.Barrier` semantics: `parties` threads
/// wait for each other, then all proceed; reusable round after round.
///
/// * [`wait`](Barrier::wait) returns `Ok(index)`, the arrival index in
///   `0..parties`, unique within a round (the first to arrive gets 0, the
///   last `parties - 1`), as in Python.
/// * The optional action ([`with_action`](Barrier::with_action)) runs once per
///   round, in the last thread to arrive, before anyone is released.
/// * The barrier **breaks** when a wait times out, when [`abort`](Barrier::abort)
///   is called, or when the action panics: every thread waiting gets
///   `Err(Error::BrokenBarrier)`, and so does every later `wait`, until
///   [`reset`](Barrier::reset).
/// * Waiting threads spin briefly (a few µs, already queued, only where that
///   can help: more than one CPU, no `sched_yield`) and then park;
///   a round is released with one wake-up call, and released threads never
///   touch the barrier again, so the next round can start at once.
///
/// | Python                          | pysync                                   |
/// |---------------------------------|------------------------------------------|
/// | `Barrier(n)`                    | [`Barrier::new(n)`](Barrier::new)        |
/// | `Barrier(n, action=f)`          | [`Barrier::with_action(n, f)`](Barrier::with_action) |
/// | `Barrier(n, timeout=t)`         | [`Barrier::with_timeout(n, t)`](Barrier::with_timeout) |
/// | `b.wait()`                      | [`wait`](Barrier::wait)                  |
/// | `b.wait(timeout=t)`             | [`wait_timeout`](Barrier::wait_timeout)  |
/// | `b.reset()`, `b.abort()`        | [`reset`](Barrier::reset), [`abort`](Barrier::abort) |
/// | `b.parties`, `b.n_waiting`, `b.broken` | [`parties`](Barrier::parties), [`n_waiting`](Barrier::n_waiting), [`broken`](Barrier::broken) |
/// | `BrokenBarrierError`            | [`Error::BrokenBarrier`]                 |
///
/// Differences from Python: a panicking action breaks the barrier and the
/// panic continues in the thread that ran it (Python re-raises the action's
/// exception there too); `abort` or `reset` while the action runs make that
/// round fail for every party (Python blocks them until the action is done);
/// a timeout is a deadline for the whole call, including any wait for the
/// previous round's action to finish (Python waits for the action without a
/// timeout): an arrival that times out there gets `Err(BrokenBarrier)` and
/// breaks the round it was waiting to join, so the barrier is broken from
/// then on ([`broken`](Barrier::broken) is true, later waits get `Err`, and
/// so do the arrivals already waiting, once the running round ends), while
/// the round whose action runs still completes for its parties. So even a
/// timed `wait` from inside the barrier's own action returns instead of
/// deadlocking.
///
/// ```
/// use pysync::Barrier;
/// use std::sync::Arc;
/// use std::thread;
///
/// let barrier = Arc::new(Barrier::new(3));
/// let handles: Vec<_> = (0..3)
///     .map(|_| {
///         let b = Arc::clone(&barrier);
///         thread::spawn(move || b.wait().unwrap())
///     })
///     .collect();
/// let mut indices: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
/// indices.sort();
/// assert_eq!(indices, [0, 1, 2]);
/// ```
pub struct Barrier {
    state: AtomicUsize,
    generation: AtomicUsize,
    owed: AtomicUsize,
    parties: usize,
    timeout: Option<Duration>,
    action: Option<Box<dyn Fn() + Send + Sync>>,
}

impl Barrier {
    loom_const_fn! {
        /// A barrier for `parties` threads (Python's `Barrier(parties)`).
        ///
        /// # Panics
        /// With `parties == 0`: "Barrier needs at least 1 party" (Python raises
        /// `ValueError`); see [`try_new`](Barrier::try_new) for an `Err`
        /// instead. Also past `usize::MAX / 4` parties.
        ///
        /// ```
        /// static B: pysync::Barrier = pysync::Barrier::new(1);
        /// assert_eq!(B.wait(), Ok(0)); // one party never blocks
        /// ```
        #[must_use]
        pub fn new(parties: usize) -> Barrier {
            if parties == 0 {
                panic!("Barrier needs at least 1 party");
            }
            if parties > MAX_PARTIES {
                panic!("Barrier has too many parties");
            }
            Barrier {
                state: AtomicUsize::new(FILLING),
                generation: AtomicUsize::new(0),
                owed: AtomicUsize::new(0),
                parties,
                timeout: None,
                action: None,
            }
        }
    }

    /// A barrier for `parties` threads, or
    /// `Err(Error::InvalidArgument("parties must be >= 1"))` for 0 (Python's
    /// `ValueError`).
    ///
    /// ```
    /// use pysync::{Barrier, Error};
    /// assert!(matches!(Barrier::try_new(0), Err(Error::InvalidArgument(_))));
    /// assert_eq!(Barrier::try_new(4).unwrap().parties(), 4);
    /// ```
    pub fn try_new(parties: usize) -> Result<Barrier, Error> {
        if parties == 0 {
            Err(Error::InvalidArgument("parties must be >= 1"))
        } else if parties > MAX_PARTIES {
            Err(Error::InvalidArgument("too many parties"))
        } else {
            Ok(Barrier::new(parties))
        }
    }

    /// A barrier whose `action` runs once per round, in the last thread to
    /// arrive, before any thread is released (Python's `action=`).
    ///
    /// If the action panics, the barrier breaks (the other parties get
    /// `Err(Error::BrokenBarrier)`) and the panic continues in the thread
    /// that ran it.
    ///
    /// # Panics
    /// As [`new`](Barrier::new), with `parties == 0`.
    ///
    /// ```
    /// use pysync::Barrier;
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let rounds = Arc::new(AtomicUsize::new(0));
    /// let r = Arc::clone(&rounds);
    /// let b = Barrier::with_action(1, move || { r.fetch_add(1, Ordering::Relaxed); });
    /// b.wait().unwrap();
    /// b.wait().unwrap();
    /// assert_eq!(rounds.load(Ordering::Relaxed), 2);
    /// ```
    pub fn with_action(parties: usize, action: impl Fn() + Send + Sync + 'static) -> Barrier {
        Barrier {
            action: Some(Box::new(action)),
            ..Barrier::new(parties)
        }
    }

    /// A barrier whose [`wait`](Barrier::wait) times out after `default`
    /// (Python's `timeout=`), which breaks the barrier. `Duration::MAX` means
    /// no timeout.
    ///
    /// # Panics
    /// As [`new`](Barrier::new), with `parties == 0`.
    ///
    /// ```
    /// use pysync::{Barrier, Error};
    /// use std::time::Duration;
    /// let b = Barrier::with_timeout(2, Duration::from_millis(10));
    /// assert_eq!(b.wait(), Err(Error::BrokenBarrier)); // nobody else came
    /// assert!(b.broken());
    /// ```
    #[must_use]
    pub fn with_timeout(parties: usize, default: Duration) -> Barrier {
        Barrier {
            timeout: Some(default),
            ..Barrier::new(parties)
        }
    }

    /// Both an action and a default timeout (Python's
    /// `Barrier(parties, action, timeout)`).
    ///
    /// # Panics
    /// As [`new`](Barrier::new), with `parties == 0`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = pysync::Barrier::with_action_and_timeout(1, || {}, Duration::from_secs(1));
    /// assert_eq!(b.default_timeout(), Some(Duration::from_secs(1)));
    /// assert_eq!(b.wait(), Ok(0));
    /// ```
    pub fn with_action_and_timeout(
        parties: usize,
        action: impl Fn() + Send + Sync + 'static,
        default: Duration,
    ) -> Barrier {
        Barrier {
            timeout: Some(default),
            ..Barrier::with_action(parties, action)
        }
    }

    /// Waits until all parties have called `wait` (Python's `wait()`), or
    /// until the default timeout, if the barrier has one.
    ///
    /// Returns `Ok(index)`, the arrival index in `0..parties`, unique within
    /// the round; `Err(Error::BrokenBarrier)` if the barrier is or becomes
    /// broken (aborted, reset while waiting, timed out, or the action
    /// panicked).
    ///
    /// # Panics
    /// If this thread runs the action and it panics (after breaking the
    /// barrier).
    ///
    /// ```
    /// use pysync::Barrier;
    /// use std::thread;
    ///
    /// let b = Barrier::new(2);
    /// thread::scope(|s| {
    ///     let other = s.spawn(|| b.wait().unwrap());
    ///     let mine = b.wait().unwrap();
    ///     assert_eq!(mine + other.join().unwrap(), 0 + 1);
    /// });
    /// ```
    #[inline]
    pub fn wait(&self) -> Result<usize, Error> {
        self.wait_inner(self.timeout.and_then(deadline::after))
    }

    /// Waits at most `timeout` (Python's `wait(timeout)`). If it times out
    /// before the round completes, the barrier breaks and every party gets
    /// `Err(Error::BrokenBarrier)`, like Python. `Duration::ZERO` breaks it
    /// at once unless this is the last party; `Duration::MAX` waits forever.
    ///
    /// A timeout that fires once every party has arrived (while the action
    /// runs, or just as the round is released) does not break the round:
    /// the waiter gets its round's result.
    ///
    /// # Panics
    /// As [`wait`](Barrier::wait).
    ///
    /// ```
    /// use pysync::{Barrier, Error};
    /// use std::time::Duration;
    /// let b = Barrier::new(2);
    /// assert_eq!(b.wait_timeout(Duration::from_millis(5)), Err(Error::BrokenBarrier));
    /// assert!(b.broken());
    /// b.reset();
    /// assert!(!b.broken());
    /// ```
    #[inline]
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize, Error> {
        self.wait_inner(deadline::after(timeout))
    }

    /// Waits until `deadline`; as [`wait_timeout`](Barrier::wait_timeout).
    ///
    /// # Panics
    /// As [`wait`](Barrier::wait).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let b = pysync::Barrier::new(1);
    /// assert_eq!(b.wait_until(Instant::now() + Duration::from_millis(5)), Ok(0));
    /// ```
    #[inline]
    pub fn wait_until(&self, deadline: Instant) -> Result<usize, Error> {
        self.wait_inner(Some(deadline))
    }

    /// Puts the barrier back in its empty, unbroken state (Python's
    /// `reset()`). Threads waiting in the current round get
    /// `Err(Error::BrokenBarrier)`; threads arriving afterwards start a new
    /// round.
    ///
    /// ```
    /// use pysync::{Barrier, Error};
    /// let b = Barrier::new(2);
    /// b.abort();
    /// assert_eq!(b.wait(), Err(Error::BrokenBarrier));
    /// b.reset();
    /// assert!(!b.broken());
    /// ```
    pub fn reset(&self) {
        self.transition(|| {
            // Every state below clears `BREAK_NEXT`: a pending "next round
            // starts broken" is reset too.
            if self.phase() == DRAINING || self.owed_count() > 0 {
                // Owed parties must still find their round: keep the round
                // number until they are gone (Python's resetting state).
                // Their result stays what it was (`DRAIN_OK` is false while
                // releasing, so a reset during the action fails its round).
                // While draining, only owed stragglers of a round that
                // already ended are left: nothing else to reset (Python:
                // no-op).
                self.set_state(DRAINING, 0);
            } else {
                self.set_state(FILLING, 0);
                self.next_generation();
            }
        });
    }

    /// Breaks the barrier (Python's `abort()`): threads waiting now and every
    /// later `wait` get `Err(Error::BrokenBarrier)` until
    /// [`reset`](Barrier::reset).
    ///
    /// ```
    /// use pysync::{Barrier, Error};
    /// use std::thread;
    ///
    /// let b = Barrier::new(2);
    /// thread::scope(|s| {
    ///     let waiter = s.spawn(|| b.wait());
    ///     while b.n_waiting() == 0 { thread::yield_now(); }
    ///     b.abort();
    ///     assert_eq!(waiter.join().unwrap(), Err(Error::BrokenBarrier));
    /// });
    /// assert!(b.broken());
    /// ```
    pub fn abort(&self) {
        self.transition(|| self.set_state(BROKEN, 0));
    }

    /// The number of threads required to pass the barrier (Python's
    /// `parties`).
    ///
    /// ```
    /// assert_eq!(pysync::Barrier::new(5).parties(), 5);
    /// ```
    #[inline]
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// The number of threads waiting in the current round (Python's
    /// `n_waiting`); while the action runs, all parties. A snapshot.
    ///
    /// ```
    /// let b = pysync::Barrier::new(3);
    /// assert_eq!(b.n_waiting(), 0);
    /// ```
    #[inline]
    pub fn n_waiting(&self) -> usize {
        // Relaxed: a snapshot; `count` and the phase share one word.
        let s = self.state.load(Ordering::Relaxed);
        match s & PHASE_MASK {
            FILLING => s >> COUNT_SHIFT,
            RELEASING => self.parties,
            _ => 0,
        }
    }

    /// Whether the barrier is broken (Python's `broken`). A snapshot.
    ///
    /// True from the moment a `wait` breaks it (by its timeout, also one
    /// that fired while the previous round's action ran), an action panics
    /// or [`abort`](Barrier::abort) is called, until [`reset`](Barrier::reset):
    /// a `wait` that returned `Err(BrokenBarrier)` always finds it true
    /// (unless someone reset it since).
    ///
    /// ```
    /// let b = pysync::Barrier::new(3);
    /// assert!(!b.broken());
    /// b.abort();
    /// assert!(b.broken());
    /// ```
    #[inline]
    pub fn broken(&self) -> bool {
        // Relaxed: a snapshot; one load, as both answers live in one word.
        is_broken(self.state.load(Ordering::Relaxed))
    }

    /// The default timeout of [`wait`](Barrier::wait), if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(pysync::Barrier::new(2).default_timeout(), None);
    /// let b = pysync::Barrier::with_timeout(2, Duration::from_secs(3));
    /// assert_eq!(b.default_timeout(), Some(Duration::from_secs(3)));
    /// ```
    #[inline]
    pub fn default_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    // ----- internals -------------------------------------------------------
    //
    // Every `Relaxed` access below runs under the queue lock of `key()` (see
    // the module docs), which orders it; outside the lock only snapshots.

    /// The parking key: the state word's address.
    #[inline]
    fn key(&self) -> usize {
        park::key_of(&self.state)
    }

    #[inline]
    fn phase(&self) -> usize {
        // Relaxed: under the queue lock, or a snapshot.
        self.state.load(Ordering::Relaxed) & PHASE_MASK
    }

    fn set_state(&self, phase: usize, count: usize) {
        // Relaxed: under the queue lock.
        self.state
            .store((count << COUNT_SHIFT) | phase, Ordering::Relaxed);
    }

    /// Sets `BREAK_NEXT` (while `RELEASING` or `DRAINING`). Under the queue
    /// lock.
    fn break_next(&self) {
        // Relaxed: under the queue lock.
        self.state.fetch_or(BREAK_NEXT, Ordering::Relaxed);
    }

    fn generation(&self) -> usize {
        // Relaxed: under the queue lock, or a hint checked under it.
        self.generation.load(Ordering::Relaxed)
    }

    fn next_generation(&self) {
        let g = (self.generation() + 1) & GEN_MASK;
        // Relaxed: under the queue lock.
        self.generation.store(g, Ordering::Relaxed);
    }

    fn owed_count(&self) -> usize {
        // Relaxed: under the queue lock.
        self.owed.load(Ordering::Relaxed) >> 1
    }

    /// An owed party collects its result: `(ok, last)`. Under the queue lock.
    fn collect(&self) -> (bool, bool) {
        // Relaxed: under the queue lock.
        let before = self.owed.fetch_sub(OWED_ONE, Ordering::Relaxed);
        (before & DRAIN_OK != 0, before >> 1 == 1)
    }

    /// After the last owed party collected: if the barrier was draining, the
    /// next round starts. Under the queue lock, in an unpark whose filter
    /// woke the arrivals waiting for a round to end.
    fn end_draining(&self) {
        if self.phase() == DRAINING {
            self.start_next_round();
        }
    }

    /// Runs `change` under the queue lock and wakes every parked thread with
    /// `TOKEN_BROKEN` (abort, reset): parties get `Err`, arrivals retry.
    fn transition(&self, change: impl FnOnce()) {
        park::unpark_filter(
            self.key(),
            |_| FilterOp::Unpark,
            |_| {
                change();
                TOKEN_BROKEN
            },
        );
    }

    /// Wakes the parties of round `generation` (with `token`) and the
    /// arrivals waiting for a round to end (which ignore it).
    fn wake_round(&self, generation: usize, tok: UnparkToken) {
        park::unpark_filter(self.key(), round_and_arrivals(generation), |_| tok);
    }

    /// The park token an arrival expects to need, from a look at the state;
    /// `arrive` checks it under the queue lock.
    fn predict(state: usize, generation: usize) -> ParkToken {
        match state & PHASE_MASK {
            FILLING | BROKEN => token(generation, KIND_WAIT),
            _ => token(0, KIND_ENTER),
        }
    }

    /// Arrives, under the queue lock. Returns what happened; `Wait` and
    /// `Enter` park (and only when `tok` is the right token for it).
    fn arrive(&self, tok: ParkToken) -> Arrival {
        // Relaxed: under the queue lock.
        let s = self.state.load(Ordering::Relaxed);
        let g = self.generation();
        match s & PHASE_MASK {
            BROKEN => Arrival::Broken,
            FILLING => {
                let index = s >> COUNT_SHIFT;
                if index + 1 == self.parties {
                    self.set_state(RELEASING, 0);
                    // Relaxed: under the queue lock. No party is owed while
                    // filling; now the releaser is, and the result is not
                    // yet success.
                    self.owed.store(OWED_ONE, Ordering::Relaxed);
                    Arrival::Release(index, g)
                } else if tok != token(g, KIND_WAIT) {
                    Arrival::Retry(s, g)
                } else {
                    self.set_state(FILLING, index + 1);
                    Arrival::Wait(index)
                }
            }
            // The round being released or drained still completes, but an
            // arrival timed out waiting for the next one: that round is
            // already broken (`broken()` says so), so do not wait for it.
            _ if s & BREAK_NEXT != 0 => Arrival::Broken,
            _ if is_enter(tok) => Arrival::Enter,
            _ => Arrival::Retry(s, g),
        }
    }

    /// An arrival's deadline passed before it could join a round, and it
    /// was taken out of the queue; under the queue lock. It breaks the round
    /// it was waiting to join:
    /// * `RELEASING`, `DRAINING`: the previous round still ends (the action
    ///   runs, or stragglers collect); the next round will start broken, and
    ///   the barrier counts as broken from now on (`BREAK_NEXT`);
    /// * `BROKEN`: nothing left to break;
    /// * `FILLING`: the round it waited for has started without waking it.
    ///   Every transition that starts a round wakes the waiting arrivals in
    ///   the same critical section (module docs), so this is not reached;
    ///   were it reached, that round is the one to break.
    fn arrival_timed_out(&self) -> Timeout {
        match self.phase() {
            RELEASING | DRAINING => {
                self.break_next();
                Timeout::Entering
            }
            FILLING => {
                self.set_state(BROKEN, 0);
                Timeout::Broke(self.generation())
            }
            _ => Timeout::Broken,
        }
    }

    /// Starts the next round: filling, or broken if an arrival timed out
    /// waiting for it. Under the queue lock.
    fn start_next_round(&self) {
        self.next_generation();
        // Relaxed: under the queue lock.
        if self.state.load(Ordering::Relaxed) & BREAK_NEXT != 0 {
            self.set_state(BROKEN, 0);
        } else {
            self.set_state(FILLING, 0);
        }
    }

    /// A party of round `generation` timed out and was taken out of the
    /// queue; under the queue lock. See the module docs for why these are
    /// the only cases.
    fn waiter_timed_out(&self, generation: usize) -> Timeout {
        match self.phase() {
            FILLING if self.generation() == generation => {
                self.set_state(BROKEN, 0);
                Timeout::Broke(generation)
            }
            RELEASING => {
                // Relaxed: under the queue lock.
                self.owed.fetch_add(OWED_ONE, Ordering::Relaxed);
                Timeout::Straggle
            }
            _ => Timeout::Broken,
        }
    }

    fn wait_inner(&self, deadline: Option<Instant>) -> Result<usize, Error> {
        // Relaxed: only a guess at the park token, checked under the lock.
        let mut seen = (self.state.load(Ordering::Relaxed), self.generation());
        loop {
            let tok = Self::predict(seen.0, seen.1);
            let arrival = Cell::new(Arrival::Broken);
            let timeout = Cell::new(Timeout::Broken);
            // The deadline covers the whole call: also the wait of an arrival
            // for the previous round to finish (so a timed wait from inside
            // the action cannot hang).
            let result = park::park(
                self.key(),
                || {
                    let a = self.arrive(tok);
                    arrival.set(a);
                    matches!(a, Arrival::Wait(_) | Arrival::Enter)
                },
                || {
                    if !is_enter(tok) {
                        self.spin_while_filling(tok.0 >> 1, deadline);
                    }
                },
                |_key, _was_last| {
                    timeout.set(if is_enter(tok) {
                        self.arrival_timed_out()
                    } else {
                        self.waiter_timed_out(tok.0 >> 1)
                    })
                },
                tok,
                deadline,
            );
            match (result, arrival.get()) {
                (ParkResult::Invalid, Arrival::Broken) => return Err(Error::BrokenBarrier),
                (ParkResult::Invalid, Arrival::Release(index, g)) => {
                    return self.release_round(index, g);
                }
                (ParkResult::Invalid, Arrival::Retry(s, g)) => seen = (s, g),
                (ParkResult::Unparked(t), Arrival::Wait(index)) => return outcome(t, index),
                (ParkResult::TimedOut, Arrival::Wait(index)) => {
                    return match timeout.get() {
                        Timeout::Broke(g) => {
                            self.wake_round(g, TOKEN_BROKEN);
                            Err(Error::BrokenBarrier)
                        }
                        Timeout::Broken => Err(Error::BrokenBarrier),
                        Timeout::Straggle => self.straggle(index, tok),
                        Timeout::Entering => unreachable!("a party of a round is not entering"),
                    };
                }
                // Timed out before joining a round: it broke the round it was
                // waiting to join (`arrival_timed_out`), as a timeout breaks
                // the barrier for a party (Python's `_break`).
                (ParkResult::TimedOut, Arrival::Enter) => {
                    if let Timeout::Broke(g) = timeout.get() {
                        self.wake_round(g, TOKEN_BROKEN);
                    }
                    return Err(Error::BrokenBarrier);
                }
                // An arrival woken because the previous round ended: look again.
                (_, Arrival::Enter) => {
                    seen = (self.state.load(Ordering::Relaxed), self.generation())
                }
                _ => unreachable!("park result does not match the arrival"),
            }
        }
    }

    /// `before_sleep` of a queued party of round `generation`: spins briefly
    /// (`sync::spin_before_sleep`: a few µs of pauses, where spinning can
    /// help) while its round is still filling or releasing, so that when the
    /// last party arrives soon (lock-step), the release's wake-up finds this
    /// thread not yet asleep and its `park` returns without a futex sleep.
    /// The party is already queued with its index and its token: this only
    /// reads snapshots and changes nothing, so the state machine is the same
    /// as without it. Stops at the deadline. Never spins under loom.
    fn spin_while_filling(&self, generation: usize, deadline: Option<Instant>) {
        spin_before_sleep(|| {
            // Relaxed: snapshots; the result comes from the unpark token.
            let s = self.state.load(Ordering::Relaxed);
            !matches!(s & PHASE_MASK, FILLING | RELEASING)
                || self.generation() != generation
                || deadline.is_some_and(|d| Instant::now() >= d)
        });
    }

    /// The last arrival: runs the action, then releases the round (or breaks
    /// it, if the action panicked) with one wake-up call.
    fn release_round(&self, index: usize, generation: usize) -> Result<usize, Error> {
        let panicked = match &self.action {
            // AssertUnwindSafe: after a panic the barrier is broken and
            // the panic resumed; no state of ours is left half-updated.
            Some(action) => panic::catch_unwind(AssertUnwindSafe(action)).err(),
            None => None,
        };
        let ok = Cell::new(false);
        park::unpark_filter(self.key(), round_and_arrivals(generation), |_| {
            let phase = self.phase();
            let (_, last) = self.collect();
            if phase != RELEASING {
                // `abort` or `reset` ran during the action: the round
                // failed (they already woke its parties). If we were
                // the last owed party of a reset, the next round starts;
                // the filter has already woken the waiting arrivals.
                if last {
                    self.end_draining();
                }
                return TOKEN_BROKEN;
            }
            if panicked.is_some() {
                self.set_state(BROKEN, 0);
                return TOKEN_BROKEN;
            }
            ok.set(true);
            if last {
                self.start_next_round();
            } else {
                // Stragglers are owed success; they start the next round.
                // Relaxed (both): under the queue lock.
                self.owed.fetch_or(DRAIN_OK, Ordering::Relaxed);
                // Keeps `BREAK_NEXT`: the round they start may be broken.
                let s = self.state.load(Ordering::Relaxed);
                self.state
                    .store((s & BREAK_NEXT) | DRAINING, Ordering::Relaxed);
            }
            TOKEN_OK
        });
        if let Some(payload) = panicked {
            panic::resume_unwind(payload);
        }
        if ok.get() {
            Ok(index)
        } else {
            Err(Error::BrokenBarrier)
        }
    }

    /// A party whose timeout fired while the action ran: it is owed its
    /// round's result. While the action still runs it parks again (without
    /// timeout) until the releaser hands the result over; once the round has
    /// ended, it collects the result from `owed`.
    fn straggle(&self, index: usize, tok: ParkToken) -> Result<usize, Error> {
        let result = park::park(
            self.key(),
            || {
                if self.phase() == RELEASING {
                    // Queued again: the releaser's wake-up will reach us, so
                    // we are no longer owed.
                    self.collect();
                    return true;
                }
                false
            },
            || {},
            |_, _| {},
            tok,
            None,
        );
        if let ParkResult::Unparked(t) = result {
            return outcome(t, index);
        }
        // The round has ended (or was aborted or reset): it cannot be
        // released again while we are owed, so our result waits in `owed`.
        // If we are the last owed party of a draining round, collecting
        // starts the next round; the filter runs first, under the same lock,
        // and wakes the arrivals waiting for that round in the same critical
        // section, so none of them can time out queued behind a round that
        // has started (the module docs' argument).
        let ok = Cell::new(false);
        park::unpark_filter(
            self.key(),
            |t| {
                if is_enter(t) && self.phase() == DRAINING && self.owed_count() == 1 {
                    FilterOp::Unpark
                } else {
                    FilterOp::Skip
                }
            },
            |_| {
                let (collected, last) = self.collect();
                ok.set(collected);
                if last {
                    self.end_draining();
                }
                TOKEN_OK
            },
        );
        if ok.get() {
            Ok(index)
        } else {
            Err(Error::BrokenBarrier)
        }
    }
}

/// Whether a state word means "broken": `BROKEN`, or an arrival's timeout
/// already broke the round after the one being released or drained.
#[inline]
fn is_broken(s: usize) -> bool {
    s & PHASE_MASK == BROKEN || (s & PHASE_MASK != FILLING && s & BREAK_NEXT != 0)
}

/// A party's result from its wake-up token.
#[inline]
fn outcome(t: UnparkToken, index: usize) -> Result<usize, Error> {
    if t == TOKEN_OK {
        Ok(index)
    } else {
        Err(Error::BrokenBarrier)
    }
}

impl fmt::Debug for Barrier {
    /// Shows `parties`, `n_waiting` and `broken` (snapshots; never blocks).
    ///
    /// ```
    /// let b = pysync::Barrier::new(2);
    /// assert_eq!(format!("{b:?}"), "Barrier { parties: 2, n_waiting: 0, broken: false }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("n_waiting", &self.n_waiting())
            .field("broken", &self.broken())
            .finish()
    }
}

#[cfg(not(loom))]
mod assertions {
    use super::Barrier;
    use static_assertions::assert_impl_all;
    assert_impl_all!(Barrier: Send, Sync, core::fmt::Debug);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "Barrier needs at least 1 party")]
    fn zero_parties_panics() {
        let _watchdog = crate::test_watchdog::watchdog();
        let _ = Barrier::new(0);
    }

    #[test]
    fn too_many_parties_is_an_error() {
        let _watchdog = crate::test_watchdog::watchdog();
        assert!(Barrier::try_new(MAX_PARTIES + 1).is_err());
        assert!(Barrier::try_new(MAX_PARTIES).is_ok());
    }
}
