//! [`RawBarrier`]: the state machine of a [`Barrier`](super::Barrier):
//! rounds, phases, the parties owed a result, and how every wake-up and
//! timeout is decided under the queue lock.
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
//! else `FILLING`. `broken` is `BROKEN` or `BREAK_NEXT`.
//!
//! Waiters learn their result from the **unpark token** the waker hands them
//! (`token::HANDOFF`: the round completed; `token::BROKEN`), so a released waiter never touches the
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

use crate::deadline::Deadline;
use crate::error::Error;
use crate::park::{self, FilterOp, ParkResult, ParkToken, UnparkToken, token};
use crate::sync::{AtomicUsize, Ordering, loom_const_fn, spin_before_sleep};
use core::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

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
pub(crate) const MAX_PARTIES: usize = usize::MAX >> COUNT_SHIFT;

/// `generation` wraps within 63 (31) bits so it fits a park token with a kind bit.
const GEN_MASK: usize = usize::MAX >> 1;

/// `owed`: the owed parties' result is success.
const DRAIN_OK: usize = 1;
/// `owed`: one owed party.
const OWED_ONE: usize = 2;

/// A waiter's park token: `generation << 1 | kind`, the barrier's park-token
/// vocabulary (see `crate::park::token`). Kind 0: a party of the round in
/// that generation; kind 1: an arrival waiting for the previous round to
/// end (its generation is unused).
#[inline]
fn party_token(generation: usize) -> ParkToken {
    ParkToken(generation << 1)
}

/// The park token of an arrival waiting for a round to end.
const ARRIVAL_TOKEN: ParkToken = ParkToken(1);

/// Whether `t` is an arrival's token.
#[inline]
fn is_arrival(t: ParkToken) -> bool {
    t.0 & 1 == 1
}

/// The round of a party's token.
#[inline]
fn generation_of(t: ParkToken) -> usize {
    t.0 >> 1
}

