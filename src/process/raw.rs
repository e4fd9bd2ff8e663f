//! The state machines of the process primitives, in shared memory.
//!
//! Every type here is `#[repr(C)]`, made only of 32/64-bit atomics, and
//! valid when all-zero (except for the parameters a constructor writes), so
//! that it can live in a mapping shared by processes built from the same
//! layout version. Nothing here holds a pointer.
//!
//! The state machines are generic over [`Cx`], "the calling process": its
//! token and a liveness test for other tokens. The real `Cx` is a
//! [`Region`](super::Region) handle; the loom models use threads as
//! processes with a scripted liveness table (see `tests/loom/process.rs`).
//! Waiting goes through the futex seam (`super::futex`), whose sliced waits
//! make every blocked waiter re-check the liveness of whoever it waits for
//! at least every [`SLICE`](super::futex::SLICE).
//!
//! Orderings, once for the whole file: a field that is only read and
//! written under an *inner lock* (a `RawLock`: the semaphore's queue and
//! per-process counts, the condition's cells, the barrier's count, round,
//! arrivals and outcome) is `Relaxed`, because that lock's Acquire/Release
//! orders it; snapshots for `Debug` and accessors (`available`,
//! `n_waiting`, `held_by`) are `Relaxed` because they order nothing. Every
//! other ordering says at its use what it pairs with.
// The `new` constructors build values for the loom models; in a region the
// objects are zeroed memory set up by `init`.
#![cfg_attr(not(loom), allow(dead_code))]

use super::futex::{self, Waiter, Woke};
use crate::error::Error;
use crate::sync::{AtomicU32, AtomicU64, Ordering, SpinWait};
use std::time::Instant;

/// The calling process, as the state machines see it.
pub trait Cx {
    /// This process's token in the region: non-zero, below `1 << 24`;
    /// `token & 0xFF` is its slot, the rest the slot's generation.
    fn me(&self) -> u32;
    /// Whether the process that registered `token` is still alive. Only
    /// called on slow paths (after a slice of waiting); may read `/proc`.
    fn alive(&self, token: u32) -> bool;
}

/// Bits of a lock word that hold the owner's token.
pub const TOKEN_MASK: u32 = (1 << 24) - 1;
/// Bits of a token that name its slot.
pub const SLOT_MASK: u32 = 0xFF;
/// Slots in the region's process table (index 0 is never used), and so in
/// every per-process table of a primitive. Under loom: 4.
pub const MAX_SLOTS: usize = if cfg!(loom) { 4 } else { 256 };
/// Waiter cells per Semaphore / Condition queue. Under loom: 3.
pub const QCAP: usize = if cfg!(loom) { 3 } else { 64 };

/// The slot of `token`, clamped into the tables.
#[inline]
fn slot_of(token: u32) -> usize {
    (token & SLOT_MASK) as usize % MAX_SLOTS
}

/// Outcome of an acquisition attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Got {
    /// Not acquired (try failed or deadline passed).
    No,
    /// Acquired.
    Yes,
    /// Acquired from a process that died holding it.
    Recovered,
}

impl Got {
    /// Whether the caller now holds it.
    #[inline]
    pub fn ok(self) -> bool {
        self != Got::No
    }
}

// ===========================================================================
// Lock
// ===========================================================================

/// The current holder recovered the lock from a dead owner.
const DIED: u32 = 1 << 29;
/// Waiters may be asleep on the word: a release must wake one.
const WAITERS: u32 = 1 << 30;

/// `process::Lock`: one 32-bit word, `owner token | DIED | WAITERS`.
///
/// | transition | who | ordering |
/// |---|---|---|
/// | `0 → me` | acquirer, one CAS (fast path) | Acquire |
/// | `0 → me\|W` | acquirer that has slept (others may sleep too) | Acquire |
/// | `o → o\|W` | waiter about to sleep | Relaxed (the futex re-checks the word) |
/// | `me → 0` | releaser, one CAS (fast path) | Release |
/// | `o\|… → 0`, then wake 1 if `W` | releaser, slow path (any process: not owned) | Release |
/// | `dead\|W? → me\|DIED\|W?` | waiter that found the owner dead after a slice | Acquire |
#[repr(C)]
#[derive(Debug, Default)]
pub struct RawLock {
    word: AtomicU32,
}

impl RawLock {
    /// Unlocked.
    pub fn new() -> RawLock {
        RawLock {
            word: AtomicU32::new(0),
        }
    }

    /// The uncontended acquire: one CAS.
    #[inline]
    pub fn try_fast(&self, me: u32) -> bool {
        // Acquire: pairs with the Release of the previous release.
        self.word
            .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Acquires if free, never blocks, never checks liveness.
    pub fn try_acquire(&self, me: u32) -> bool {
        // Relaxed: a guess for the CAS, which orders.
        let mut w = self.word.load(Ordering::Relaxed);
        while w & TOKEN_MASK == 0 {
            // Acquire: pairs with the previous release.
            match self.word.compare_exchange_weak(
                w,
                me | (w & WAITERS),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(x) => w = x,
            }
        }
        false
    }

    /// Acquires, waiting until `deadline` (`None`: forever). A holder that
    /// dies is noticed within one slice of waiting: the lock is then
    /// [`Got::Recovered`].
    #[inline]
    pub fn acquire<C: Cx>(&self, cx: &C, deadline: Option<Instant>) -> Got {
        if self.try_fast(cx.me()) {
            return Got::Yes;
        }
        self.acquire_slow(cx, deadline)
    }

    /// Waits until acquired or `deadline` (after `try_fast` failed).
    #[cold]
    #[inline(never)]
    pub fn acquire_slow<C: Cx>(&self, cx: &C, deadline: Option<Instant>) -> Got {
        let me = cx.me();
        let mut spin = SpinWait::new();
        let mut waiter = Waiter::new(deadline);
        let mut slept = false;
        // Relaxed: a guess for the CASes, which order.
        let mut w = self.word.load(Ordering::Relaxed);
        loop {
            if w & TOKEN_MASK == 0 {
                // After sleeping, others may still sleep: keep WAITERS so
                // our release wakes the next one.
                let new = me | if slept { WAITERS } else { w & WAITERS };
                // Acquire: pairs with the previous release.
                match self
                    .word
                    .compare_exchange_weak(w, new, Ordering::Acquire, Ordering::Relaxed)
                {
                    Ok(_) => return Got::Yes,
                    Err(x) => w = x,
                }
                continue;
            }
            if !slept && w & WAITERS == 0 && spin.spin() {
                w = self.word.load(Ordering::Relaxed);
                continue;
            }
            // A wait whose deadline ran out while it spun checks liveness
            // once, as one that slept does at its deadline: on a loaded
            // machine a short wait may never get to sleep, and it must
            // still recover a dead owner's lock (a loop of 10 ms waits
            // would otherwise never notice the death). A try never gets
            // here (`try_acquire`, and a zero timeout, which the blocking
            // layer turns into one): it stays one CAS.
            if !slept && waiter.expired() {
                return self.recover(cx).unwrap_or(Got::No);
            }
            if w & WAITERS == 0 {
                // Relaxed: the futex wait re-reads the word in the kernel.
                if let Err(x) = self.word.compare_exchange_weak(
                    w,
                    w | WAITERS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    w = x;
                    continue;
                }
                w |= WAITERS;
            }
            match waiter.wait(&self.word, w) {
                Woke::Woken => {}
                Woke::Check => {
                    if let Some(got) = self.recover(cx) {
                        return got;
                    }
                }
                Woke::Deadline => return self.give_up(cx),
            }
            slept = true;
            w = self.word.load(Ordering::Relaxed);
        }
    }

    /// The deadline passed after sleeping: take the lock if it is free or
    /// its owner died; otherwise make sure `WAITERS` is set, since a wake-up
    /// we consumed must not leave sleepers behind a holder that won't wake
    /// anyone.
    fn give_up<C: Cx>(&self, cx: &C) -> Got {
        if let Some(got) = self.recover(cx) {
            return got;
        }
        let me = cx.me();
        let mut w = self.word.load(Ordering::Relaxed);
        loop {
            let (new, got) = if w & TOKEN_MASK == 0 {
                (me | WAITERS, Got::Yes)
            } else if w & WAITERS == 0 {
                (w | WAITERS, Got::No)
            } else {
                return Got::No;
            };
            // Acquire: when taking the lock, pairs with the previous release.
            match self
                .word
                .compare_exchange_weak(w, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return got,
                Err(x) => w = x,
            }
        }
    }

    /// If the word names a dead owner, takes the lock over from it:
    /// `Some(Recovered)`. `None` if the owner lives or the word changed.
    ///
    /// It reads the word afresh, never the one the waiter slept on: the
    /// owner may have changed since without waking this waiter (a release
    /// wakes one sleeper; the one it woke may take the lock and die with
    /// it), and a check against the older owner would do nothing, leaving
    /// the death to the next check a slice later (the loom model
    /// `lock_waiter_asleep_on_an_older_owner_recovers_from_the_next_one`
    /// found that).
    fn recover<C: Cx>(&self, cx: &C) -> Option<Got> {
        // Relaxed: the CAS below orders.
        let seen = self.word.load(Ordering::Relaxed);
        let owner = seen & TOKEN_MASK;
        if owner == 0 || owner == cx.me() || cx.alive(owner) {
            return None;
        }
        // Acquire: whatever the dead owner published before it died. The CAS
        // from exactly `seen` makes one waiter the recoverer.
        self.word
            .compare_exchange(
                seen,
                cx.me() | DIED | (seen & WAITERS),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()
            .map(|_| Got::Recovered)
    }

    /// Releases the lock, from any process (`Lock` is not owned).
    #[inline]
    pub fn release(&self, me: u32) -> Result<(), Error> {
        // Release: publishes the critical section to the next acquirer.
        match self
            .word
            .compare_exchange(me, 0, Ordering::Release, Ordering::Relaxed)
        {
            Ok(_) => Ok(()),
            Err(_) => self.release_slow(),
        }
    }

    #[cold]
    #[inline(never)]
    fn release_slow(&self) -> Result<(), Error> {
        let mut w = self.word.load(Ordering::Relaxed);
        loop {
            if w & TOKEN_MASK == 0 {
                return Err(Error::ReleaseUnlocked);
            }
            // Release: publishes the critical section.
            match self
                .word
                .compare_exchange_weak(w, 0, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    if w & WAITERS != 0 {
                        futex::wake(&self.word, 1);
                    }
                    return Ok(());
                }
                Err(x) => w = x,
            }
        }
    }

    /// Whether anyone holds it (a snapshot).
    #[inline]
    pub fn locked(&self) -> bool {
        // Relaxed: a snapshot that orders nothing.
        self.word.load(Ordering::Relaxed) & TOKEN_MASK != 0
    }

    /// The holder's token (0: unlocked). A snapshot.
    #[inline]
    pub fn holder(&self) -> u32 {
        // Relaxed: a snapshot.
        self.word.load(Ordering::Relaxed) & TOKEN_MASK
    }

    /// Whether the lock is held and was recovered from a dead owner by its
    /// current holder (cleared by the release).
    #[inline]
    pub fn owner_died(&self) -> bool {
        // Relaxed: the holder reads what it wrote itself.
        let w = self.word.load(Ordering::Relaxed);
        w & TOKEN_MASK != 0 && w & DIED != 0
    }
}

// ===========================================================================
// RLock
// ===========================================================================

/// A per-process id for the calling thread: non-zero, never reused within
/// the process.
fn local_thread() -> u32 {
    use std::sync::atomic::{AtomicU32 as StdU32, Ordering as O};
    // Bookkeeping, not a synchronising operation: a std atomic even under
    // loom. Relaxed: only uniqueness matters.
    static NEXT: StdU32 = StdU32::new(1);
    #[cfg(not(loom))]
    std::thread_local!(static ID: u32 = NEXT.fetch_add(1, O::Relaxed));
    #[cfg(loom)]
    loom::thread_local!(static ID: u32 = NEXT.fetch_add(1, O::Relaxed));
    ID.with(|id| *id)
}

/// `process::RLock`: a [`RawLock`], the owning thread and the depth.
///
/// The owner is `token << 32 | thread`, so a thread of a dead process can
/// never be mistaken for a live one, whatever their addresses or ids.
/// `owner` and `count` are only written by the owner (right after acquiring
/// `lock`, right before releasing it) and are Relaxed: a thread compares
/// `owner` with its own id, which only it ever writes.
#[repr(C)]
#[derive(Debug, Default)]
pub struct RawRLock {
    lock: RawLock,
    count: AtomicU32,
    owner: AtomicU64,
}

impl RawRLock {
    /// Unlocked.
    pub fn new() -> RawRLock {
        RawRLock {
            lock: RawLock::new(),
            count: AtomicU32::new(0),
            owner: AtomicU64::new(0),
        }
    }

    #[inline]
    fn id(me: u32) -> u64 {
        u64::from(me) << 32 | u64::from(local_thread())
    }

    /// Whether the calling thread owns it.
    #[inline]
    pub fn is_owned(&self, me: u32) -> bool {
        // Relaxed: see the type's docs.
        self.owner.load(Ordering::Relaxed) == Self::id(me)
    }