/// The unpark filter that wakes the parties of round `generation` and the
/// arrivals waiting for a round to end, and skips everyone else.
fn round_and_arrivals(generation: usize) -> impl FnMut(ParkToken) -> FilterOp {
    let mine = party_token(generation);
    move |t| {
        if t == mine || is_arrival(t) {
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

/// The barrier's state words (see the module docs) and its party count.
pub(crate) struct RawBarrier {
    state: AtomicUsize,
    generation: AtomicUsize,
    owed: AtomicUsize,
    parties: usize,
}

/// A round's action, run by its last arrival.
pub(crate) type Action<'a> = Option<&'a (dyn Fn() + Sync)>;

impl RawBarrier {
    loom_const_fn! {
        /// A filling first round of `parties` (checked by the caller:
        /// `1..=MAX_PARTIES`).
        pub(crate) fn new(parties: usize) -> RawBarrier {
            RawBarrier {
                state: AtomicUsize::new(FILLING),
                generation: AtomicUsize::new(0),
                owed: AtomicUsize::new(0),
                parties,
            }
        }
    }

    #[inline]
    pub(crate) fn parties(&self) -> usize {
        self.parties
    }

    /// Python's `n_waiting`: a snapshot.
    #[inline]
    pub(crate) fn n_waiting(&self) -> usize {
        // Relaxed: a snapshot; `count` and the phase share one word.
        let s = self.state.load(Ordering::Relaxed);
        match s & PHASE_MASK {
            FILLING => s >> COUNT_SHIFT,
            RELEASING => self.parties,
            _ => 0,
        }
    }

    /// Python's `broken`: a snapshot, one load (both answers live in one
    /// word).
    #[inline]
    pub(crate) fn broken(&self) -> bool {
        // Relaxed: a snapshot.
        is_broken(self.state.load(Ordering::Relaxed))
    }

    /// Python's `reset`.
    pub(crate) fn reset(&self) {
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

    /// Python's `abort`.
    pub(crate) fn abort(&self) {
        self.transition(|| self.set_state(BROKEN, 0));
    }

    /// The parking key: the state word's address.
    #[inline]
    fn key(&self) -> usize {
        park::key_of(&self.state)
    }

    #[inline]
    fn phase(&self) -> usize {
        // Relaxed: the queue lock, or a snapshot.
        self.state.load(Ordering::Relaxed) & PHASE_MASK
    }

    fn set_state(&self, phase: usize, count: usize) {
        self.state
            .store((count << COUNT_SHIFT) | phase, Ordering::Relaxed);
    }

    /// Sets `BREAK_NEXT` (while `RELEASING` or `DRAINING`). Under the queue
    /// lock.
    fn break_next(&self) {
        self.state.fetch_or(BREAK_NEXT, Ordering::Relaxed);
    }

    fn generation(&self) -> usize {
        // Relaxed: the queue lock, or a hint checked under it.
        self.generation.load(Ordering::Relaxed)
    }

    fn next_generation(&self) {
        let g = (self.generation() + 1) & GEN_MASK;
        self.generation.store(g, Ordering::Relaxed);
    }

    fn owed_count(&self) -> usize {
        self.owed.load(Ordering::Relaxed) >> 1
    }

    /// An owed party collects its result: `(ok, last)`. Under the queue lock.
    fn collect(&self) -> (bool, bool) {
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
    /// `token::BROKEN` (abort, reset): parties get `Err`, arrivals retry.
    fn transition(&self, change: impl FnOnce()) {
        let filter = |_| FilterOp::Unpark;
        let callback = |_| {
            change();
            token::BROKEN
        };
        park::unpark_filter(self.key(), filter, callback);
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
            FILLING | BROKEN => party_token(generation),
            _ => ARRIVAL_TOKEN,
        }
    }

    /// Arrives, under the queue lock. Returns what happened; `Wait` and
    /// `Enter` park (and only when `tok` is the right token for it).
    fn arrive(&self, tok: ParkToken) -> Arrival {
        let s = self.state.load(Ordering::Relaxed);
        let g = self.generation();
        match s & PHASE_MASK {
            BROKEN => Arrival::Broken,
            FILLING => {
                let index = s >> COUNT_SHIFT;
                if index + 1 == self.parties {
                    self.set_state(RELEASING, 0);
                    // No party is owed while
                    // filling; now the releaser is, and the result is not
                    // yet success.
                    self.owed.store(OWED_ONE, Ordering::Relaxed);
                    Arrival::Release(index, g)
                } else if tok != party_token(g) {
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
            _ if is_arrival(tok) => Arrival::Enter,
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
                self.owed.fetch_add(OWED_ONE, Ordering::Relaxed);
                Timeout::Straggle
            }
            _ => Timeout::Broken,
        }
    }

    /// Python's `wait`, until `deadline`; `action` runs in the last arrival.
    /// A try (`Deadline::is_now`) queues nothing: its timeout fires at once,
    /// inside `validate`, with the same meaning as one fired in the queue.
    pub(crate) fn wait(&self, deadline: Deadline, action: Action<'_>) -> Result<usize, Error> {
        let now = deadline.is_now();
        let deadline = deadline.instant();
        // Relaxed: only a guess at the park token, checked under the lock.
        let mut seen = (self.state.load(Ordering::Relaxed), self.generation());
        loop {
            let tok = Self::predict(seen.0, seen.1);
            let arrival = Cell::new(Arrival::Broken);
            let timeout = Cell::new(None);
            // The deadline covers the whole call: also the wait of an arrival
            // for the previous round to finish (so a timed wait from inside
            // the action cannot hang).
            let validate = || {
                let a = self.arrive(tok);
                arrival.set(a);
                let parks = matches!(a, Arrival::Wait(_) | Arrival::Enter);
                if parks && now {
                    timeout.set(Some(self.timed_out(tok)));
                    return false;
                }
                parks
            };
            let before_sleep = || self.before_sleep(tok, deadline);
            let timed_out = |_key, _was_last| timeout.set(Some(self.timed_out(tok)));
            let result = park::park(self.key(), validate, before_sleep, timed_out, tok, deadline);
            let result = match (result, timeout.get()) {
                (ParkResult::Invalid, Some(_)) => ParkResult::TimedOut,
                (result, _) => result,
            };
            let timeout = timeout.get().unwrap_or(Timeout::Broken);
            match (result, arrival.get()) {
                (ParkResult::Invalid, Arrival::Broken) => return Err(Error::BrokenBarrier),
                (ParkResult::Invalid, Arrival::Release(index, g)) => {
                    return self.release_round(index, g, action);
                }
                (ParkResult::Invalid, Arrival::Retry(s, g)) => seen = (s, g),
                (ParkResult::Unparked(t), Arrival::Wait(index)) => return outcome(t, index),
                (ParkResult::TimedOut, Arrival::Wait(index)) => {
                    return match timeout {
                        Timeout::Broke(g) => {
                            self.wake_round(g, token::BROKEN);
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
                    if let Timeout::Broke(g) = timeout {
                        self.wake_round(g, token::BROKEN);
                    }
                    return Err(Error::BrokenBarrier);
                }
                // An arrival woken because the previous round ended: look again.
                (_, Arrival::Enter) => {
                    // Relaxed: a guess, checked under the lock.
                    seen = (self.state.load(Ordering::Relaxed), self.generation())
                }
                _ => unreachable!("park result does not match the arrival"),
            }
        }
    }

    /// What the timeout of the waiter parked with `tok` means; under the
    /// queue lock, once the waiter is out of the queue (or never entered it:
    /// a try).
    fn timed_out(&self, tok: ParkToken) -> Timeout {
        if is_arrival(tok) {
            self.arrival_timed_out()
        } else {
            self.waiter_timed_out(generation_of(tok))
        }
    }

    /// `before_sleep` of a queued waiter (the spin point): a party spins
    /// while its round fills (see `spin_while_filling`); an arrival does not.
    #[inline]
    fn before_sleep(&self, tok: ParkToken, deadline: Option<Instant>) {
        if !is_arrival(tok) {
            self.spin_while_filling(generation_of(tok), deadline);
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
    fn release_round(
        &self,
        index: usize,
        generation: usize,
        action: Action<'_>,
    ) -> Result<usize, Error> {
        let panicked = match action {
            // AssertUnwindSafe: after a panic the barrier is broken and
            // the panic resumed; no state of ours is left half-updated.
            Some(action) => panic::catch_unwind(AssertUnwindSafe(action)).err(),
            None => None,
        };
        let ok = Cell::new(false);
        let callback = |_| {
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
                return token::BROKEN;
            }
            if panicked.is_some() {
                self.set_state(BROKEN, 0);
                return token::BROKEN;
            }
            ok.set(true);
            if last {
                self.start_next_round();
            } else {
                // Stragglers are owed success; they start the next round.
                self.owed.fetch_or(DRAIN_OK, Ordering::Relaxed);
                // Keeps `BREAK_NEXT`: the round they start may be broken.
                let s = self.state.load(Ordering::Relaxed);
                self.state
                    .store((s & BREAK_NEXT) | DRAINING, Ordering::Relaxed);
            }
            token::HANDOFF
        };
        park::unpark_filter(self.key(), round_and_arrivals(generation), callback);
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
        let validate = || {
            if self.phase() == RELEASING {
                // Queued again: the releaser's wake-up will reach us, so we
                // are no longer owed.
                self.collect();
                return true;
            }
            false
        };
        let before_sleep = || {};
        let timed_out = |_, _| {};
        let result = park::park(self.key(), validate, before_sleep, timed_out, tok, None);
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
        let filter = |t| {
            if is_arrival(t) && self.phase() == DRAINING && self.owed_count() == 1 {
                FilterOp::Unpark
            } else {
                FilterOp::Skip
            }
        };
        let callback = |_| {
            let (collected, last) = self.collect();
            ok.set(collected);
            if last {
                self.end_draining();
            }
            token::HANDOFF
        };
        park::unpark_filter(self.key(), filter, callback);
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
    if t == token::HANDOFF {
        Ok(index)
    } else {
        Err(Error::BrokenBarrier)
    }
}