    /// The calling thread's depth (0 if not the owner).
    pub fn recursion_count(&self, me: u32) -> u32 {
        if self.is_owned(me) {
            self.count.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// Acquires (re-entering if owned), until `deadline`; `try_only` makes
    /// it a try.
    pub fn acquire<C: Cx>(&self, cx: &C, deadline: Option<Instant>, try_only: bool) -> Got {
        let me = cx.me();
        if self.is_owned(me) {
            let c = self.count.load(Ordering::Relaxed);
            assert!(c < u32::MAX, "RLock recursion depth overflow");
            self.count.store(c + 1, Ordering::Relaxed);
            return Got::Yes;
        }
        let got = if try_only {
            if self.lock.try_acquire(me) {
                Got::Yes
            } else {
                Got::No
            }
        } else {
            self.lock.acquire(cx, deadline)
        };
        if got.ok() {
            self.restore(me, 1);
        }
        got
    }

    /// Releases one level; `Err(NotOwned)` if the calling thread does not
    /// own it.
    pub fn release(&self, me: u32) -> Result<(), Error> {
        if !self.is_owned(me) {
            return Err(Error::NotOwned);
        }
        let c = self.count.load(Ordering::Relaxed);
        if c > 1 {
            self.count.store(c - 1, Ordering::Relaxed);
            return Ok(());
        }
        self.count.store(0, Ordering::Relaxed);
        self.owner.store(0, Ordering::Relaxed);
        self.lock.release(me)
    }

    /// Releases every level; the depth, or `Err(NotOwned)`.
    pub fn release_save(&self, me: u32) -> Result<u32, Error> {
        if !self.is_owned(me) {
            return Err(Error::NotOwned);
        }
        let c = self.count.load(Ordering::Relaxed);
        self.count.store(0, Ordering::Relaxed);
        self.owner.store(0, Ordering::Relaxed);
        self.lock.release(me).map(|()| c)
    }

    /// After acquiring the inner lock: become the owner at depth `count`.
    pub fn restore(&self, me: u32, count: u32) {
        self.owner.store(Self::id(me), Ordering::Relaxed);
        self.count.store(count, Ordering::Relaxed);
    }

    /// The inner lock (whose holder token is the owning process).
    pub fn raw(&self) -> &RawLock {
        &self.lock
    }
}

// ===========================================================================
// Event
// ===========================================================================

/// The flag.
const SET: u32 = 1;
/// Waiters may be asleep on the word.
const EV_WAITERS: u32 = 2;
/// One `set` that raised the flag.
const EV_GEN: u32 = 4;

/// `process::Event`: one word, `generation << 2 | WAITERS | SET`.
///
/// `set` raises the flag and bumps the generation in one CAS (Release), then
/// wakes everyone if `WAITERS` was set. A waiter returns `true` when it sees
/// the flag *or a newer generation*: so a waiter woken by `set` returns
/// `true` even if `clear` follows at once. Nothing here waits on another
/// process, so nothing depends on liveness.
#[repr(C)]
#[derive(Debug, Default)]
pub struct RawEvent {
    word: AtomicU32,
}

impl RawEvent {
    /// Clear.
    pub fn new() -> RawEvent {
        RawEvent {
            word: AtomicU32::new(0),
        }
    }

    /// Whether the flag is set. Acquire: pairs with `set`'s Release.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.word.load(Ordering::Acquire) & SET != 0
    }

    /// Raises the flag and wakes every waiter; no syscall if nobody waits.
    pub fn set(&self) {
        // Relaxed: a guess for the CAS.
        let mut w = self.word.load(Ordering::Relaxed);
        loop {
            if w & SET != 0 {
                return;
            }
            let new = (w.wrapping_add(EV_GEN) | SET) & !EV_WAITERS;
            // Release: publishes what the setter did before `set` to the
            // waiters' Acquire loads.
            match self
                .word
                .compare_exchange_weak(w, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(x) => w = x,
            }
        }
        if w & EV_WAITERS != 0 {
            futex::wake_all(&self.word);
        }
    }

    /// Model only: whether a waiter announced that it sleeps.
    #[cfg(loom)]
    pub fn has_waiters(&self) -> bool {
        self.word.load(Ordering::SeqCst) & EV_WAITERS != 0
    }

    /// Lowers the flag.
    pub fn clear(&self) {
        // Relaxed: clearing publishes nothing (like `threading.Event`).
        self.word.fetch_and(!SET, Ordering::Relaxed);
    }

    /// Waits until the flag is set (or was set since the call began).
    pub fn wait(&self, deadline: Option<Instant>) -> bool {
        // Acquire: pairs with `set`'s Release.
        let mut w = self.word.load(Ordering::Acquire);
        let gen0 = w & !(SET | EV_WAITERS);
        let mut waiter = Waiter::new(deadline);
        let mut spin = SpinWait::new();
        loop {
            if w & SET != 0 || w & !(SET | EV_WAITERS) != gen0 {
                return true;
            }
            if spin.spin() {
                w = self.word.load(Ordering::Acquire);
                continue;
            }
            if waiter.expired() {
                return false;
            }
            if w & EV_WAITERS == 0 {
                // Relaxed: the futex wait re-checks the word.
                if let Err(x) = self.word.compare_exchange_weak(
                    w,
                    w | EV_WAITERS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    w = x;
                    continue;
                }
                w |= EV_WAITERS;
            }
            let woke = waiter.wait(&self.word, w);
            w = self.word.load(Ordering::Acquire);
            if woke == Woke::Deadline {
                return w & SET != 0 || w & !(SET | EV_WAITERS) != gen0;
            }
        }
    }
}

// ===========================================================================
// Waiter queue (Semaphore, Condition)
// ===========================================================================

/// A free cell.
const FREE: u32 = 0;
/// A waiter sleeps on this cell.
const WAITING: u32 = 1;
/// The waiter was granted (a permit / a notification) and has not yet
/// picked it up.
const GRANTED: u32 = 2;

/// One waiter's cell: its futex word, its process, its place in the queue.
#[repr(C)]
#[derive(Debug, Default)]
pub struct QCell {
    /// `FREE` / `WAITING` / `GRANTED`: the waiter sleeps on it.
    state: AtomicU32,
    /// The waiter's process token.
    owner: AtomicU32,
    /// Arrival number: FIFO order.
    seq: AtomicU32,
    /// Per primitive: Semaphore, 1 if the permit is for a guard; Condition,
    /// the queue's `next` when the cell was notified.
    arg: AtomicU32,
}

/// A fixed array of waiter cells, FIFO by arrival number.
///
/// Cells are claimed (`FREE → WAITING`) and granted (`WAITING → GRANTED`)
/// only under the owning primitive's inner lock; the waiter itself leaves
/// with a CAS on its own cell (`WAITING → FREE`: gave up; or finds
/// `GRANTED` and frees it), so a grant and a timeout can never both win.
#[repr(C)]
#[derive(Debug)]
pub struct RawQueue {
    /// Next arrival number (under the inner lock).
    next: AtomicU32,
    /// Cells not free: a hint for fast paths with no waiters.
    len: AtomicU32,
    /// Bumped when a cell frees while someone waits for space (futex word:
    /// low bit = somebody waits for a free cell).
    space: AtomicU32,
    cells: [QCell; QCAP],
}

impl Default for RawQueue {
    fn default() -> RawQueue {
        RawQueue {
            next: AtomicU32::new(0),
            len: AtomicU32::new(0),
            space: AtomicU32::new(0),
            cells: std::array::from_fn(|_| QCell::default()),
        }
    }
}

/// `a` arrived before `b` (wrapping arrival numbers).
#[inline]
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl RawQueue {
    /// Under the inner lock: claims a cell for `me`; `None` if full.
    fn push(&self, me: u32, arg: u32) -> Option<usize> {
        // Relaxed throughout: the inner lock orders cell claims; the
        // waiter's own state loads pair with the granter's Release store.
        let i = self
            .cells
            .iter()
            .position(|c| c.state.load(Ordering::Relaxed) == FREE)?;
        let c = &self.cells[i];
        c.owner.store(me, Ordering::Relaxed);
        c.arg.store(arg, Ordering::Relaxed);
        let seq = self.next.load(Ordering::Relaxed);
        self.next.store(seq.wrapping_add(1), Ordering::Relaxed);
        c.seq.store(seq, Ordering::Relaxed);
        c.state.store(WAITING, Ordering::Relaxed);
        self.len.fetch_add(1, Ordering::Relaxed);
        Some(i)
    }

    /// Under the inner lock: the longest-waiting `WAITING` cell (arrived
    /// before `bound`, if given).
    fn oldest_waiting(&self, bound: Option<u32>) -> Option<usize> {
        let mut best: Option<(usize, u32)> = None;
        for (i, c) in self.cells.iter().enumerate() {
            if c.state.load(Ordering::Relaxed) != WAITING {
                continue;
            }
            let s = c.seq.load(Ordering::Relaxed);
            if bound.is_some_and(|b| !before(s, b)) {
                continue;
            }
            if best.is_none_or(|(_, bs)| before(s, bs)) {
                best = Some((i, s));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Under the inner lock: grants cell `i` (if still `WAITING`) and wakes
    /// its waiter; whether it did.
    fn grant(&self, i: usize) -> bool {
        let c = &self.cells[i];
        // Release: the waiter's Acquire load of its state sees what the
        // granter did before (the permit's release / the notify).
        let ok = c
            .state
            .compare_exchange(WAITING, GRANTED, Ordering::Release, Ordering::Relaxed)
            .is_ok();
        if ok {
            futex::wake(&c.state, 1);
        }
        ok
    }

    /// Frees cell `i` (by its waiter, or a reclaimer under the inner lock).
    fn free(&self, i: usize) {
        // Release: the next claimer (under the inner lock) may reuse it.
        self.cells[i].state.store(FREE, Ordering::Release);
        self.freed();
    }

    /// A cell became free: fix the hint, let waiters for space retry.
    fn freed(&self) {
        // Relaxed: hints; the futex wait re-checks the word.
        self.len.fetch_sub(1, Ordering::Relaxed);
        let s = self.space.fetch_add(2, Ordering::Relaxed);
        if s & 1 != 0 {
            self.space.fetch_and(!1, Ordering::Relaxed);
            futex::wake_all(&self.space);
        }
    }

    /// A waiter on its own cell `i`: leaves it. `true` if it was granted
    /// (keep the grant), `false` if it gave up first.
    fn leave(&self, i: usize) -> bool {
        // Acquire: pairs with the granter's Release.
        let gave_up = self.cells[i]
            .state
            .compare_exchange(WAITING, FREE, Ordering::Acquire, Ordering::Acquire)
            .is_ok();
        if gave_up {
            self.freed();
        } else {
            self.free(i);
        }
        !gave_up
    }

    /// Sleeps on cell `i` until granted, the deadline, or (every slice)
    /// `check` returns. Returns whether it was granted, having left the
    /// cell either way.
    fn sleep(&self, i: usize, waiter: &mut Waiter, check: impl FnMut()) -> bool {
        let granted = self.sleep_keeping(i, waiter, check);
        if granted {
            self.free(i);
        }
        granted
    }

    /// Like [`sleep`](RawQueue::sleep), but a granted cell stays `GRANTED`
    /// (owned by the caller, who frees it with `free` when done): if the
    /// caller dies before that, a reclaimer sees a dead owner's grant and
    /// passes it on. A waiter that gave up has left its cell.
    fn sleep_keeping(&self, i: usize, waiter: &mut Waiter, mut check: impl FnMut()) -> bool {
        let c = &self.cells[i];
        let mut spin = SpinWait::new();
        loop {
            // Acquire: pairs with the granter's Release.
            if c.state.load(Ordering::Acquire) == GRANTED {
                return true;
            }
            if spin.spin() {
                continue;
            }
            match waiter.wait(&c.state, WAITING) {
                Woke::Woken => {}
                Woke::Check => check(),
                Woke::Deadline => break,
            }
        }
        // Give up, unless a grant won the race: then it is ours.
        // Acquire: pairs with the granter's Release.
        let gave_up = c
            .state
            .compare_exchange(WAITING, FREE, Ordering::Acquire, Ordering::Acquire)
            .is_ok();
        if gave_up {
            self.freed();
        }
        !gave_up
    }

    /// Queue full: sleeps until a cell frees (or a slice, or the deadline).
    /// At a slice's end it runs `check` (the primitive's `reclaim`), as a
    /// queued waiter does: the cells may all be dead waiters', which only a
    /// check frees (a waiter that ignored its checks waited for space for
    /// ever behind a killed pool; the loom models
    /// `semaphore_acquirer_waiting_for_space_behind_dead_waiters_gets_the_permit`
    /// and `condition_waiter_without_a_cell_frees_dead_waiters_cells`).
    fn wait_space(&self, waiter: &mut Waiter, check: impl FnOnce()) {
        // Relaxed: the futex re-checks the word.
        let s = self.space.fetch_or(1, Ordering::Relaxed) | 1;
        if self.len.load(Ordering::Relaxed) < QCAP as u32 {
            return;
        }
        if waiter.wait(&self.space, s) == Woke::Check {
            check();
        }
    }
}

// ===========================================================================
// Semaphore
// ===========================================================================

/// `WAITING` cells may exist: acquirers take the slow path (no barging).
const QUEUED: u32 = 1 << 31;
/// The largest permit count.
pub const MAX_PERMITS: u32 = QUEUED - 1;

/// `process::Semaphore` / `BoundedSemaphore`.
///
/// * `state`: `QUEUED | permits`. Fast acquire: `c → c-1` (one CAS, only
///   while `QUEUED` is clear); fast release: `c → c+1` (one CAS, same).
///   `QUEUED` is set and cleared under `inner`.
/// * `inner`: a [`RawLock`] guarding the queue and the slow paths.
/// * `queue`: waiters in FIFO order; a release with waiters hands its
///   permit to the longest waiter's cell (`GRANTED`), so nobody barges.
/// * `held[slot]`: `token << 32 | n`, the permits process `token` holds
///   through guards; a dead process's are returned by [`RawSem::reclaim`],
///   which every blocked acquirer runs once per slice.
#[repr(C)]
#[derive(Debug)]
pub struct RawSem {
    state: AtomicU32,
    /// The bound (`MAX_PERMITS` for an unbounded semaphore).
    limit: AtomicU32,
    inner: RawLock,
    queue: RawQueue,
    held: [AtomicU64; MAX_SLOTS],
}

impl RawSem {
    /// `permits` available, at most `limit` (clamped by the caller).
    pub fn new(permits: u32, limit: u32) -> RawSem {
        RawSem {
            state: AtomicU32::new(permits),
            limit: AtomicU32::new(limit),
            inner: RawLock::new(),
            queue: RawQueue::default(),
            held: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Sets the parameters of a zeroed semaphore (creation in a region).
    pub fn init(&self, permits: u32, limit: u32) {
        // Relaxed: published by the region directory's Release.
        self.state.store(permits, Ordering::Relaxed);
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Permits available now (a snapshot).
    pub fn available(&self) -> u32 {
        self.state.load(Ordering::Relaxed) & MAX_PERMITS
    }

    /// The bound.
    pub fn limit(&self) -> u32 {
        self.limit.load(Ordering::Relaxed)
    }

    /// Whether this is a bounded semaphore.
    pub fn bounded(&self) -> bool {
        self.limit() != MAX_PERMITS
    }

    fn lock_inner<C: Cx>(&self, cx: &C) {
        // A process killed inside an inner critical section (a few
        // instructions) is recovered from like any lock owner.
        let _ = self.inner.acquire(cx, None);
    }

    fn unlock_inner<C: Cx>(&self, cx: &C) {
        let _ = self.inner.release(cx.me());
    }

    /// Acquires a permit, until `deadline`; `guard`: count it as held by
    /// this process (returned if it dies).
    pub fn acquire<C: Cx>(&self, cx: &C, deadline: Option<Instant>, guard: bool) -> bool {
        let ok = self.try_fast() || self.acquire_slow(cx, deadline);
        if ok && guard {
            self.hold(cx, 1);
        }
        ok
    }

    /// The uncontended acquire: one load and one CAS, only while nobody is
    /// queued (a fresh arrival never barges).
    #[inline]
    pub fn try_fast(&self) -> bool {
        // Relaxed: a guess for the CAS.
        let w = self.state.load(Ordering::Relaxed);
        // Acquire: pairs with the Release of the permit's release.
        w & QUEUED == 0
            && w != 0
            && self
                .state
                .compare_exchange_weak(w, w - 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// Takes a permit if one is free and nobody is queued: never blocks,
    /// never takes the inner lock.
    pub fn try_acquire(&self) -> bool {
        // Relaxed: a guess for the CAS.
        let mut w = self.state.load(Ordering::Relaxed);
        while w & QUEUED == 0 && w != 0 {
            // Acquire: pairs with the Release of the permit's release.
            match self
                .state
                .compare_exchange_weak(w, w - 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(x) => w = x,
            }
        }
        false
    }

    /// Waits for a permit until `deadline` (after `try_fast` failed).
    #[cold]
    #[inline(never)]
    pub fn acquire_slow<C: Cx>(&self, cx: &C, deadline: Option<Instant>) -> bool {
        let me = cx.me();
        let mut waiter = Waiter::new(deadline);
        loop {
            self.lock_inner(cx);
            if let Some(ok) = self.take_or_queue(&waiter) {
                self.unlock_inner(cx);
                return ok || self.last_look(cx);
            }
            let Some(i) = self.queue.push(me, 0) else {
                self.unlock_inner(cx);
                self.queue.wait_space(&mut waiter, || self.reclaim(cx));
                if waiter.expired() {
                    return self.try_take(cx) || self.last_look(cx);
                }
                continue;
            };
            self.unlock_inner(cx);
            return self.queue.sleep(i, &mut waiter, || self.reclaim(cx)) || self.last_look(cx);
        }
    }

    /// The deadline passed without a permit: checks once for dead holders
    /// and waiters (what a sleeper's slice check does), and takes a permit
    /// if that brought one back. So a timed wait shorter than a slice, or
    /// one whose deadline passed before it slept, still recovers dead
    /// holders' permits; only `try_acquire` never checks.
    #[cold]
    fn last_look<C: Cx>(&self, cx: &C) -> bool {
        self.reclaim(cx);
        self.try_take(cx)
    }

    /// Under inner: takes a permit if no waiter is queued (`Some(true)`), or
    /// gives up if the deadline passed (`Some(false)`); `None`: `QUEUED` is
    /// now set on a count of 0, so no fast release can slip a permit past
    /// the cell the caller is about to claim.
    fn take_or_queue(&self, waiter: &Waiter) -> Option<bool> {
        // Relaxed: a guess for the CASes, which order.
        let mut w = self.state.load(Ordering::Relaxed);
        loop {
            let permits = w & MAX_PERMITS;
            if permits != 0 {
                // Acquire: pairs with the permit's release.
                let taken = self.state.compare_exchange_weak(
                    w,
                    w - 1,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                );
                if taken.is_ok() {
                    match self.queue.oldest_waiting(None) {
                        // Nobody queued: the permit is ours.
                        None => return Some(true),
                        // Waiters queued (a permit counted while they
                        // were): it is theirs, FIFO.
                        Some(i) => {
                            if !self.queue.grant(i) {
                                self.state.fetch_add(1, Ordering::Release);
                            }
                        }
                    }
                }
                w = self.state.load(Ordering::Relaxed);
                continue;
            }
            if waiter.expired() {
                return Some(false);
            }
            if w & QUEUED != 0 {
                return None;
            }
            // Relaxed: under inner; a fast release now fails its CAS and
            // meets us under inner.
            match self.state.compare_exchange_weak(
                w,
                w | QUEUED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return None,
                Err(x) => w = x,
            }
        }
    }

    /// One last try (queue full at the deadline).
    fn try_take<C: Cx>(&self, cx: &C) -> bool {
        self.lock_inner(cx);
        let ok = self.take_or_queue(&Waiter::new(None)) == Some(true);
        self.unlock_inner(cx);
        ok
    }

    /// Releases `n` permits: the longest waiters get them first.
    /// `Err(TooManyReleases)` (and nothing released) past the bound.
    pub fn release<C: Cx>(&self, cx: &C, n: u32) -> Result<(), Error> {
        if n == 0 {
            return Ok(());
        }
        let limit = self.limit();
        let w = self.state.load(Ordering::Relaxed);
        if w & QUEUED == 0 {
            if n > limit || w > limit - n {
                return self.too_many(n);
            }
            // Release: publishes the holder's work to the next acquirer.
            if self
                .state
                .compare_exchange(w, w + n, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                return Ok(());
            }
        }
        self.release_slow(cx, n)
    }

    #[cold]
    #[inline(never)]
    fn release_slow<C: Cx>(&self, cx: &C, n: u32) -> Result<(), Error> {
        self.lock_inner(cx);
        let r = self.give(n, true);
        self.unlock_inner(cx);
        // Any panic only now, with inner released: a panic under it would
        // leave the process-shared lock held for good.
        r.or_else(|_| self.too_many(n))
    }

    /// A release of `n` found past the bound (with inner not held):
    /// `Err(TooManyReleases)` for a bounded semaphore; past `MAX_PERMITS`
    /// on an unbounded one, the documented panic.
    fn too_many(&self, n: u32) -> Result<(), Error> {
        if self.bounded() {
            return Err(Error::TooManyReleases);
        }
        panic!("Semaphore permit count overflow (releasing {n})");
    }

    /// Under inner: hands `n` permits to the longest waiters, the rest to
    /// the count. `checked`: enforce the bound, `Err(TooManyReleases)`
    /// past it (never a panic: inner is held).
    fn give(&self, n: u32, checked: bool) -> Result<(), Error> {
        let limit = self.limit();
        let mut w = self.state.load(Ordering::Relaxed);
        let count = w & MAX_PERMITS;
        if checked && (n > limit || count > limit - n) {
            return Err(Error::TooManyReleases);
        }
        let mut left = n;
        while left > 0 {
            let Some(i) = self.queue.oldest_waiting(None) else {
                break;
            };
            if self.queue.grant(i) {
                left -= 1;
            }
        }
        if self.queue.oldest_waiting(None).is_none() && w & QUEUED != 0 {
            w = self.state.fetch_and(!QUEUED, Ordering::Relaxed);
        }
        // Release: publishes the releaser's work to the acquirers.
        let room = MAX_PERMITS - (w & MAX_PERMITS).max(count);
        if left != 0 {
            self.state.fetch_add(left.min(room), Ordering::Release);
        }
        Ok(())
    }

    /// Counts `delta` permits as held through guards by the calling process.
    pub fn hold<C: Cx>(&self, cx: &C, delta: i64) {
        let me = cx.me();
        let e = &self.held[slot_of(me)];
        // Relaxed: bookkeeping read only by reclaimers, which check liveness
        // before using it; a process only writes its own entry.
        let mut cur = e.load(Ordering::Relaxed);
        loop {
            let (t, n) = ((cur >> 32) as u32, cur as u32);
            if t != me && n != 0 {
                // A dead predecessor in our slot left permits: return them
                // first.
                self.reclaim(cx);
                cur = e.load(Ordering::Relaxed);
                if (cur >> 32) as u32 != me && cur as u32 != 0 {
                    // Not dead after all (cannot happen: the slot is ours).
                    return;
                }
                continue;
            }
            let n = if t == me { n } else { 0 };
            let n = (i64::from(n) + delta).max(0) as u64;
            match e.compare_exchange_weak(
                cur,
                u64::from(me) << 32 | n,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(x) => cur = x,
            }
        }
    }

    /// Model only: process `cx` claims a waiter's cell, as a blocked
    /// `acquire` does just before it sleeps, and leaves it there: the model
    /// decides when the process dies (queued, or after a release granted its
    /// cell). Panics if a permit is free (the caller would take it).
    #[cfg(loom)]
    pub fn queue_for_model(&self, cx: &ModelCx) {
        self.lock_inner(cx);
        assert_eq!(
            self.take_or_queue(&Waiter::new(None)),
            None,
            "a permit is free"
        );
        assert!(self.queue.push(cx.me(), 0).is_some(), "queue full");
        self.unlock_inner(cx);
    }

    /// Model only: takes a guarded permit (blocking) and dies holding it.
    #[cfg(loom)]
    pub fn access_then_die(&self, cx: &ModelCx) {
        self.acquire(cx, None, true);
        cx.die();
    }

    /// Permits held through guards by `token` (tests, Debug).
    pub fn held_by(&self, token: u32) -> u32 {
        let cur = self.held[slot_of(token)].load(Ordering::Relaxed);
        if (cur >> 32) as u32 == token {
            cur as u32
        } else {
            0
        }
    }

    /// Returns to the semaphore every permit that a dead process held
    /// through a guard or was granted while queued, and frees dead waiters'
    /// cells. Run by blocked acquirers once per slice. The sum saturates
    /// (the table lives in shared memory: a corrupted one may claim more
    /// than `u32::MAX` permits; `give` caps what it adds anyway).
    pub fn reclaim<C: Cx>(&self, cx: &C) {
        self.lock_inner(cx);
        let mut back = 0u32;
        for e in &self.held {
            let cur = e.load(Ordering::Relaxed);
            let (t, n) = ((cur >> 32) as u32, cur as u32);
            if n != 0 && t != cx.me() && !cx.alive(t) {
                e.store(0, Ordering::Relaxed);
                back = back.saturating_add(n);
            }
        }
        for (i, c) in self.queue.cells.iter().enumerate() {
            let s = c.state.load(Ordering::Relaxed);
            if s == FREE {
                continue;
            }
            let t = c.owner.load(Ordering::Relaxed);
            if t == cx.me() || cx.alive(t) {
                continue;
            }
            if s == GRANTED {
                // Granted to a process that died before taking it.
                back = back.saturating_add(1);
            }
            self.queue.free(i);
        }
        if back != 0 {
            let _ = self.give(back, false);
        } else if self.queue.oldest_waiting(None).is_none() {
            self.state.fetch_and(!QUEUED, Ordering::Relaxed);
        }
        self.unlock_inner(cx);
    }
}

// ===========================================================================
// Condition
// ===========================================================================

/// `process::Condition`'s own state (its lock is a separate object).
///
/// A waiter claims a cell under `inner` *before* releasing the user's lock,
/// so a notifier (who must hold that lock) always finds it. `notify(n)`
/// grants the `n` longest-waiting cells (FIFO) and records in each the
/// queue's arrival number at notify time. A waiter that times out leaves
/// with a CAS on its cell, so it either gave up before the grant (the
/// notification goes to the next) or keeps it: nothing is swallowed. A
/// notified waiter keeps its cell `GRANTED` until it holds the lock again
/// (the end of `wait`); one that dies before that would swallow the
/// notification: `reclaim` (run by every blocked waiter once per slice)
/// passes it on to the longest waiter that was already waiting when it was
/// sent.
#[repr(C)]
#[derive(Debug, Default)]
pub struct RawCond {
    inner: RawLock,
    queue: RawQueue,
}

/// What `RawCond::wait` needs from the condition's lock.
pub trait CondLock {
    /// Saved state (an RLock's depth).
    type Saved;
    /// Whether the caller holds it (Python's `_is_owned`).
    fn is_held(&self) -> bool;
    /// Releases every level.
    fn release_save(&self) -> Option<Self::Saved>;
    /// Reacquires (blocking) and restores.
    fn acquire_restore(&self, saved: Self::Saved);
}

impl RawCond {
    /// No waiters.
    pub fn new() -> RawCond {
        RawCond::default()
    }

    /// Waiters now (a snapshot, including cells being left).
    pub fn waiters(&self) -> u32 {
        self.queue.len.load(Ordering::Relaxed)
    }

    /// Waits for a notification until `deadline`: `Ok(true)` if notified.
    pub fn wait<C: Cx, L: CondLock>(
        &self,
        cx: &C,
        lock: &L,
        deadline: Option<Instant>,
    ) -> Result<bool, Error> {
        let mut waiter = Waiter::new(deadline);
        let (cell, saved) = self.enqueue(cx, lock)?;
        let notified = match cell {
            Some(i) => {
                // The cell stays GRANTED until the lock is ours again: a
                // waiter that dies anywhere inside `wait` leaves its grant
                // for `reclaim` to pass on.
                let granted = self
                    .queue
                    .sleep_keeping(i, &mut waiter, || self.reclaim(cx));
                lock.acquire_restore(saved);
                if granted {
                    self.queue.free(i);
                }
                granted
            }
            None => {
                // More than QCAP waiters: wait for a free cell and return
                // (a spurious wake-up, documented).
                self.queue.wait_space(&mut waiter, || self.reclaim(cx));
                lock.acquire_restore(saved);
                !waiter.expired()
            }
        };
        Ok(notified)
    }

    /// The first half of `wait`: claims a cell, then releases the lock.
    fn enqueue<C: Cx, L: CondLock>(
        &self,
        cx: &C,
        lock: &L,
    ) -> Result<(Option<usize>, L::Saved), Error> {
        if !lock.is_held() {
            return Err(Error::WaitUnacquired);
        }
        let _ = self.inner.acquire(cx, None);
        let cell = self.queue.push(cx.me(), 0);
        let _ = self.inner.release(cx.me());
        match lock.release_save() {
            Some(saved) => Ok((cell, saved)),
            None => {
                // Released behind our back (a Lock is not owned): undo.
                if let Some(i) = cell {
                    self.queue.leave(i);
                }
                Err(Error::WaitUnacquired)
            }
        }
    }

    /// Model only: a waiter that dies once queued (before or after being
    /// notified: the model decides when the notifier runs).
    #[cfg(loom)]
    pub fn enqueue_then_die<L: CondLock>(&self, cx: &ModelCx, lock: &L) {
        let _ = self.enqueue(cx, lock);
        cx.die();
    }

    /// Wakes up to `n` waiters, longest-waiting first. The caller checked
    /// that it holds the lock.
    pub fn notify<C: Cx>(&self, cx: &C, n: u32) {
        // Relaxed: the caller holds the lock, whose Acquire orders this
        // after every waiter's claim (made before it released the lock).
        if n == 0 || self.queue.len.load(Ordering::Relaxed) == 0 {
            return;
        }
        let _ = self.inner.acquire(cx, None);
        let bound = self.queue.next.load(Ordering::Relaxed);
        let mut left = n;
        while left > 0 {
            let Some(i) = self.queue.oldest_waiting(None) else {
                break;
            };
            self.queue.cells[i].arg.store(bound, Ordering::Relaxed);
            if self.queue.grant(i) {
                left -= 1;
            }
        }
        let _ = self.inner.release(cx.me());
    }

    /// Frees dead waiters' cells, passing on the notification of any that
    /// died granted.
    pub fn reclaim<C: Cx>(&self, cx: &C) {
        let _ = self.inner.acquire(cx, None);
        for (i, c) in self.queue.cells.iter().enumerate() {
            let s = c.state.load(Ordering::Relaxed);
            if s == FREE {
                continue;
            }
            let t = c.owner.load(Ordering::Relaxed);
            if t == cx.me() || cx.alive(t) {
                continue;
            }
            if s == GRANTED {
                let bound = c.arg.load(Ordering::Relaxed);
                while let Some(j) = self.queue.oldest_waiting(Some(bound)) {
                    self.queue.cells[j].arg.store(bound, Ordering::Relaxed);
                    if self.queue.grant(j) {
                        break;
                    }
                }
            }
            self.queue.free(i);
        }
        let _ = self.inner.release(cx.me());
    }
}

// ===========================================================================
// Barrier
// ===========================================================================

/// Parties arrive.
const FILLING: u32 = 0;
/// Everyone arrived; the last arrival runs the action.
const RELEASING: u32 = 1;
/// Broken until `reset`.
const BROKEN: u32 = 2;
/// The phase bits of the barrier word.
const PHASE: u32 = 3;
/// One round.
const ROUND: u32 = 4;

/// `process::Barrier`.
///
/// * `word` (futex): `round << 2 | phase`; changed only under `inner`, with
///   a wake-all.
/// * `outcome`: bit `round % 64` set when that round ended broken; a waiter
///   woken into a later round reads its own round's result there.
/// * `arrived[slot]`: `token << 32 | n`: the parties process `token` has
///   waiting in the current round. A blocked waiter checks them once per
///   slice; a dead one breaks the round, like a timeout.
/// * `releaser`: the process running the action (`RELEASING`); if it dies,
///   the round breaks.
/// * `break_next`: an abort, or a timeout of an arrival waiting for the
///   action, during `RELEASING`: the next round starts broken.
#[repr(C)]
#[derive(Debug)]
pub struct RawBarrier {
    word: AtomicU32,
    parties: AtomicU32,
    count: AtomicU32,
    releaser: AtomicU32,
    break_next: AtomicU32,
    _pad: AtomicU32,
    outcome: AtomicU64,
    /// Default timeout in ns (`u64::MAX`: none).
    timeout_ns: AtomicU64,
    inner: RawLock,
    arrived: [AtomicU64; MAX_SLOTS],
}

impl RawBarrier {
    /// A barrier for `parties` (≥ 1; the caller checks).
    pub fn new(parties: u32, timeout_ns: u64) -> RawBarrier {
        RawBarrier {
            word: AtomicU32::new(0),
            parties: AtomicU32::new(parties),
            count: AtomicU32::new(0),
            releaser: AtomicU32::new(0),
            break_next: AtomicU32::new(0),
            _pad: AtomicU32::new(0),
            outcome: AtomicU64::new(0),
            timeout_ns: AtomicU64::new(timeout_ns),
            inner: RawLock::new(),
            arrived: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Sets the parameters of a zeroed barrier (creation in a region).
    pub fn init(&self, parties: u32, timeout_ns: u64) {
        // Relaxed: published by the region directory's Release.
        self.parties.store(parties, Ordering::Relaxed);
        self.timeout_ns.store(timeout_ns, Ordering::Relaxed);
    }

    /// Parties per round.
    pub fn parties(&self) -> u32 {
        self.parties.load(Ordering::Relaxed)
    }

    /// Default timeout in ns (`u64::MAX`: none).
    pub fn timeout_ns(&self) -> u64 {
        self.timeout_ns.load(Ordering::Relaxed)
    }

    /// Parties waiting in the current round (a snapshot).
    pub fn n_waiting(&self) -> u32 {
        let w = self.word.load(Ordering::Relaxed);
        if w & PHASE == FILLING {
            self.count.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// Whether it is broken (a snapshot).
    pub fn broken(&self) -> bool {
        self.word.load(Ordering::Relaxed) & PHASE == BROKEN
    }

    fn lock<C: Cx>(&self, cx: &C) {
        let _ = self.inner.acquire(cx, None);
    }

    fn unlock<C: Cx>(&self, cx: &C) {
        let _ = self.inner.release(cx.me());
    }

    /// Under inner: moves to `word`, waking everyone.
    fn set_word(&self, w: u32) {
        // Release: waiters' Acquire loads see the round's outcome.
        self.word.store(w, Ordering::Release);
        futex::wake_all(&self.word);
    }

    /// Under inner: ends round `w` broken.
    fn break_round(&self, w: u32) {
        let round = w / ROUND;
        self.outcome.fetch_or(1 << (round % 64), Ordering::Relaxed);
        self.set_word(w & !PHASE | BROKEN);
    }

    fn clear_arrivals(&self) {
        self.count.store(0, Ordering::Relaxed);
        for e in &self.arrived {
            e.store(0, Ordering::Relaxed);
        }
    }

    /// Waits for the round to fill. `action` runs in the last arrival's
    /// process before anyone is released; if it panics, the round breaks and
    /// the panic continues.
    pub fn wait<C: Cx>(
        &self,
        cx: &C,
        deadline: Option<Instant>,
        action: Option<&(dyn Fn() + Send + Sync)>,
    ) -> Result<u32, Error> {
        let me = cx.me();
        let mut waiter = Waiter::new(deadline);
        loop {
            self.lock(cx);
            let w = self.word.load(Ordering::Relaxed);
            match w & PHASE {
                BROKEN => {
                    self.unlock(cx);
                    return Err(Error::BrokenBarrier);
                }
                RELEASING => {
                    // The action of the previous round runs: wait for the
                    // next round to start.
                    self.unlock(cx);
                    match waiter.wait(&self.word, w) {
                        Woke::Woken => {}
                        Woke::Check => self.check_dead(cx, w),
                        Woke::Deadline => {
                            self.lock(cx);
                            if self.word.load(Ordering::Relaxed) == w {
                                self.break_next.store(1, Ordering::Relaxed);
                            }
                            self.unlock(cx);
                            return Err(Error::BrokenBarrier);
                        }
                    }
                    continue;
                }
                _ => {}
            }
            let index = self.count.load(Ordering::Relaxed);
            let parties = self.parties();
            if index.saturating_add(1) >= parties {
                return self.release_round(cx, w, index, action);
            }
            self.arrive(me, index);
            self.unlock(cx);
            return self.wait_round(cx, w, index, waiter);
        }
    }

    /// Under inner: one more party of process `me` waits in the round.
    fn arrive(&self, me: u32, index: u32) {
        self.count.store(index.wrapping_add(1), Ordering::Relaxed);
        let e = &self.arrived[slot_of(me)];
        let cur = e.load(Ordering::Relaxed);
        let n = if (cur >> 32) as u32 == me {
            cur as u32
        } else {
            0
        };
        e.store(
            u64::from(me) << 32 | u64::from(n.wrapping_add(1)),
            Ordering::Relaxed,
        );
    }

    /// Model only: a party that arrives (when the round is filling and it
    /// is not the last) and dies waiting.
    #[cfg(loom)]
    pub fn arrive_then_die(&self, cx: &ModelCx) {
        self.lock(cx);
        let w = self.word.load(Ordering::Relaxed);
        let index = self.count.load(Ordering::Relaxed);
        if w & PHASE == FILLING && index.saturating_add(1) < self.parties() {
            self.arrive(cx.me(), index);
        }
        self.unlock(cx);
        cx.die();
    }

    /// Under inner, by the last arrival of round `w` (process `me`) before
    /// it runs the action: the round is `RELEASING`, with `me` recorded as
    /// the releaser (if it dies, waiters' checks break the round).
    fn begin_action(&self, me: u32, w: u32) {
        self.releaser.store(me, Ordering::Relaxed);
        // No wake-up: the waiters sleep on until the round ends.
        self.word.store(w & !PHASE | RELEASING, Ordering::Relaxed);
    }

    /// Model only: the last party to arrive (the caller arranged that the
    /// others have), which dies inside the action.
    #[cfg(loom)]
    pub fn act_then_die(&self, cx: &ModelCx) {
        self.lock(cx);
        let w = self.word.load(Ordering::Relaxed);
        let index = self.count.load(Ordering::Relaxed);
        assert!(w & PHASE == FILLING && index.saturating_add(1) == self.parties());
        self.begin_action(cx.me(), w);
        self.unlock(cx);
        cx.die();
    }

    /// The last arrival (under inner): runs the action, then releases.
    fn release_round<C: Cx>(
        &self,
        cx: &C,
        w: u32,
        index: u32,
        action: Option<&(dyn Fn() + Send + Sync)>,
    ) -> Result<u32, Error> {
        let panicked = match action {
            None => None,
            Some(action) => {
                self.begin_action(cx.me(), w);
                self.unlock(cx);
                // AssertUnwindSafe: after a panic the round is broken and
                // the panic resumed; no state of ours is half-updated.
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(action)).err();
                self.lock(cx);
                r
            }
        };
        let now = self.word.load(Ordering::Relaxed);
        if now != (w & !PHASE | RELEASING) && action.is_some() {
            // Broken meanwhile (our process was thought dead? never: we are
            // alive; an abort sets break_next instead). Defensive: report.
            self.unlock(cx);
            return Err(Error::BrokenBarrier);
        }
        if let Some(p) = panicked {
            self.break_round(w & !PHASE);
            self.unlock(cx);
            std::panic::resume_unwind(p);
        }
        let round = w / ROUND;
        self.outcome
            .fetch_and(!(1 << (round % 64)), Ordering::Relaxed);
        self.clear_arrivals();
        let next = (round.wrapping_add(1) << 2) & !PHASE;
        let broken = self.break_next.swap(0, Ordering::Relaxed) != 0;
        self.set_word(next | if broken { BROKEN } else { FILLING });
        self.unlock(cx);
        Ok(index)
    }

    /// A waiter of round `w`: sleeps until the round ends.
    fn wait_round<C: Cx>(
        &self,
        cx: &C,
        w: u32,
        index: u32,
        mut waiter: Waiter,
    ) -> Result<u32, Error> {
        let round = w / ROUND;
        loop {
            // Acquire: pairs with `set_word`'s Release.
            let now = self.word.load(Ordering::Acquire);
            if now / ROUND != round {
                // Our round ended; its outcome bit says how.
                let broken = self.outcome.load(Ordering::Relaxed) & (1 << (round % 64)) != 0;
                return if broken {
                    Err(Error::BrokenBarrier)
                } else {
                    Ok(index)
                };
            }
            if now & PHASE == BROKEN {
                return Err(Error::BrokenBarrier);
            }
            match waiter.wait(&self.word, now) {
                Woke::Woken => {}
                Woke::Check => self.check_dead(cx, now),
                Woke::Deadline => {
                    self.lock(cx);
                    let cur = self.word.load(Ordering::Relaxed);
                    if cur == (w & !PHASE) {
                        // Nobody completed the round: the timeout breaks it.
                        self.break_round(cur);
                        self.unlock(cx);
                        return Err(Error::BrokenBarrier);
                    }
                    self.unlock(cx);
                    if cur & PHASE == RELEASING && cur / ROUND == round {
                        // Everyone arrived: wait for the action's outcome.
                        waiter = Waiter::new(None);
                    }
                }
            }
        }
    }

    /// Breaks the round of `seen` (the word the waiter last saw) if a
    /// process with a party in it (or running its action) has died. The
    /// phase may have moved on within the round since (filling → the action
    /// runs: the round is full, its last arrival runs the action without
    /// waking anyone): then the action's runner is checked now, not a slice
    /// later (the loom model of a death inside the action found that).
    fn check_dead<C: Cx>(&self, cx: &C, seen: u32) {
        self.lock(cx);
        let w = self.word.load(Ordering::Relaxed);
        if w / ROUND == seen / ROUND {
            let dead = |t: u32| t != 0 && t != cx.me() && !cx.alive(t);
            let broken = match w & PHASE {
                FILLING => self.arrived.iter().any(|e| {
                    let cur = e.load(Ordering::Relaxed);
                    cur as u32 != 0 && dead((cur >> 32) as u32)
                }),
                RELEASING => dead(self.releaser.load(Ordering::Relaxed)),
                _ => false,
            };
            if broken {
                self.break_round(w);
            }
        }
        self.unlock(cx);
    }

    /// Python's `reset`: waiters get `BrokenBarrier`, a new round starts.
    pub fn reset<C: Cx>(&self, cx: &C) {
        self.lock(cx);
        let w = self.word.load(Ordering::Relaxed);
        match w & PHASE {
            RELEASING => {
                // The round completes; the next starts clean.
                self.break_next.store(0, Ordering::Relaxed);
            }
            phase => {
                let round = w / ROUND;
                if phase == BROKEN || self.count.load(Ordering::Relaxed) != 0 {
                    self.outcome.fetch_or(1 << (round % 64), Ordering::Relaxed);
                }
                self.clear_arrivals();
                self.set_word((round.wrapping_add(1) << 2) & !PHASE);
            }
        }
        self.unlock(cx);
    }

    /// Python's `abort`: breaks the barrier.
    pub fn abort<C: Cx>(&self, cx: &C) {
        self.lock(cx);
        let w = self.word.load(Ordering::Relaxed);
        match w & PHASE {
            RELEASING => self.break_next.store(1, Ordering::Relaxed),
            BROKEN => {}
            _ => self.break_round(w),
        }
        self.unlock(cx);
    }
}

#[cfg(loom)]
pub use model::{ModelCx, Procs};

#[cfg(loom)]
mod model {
    //! The model's processes: threads with tokens and a liveness table.
    use super::Cx;
    use crate::sync::{AtomicU8, Ordering};
    use loom::sync::Arc;

    /// Liveness of the model's processes (index = slot).
    #[derive(Debug)]
    pub struct Procs {
        alive: [AtomicU8; super::MAX_SLOTS],
    }

    impl Procs {
        /// All alive.
        pub fn new() -> Arc<Procs> {
            Arc::new(Procs {
                alive: std::array::from_fn(|_| AtomicU8::new(1)),
            })
        }
    }

    /// One modelled process: token `slot` (generation 0).
    #[derive(Debug, Clone)]
    pub struct ModelCx {
        slot: u32,
        procs: Arc<Procs>,
    }

    impl ModelCx {
        /// Process `slot` (1..MAX_SLOTS).
        pub fn new(procs: &Arc<Procs>, slot: u32) -> ModelCx {
            assert!(slot >= 1 && (slot as usize) < super::MAX_SLOTS);
            ModelCx {
                slot,
                procs: procs.clone(),
            }
        }

        /// This process dies (SIGKILL): everything it holds stays as it is;
        /// blocked waiters are told to check liveness.
        pub fn die(&self) {
            // SeqCst: the death is one event every later check sees.
            self.procs.alive[self.slot as usize].store(0, Ordering::SeqCst);
            super::futex::model_death();
        }
    }

    impl Cx for ModelCx {
        fn me(&self) -> u32 {
            self.slot
        }
        fn alive(&self, token: u32) -> bool {
            let s = (token & super::SLOT_MASK) as usize;
            // SeqCst: see `die`.
            s < super::MAX_SLOTS && self.procs.alive[s].load(Ordering::SeqCst) != 0
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{MAX_PERMITS, RawSem};
    use crate::process::region::Region;

    /// The held-permits table lives in shared memory: a corrupted one (any
    /// process may scribble on the region) that claims more than
    /// `u32::MAX` permits for dead processes must not overflow the sum
    /// (found by the `region_ops` fuzz target: an add overflow panic);
    /// the semaphore ends up full, no more.
    #[test]
    #[cfg_attr(miri, ignore)] // shared memory
    fn reclaiming_a_corrupted_held_table_saturates() {
        let _watchdog = crate::test_watchdog::watchdog();
        let region = Region::anonymous(1 << 16).unwrap();
        let sem = RawSem::new(0, MAX_PERMITS);
        // Three entries of tokens no live process has, near u32::MAX each.
        for (slot, token) in [(1u64, 1u64 << 24 | 1), (2, 1 << 24 | 2), (3, 1 << 24 | 3)] {
            let e = &sem.held[slot as usize];
            e.store(
                token << 32 | u64::from(u32::MAX - 1),
                core::sync::atomic::Ordering::Relaxed,
            );
        }
        sem.reclaim(&region);
        assert_eq!(sem.available(), MAX_PERMITS);
        assert_eq!(
            sem.held_by((1 << 24 | 1) as u32),
            0,
            "the entries are cleared"
        );
    }
}
