#![no_main]
//! Concurrent schedules: the input picks 2–4 threads and, for each, a
//! sequence of operations on primitives shared by all of them. Every
//! operation that could wait has a short timeout (at most ~200 µs), so no
//! input can hang and each runs in a few milliseconds. Per-operation checks
//! run on the spot; invariants are checked after every thread has joined.
//!
//! Each primitive is a [`Subject`]: its operation type, the per-thread state
//! a thread keeps between operations (e.g. "I hold the lock"), what a thread
//! must undo when its sequence ends, and the final invariants. Adding a
//! primitive is one more `Subject` impl, one more `Op` variant and one more
//! field in `Shared`.
//!
//! Subjects: `Lock`, `RLock`, `Barrier`, `Semaphore` (permits conserved),
//! `BoundedSemaphore` (errors only at the ceiling, by an end-of-run model),
//! `Event` (results checked against an interval history of set/clear/wait)
//! and `Condition<Lock>` (no waiter left behind, no more wake-ups than
//! notifications could deliver, tokens conserved).

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pysync::{Barrier, BoundedSemaphore, Condition, Error, Event, Lock, RLock, Semaphore};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most operations a thread runs.
const MAX_OPS: usize = 32;

/// A short timeout from a fuzzer byte: 0..=204 µs.
fn short(us: u8) -> Duration {
    Duration::from_micros(u64::from(us) * 4 / 5)
}

/// Increments a counter with a separate load and store: if two threads ever
/// run this at once (mutual exclusion broken), increments get lost and the
/// final count is short.
fn racy_increment(c: &AtomicUsize) {
    let v = c.load(Ordering::Relaxed);
    std::hint::spin_loop();
    c.store(v + 1, Ordering::Relaxed);
}

/// The per-thread state of a subject that needs none.
#[derive(Default)]
struct NoLocal;

/// A shared primitive under test.
trait Subject: Sync {
    type Op: std::fmt::Debug;
    /// What one thread remembers between its operations.
    type Local: Default;
    /// Runs one operation, checking its immediate result.
    fn apply(&self, op: &Self::Op, local: &mut Self::Local);
    /// The thread's sequence ended: give back what it still holds.
    fn finish(&self, local: Self::Local);
    /// After every thread has joined.
    fn check(&self);
}

// ----- Lock -----------------------------------------------------------------

#[derive(Arbitrary, Debug)]
enum LockOp {
    /// `try_acquire`, increment, release.
    TryIncrement,
    /// `acquire_timeout`, increment, release.
    TimedIncrement(u8),
    /// `acquire_timeout` and keep holding it across operations.
    Hold(u8),
    /// Release what `Hold` took (with `release_fair` if true).
    Unhold(bool),
}

#[derive(Default)]
struct LockSubject {
    lock: Lock,
    /// Incremented only while holding `lock`.
    counter: AtomicUsize,
    /// Successful acquisitions.
    successes: AtomicUsize,
}

impl LockSubject {
    fn critical_section(&self) {
        racy_increment(&self.counter);
        self.successes.fetch_add(1, Ordering::Relaxed);
    }

    fn release(&self, fair: bool) {
        let r = if fair {
            self.lock.release_fair()
        } else {
            self.lock.release()
        };
        // We hold it, and nobody releases a Lock they did not take here.
        assert_eq!(r, Ok(()));
    }
}

impl Subject for LockSubject {
    type Op = LockOp;
    /// Whether this thread holds the lock (from `Hold`).
    type Local = bool;

    fn apply(&self, op: &LockOp, held: &mut bool) {
        match *op {
            LockOp::TryIncrement | LockOp::TimedIncrement(_) => {
                let got = match *op {
                    LockOp::TimedIncrement(us) => self.lock.acquire_timeout(short(us)),
                    _ => self.lock.try_acquire(),
                };
                if *held {
                    // Not re-entrant: we hold it, so it cannot be acquired.
                    assert!(!got, "acquired a Lock this thread holds");
                    return;
                }
                if got {
                    assert!(self.lock.locked());
                    self.critical_section();
                    self.release(false);
                }
            }
            LockOp::Hold(us) if !*held => {
                if self.lock.acquire_timeout(short(us)) {
                    *held = true;
                    self.critical_section();
                }
            }
            LockOp::Unhold(fair) if *held => {
                *held = false;
                self.release(fair);
            }
            LockOp::Hold(_) | LockOp::Unhold(_) => {}
        }
    }

    fn finish(&self, held: bool) {
        if held {
            self.release(false);
        }
    }

    fn check(&self) {
        assert!(!self.lock.locked(), "Lock left locked");
        assert_eq!(self.lock.release(), Err(Error::ReleaseUnlocked));
        assert_eq!(
            self.counter.load(Ordering::Relaxed),
            self.successes.load(Ordering::Relaxed),
            "lost increments: Lock let two threads in"
        );
    }
}

// ----- RLock ----------------------------------------------------------------

#[derive(Arbitrary, Debug)]
enum RLockOp {
    /// `acquire_timeout`, re-enter to a depth of 1..=4, increment, unwind.
    Nested(u8, u8),
    /// `release` without owning it: always `Err(NotOwned)`.
    ReleaseUnowned,
}

#[derive(Default)]
struct RLockSubject {
    rlock: RLock,
    counter: AtomicUsize,
    successes: AtomicUsize,
}

impl Subject for RLockSubject {
    type Op = RLockOp;
    type Local = NoLocal;

    fn apply(&self, op: &RLockOp, _: &mut NoLocal) {
        match *op {
            RLockOp::Nested(us, depth) => {
                assert!(!self.rlock.is_owned());
                if !self.rlock.acquire_timeout(short(us)) {
                    return;
                }
                let depth = usize::from(depth % 4) + 1;
                for _ in 1..depth {
                    assert!(self.rlock.try_acquire(), "re-entry failed");
                }
                assert!(self.rlock.is_owned());
                assert!(self.rlock.locked());
                assert_eq!(self.rlock.recursion_count(), depth);
                racy_increment(&self.counter);
                self.successes.fetch_add(1, Ordering::Relaxed);
                for _ in 0..depth {
                    assert_eq!(self.rlock.release(), Ok(()));
                }
                assert_eq!(self.rlock.recursion_count(), 0);
                assert_eq!(self.rlock.release(), Err(Error::NotOwned));
            }
            RLockOp::ReleaseUnowned => {
                assert_eq!(self.rlock.release(), Err(Error::NotOwned));
            }
        }
    }

    fn finish(&self, _: NoLocal) {
        assert!(!self.rlock.is_owned());
    }

    fn check(&self) {
        assert!(!self.rlock.locked(), "RLock left locked");
        assert_eq!(
            self.counter.load(Ordering::Relaxed),
            self.successes.load(Ordering::Relaxed),
            "lost increments: RLock let two threads in"
        );
    }
}

// ----- Barrier --------------------------------------------------------------

#[derive(Arbitrary, Debug)]
enum BarrierOp {
    WaitTimeout(u8),
    Abort,
    Reset,
}

struct BarrierSubject {
    barrier: Barrier,
    /// Runs of the barrier's action (one per round that got all parties).
    actions: Arc<AtomicUsize>,
    /// `Ok` results.
    oks: AtomicUsize,
}

impl BarrierSubject {
    fn new(parties: usize) -> Self {
        let actions = Arc::new(AtomicUsize::new(0));
        let a = Arc::clone(&actions);
        let barrier = Barrier::with_action(parties, move || {
            a.fetch_add(1, Ordering::Relaxed);
        });
        BarrierSubject {
            barrier,
            actions,
            oks: AtomicUsize::new(0),
        }
    }
}

impl Subject for BarrierSubject {
    type Op = BarrierOp;
    type Local = NoLocal;

    fn apply(&self, op: &BarrierOp, _: &mut NoLocal) {
        match *op {
            BarrierOp::WaitTimeout(us) => match self.barrier.wait_timeout(short(us)) {
                Ok(i) => {
                    assert!(i < self.barrier.parties());
                    self.oks.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => assert_eq!(e, Error::BrokenBarrier),
            },
            BarrierOp::Abort => self.barrier.abort(),
            BarrierOp::Reset => self.barrier.reset(),
        }
    }

    fn finish(&self, _: NoLocal) {}

    fn check(&self) {
        // Nobody is inside `wait` any more.
        assert_eq!(self.barrier.n_waiting(), 0);
        let parties = self.barrier.parties();
        let oks = self.oks.load(Ordering::Relaxed);
        // A round gives every party Ok, or none of them.
        assert_eq!(oks % parties, 0, "a round released only some parties");
        // Every released round ran the action (a round aborted or reset
        // while the action ran fails after running it).
        assert!(oks / parties <= self.actions.load(Ordering::Relaxed));
    }
}

// ----- Semaphore ------------------------------------------------------------

#[derive(Arbitrary, Debug)]
enum SemaphoreOp {
    /// `try_acquire`; keep the permit.
    TryAcquire,
    /// `acquire_timeout`; keep the permit.
    Acquire(u8),
    /// Give back one permit this thread holds (`release`), if any.
    ReleaseOwn,
    /// `release_n(n % 3)` without having acquired: raises the count.
    ReleaseExtra(u8),
    /// `access_timeout`, then drop the guard within the operation.
    Access(u8),
}

struct SemaphoreSubject {
    sem: Semaphore,
    initial: usize,
    /// Permits released beyond acquisitions (`ReleaseExtra`).
    extra: AtomicUsize,
    /// Permits held right now, counted after acquiring and before releasing
    /// (so never more than the real number), and the most ever seen.
    inside: AtomicUsize,
    max_inside: AtomicUsize,
}

impl SemaphoreSubject {
    fn new(initial: usize) -> Self {
        SemaphoreSubject {
            sem: Semaphore::new(initial),
            initial,
            extra: AtomicUsize::new(0),
            inside: AtomicUsize::new(0),
            max_inside: AtomicUsize::new(0),
        }
    }

    fn entered(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_inside.fetch_max(now, Ordering::SeqCst);
    }

    fn leaving(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Subject for SemaphoreSubject {
    type Op = SemaphoreOp;
    /// Permits this thread holds.
    type Local = usize;

    fn apply(&self, op: &SemaphoreOp, held: &mut usize) {
        match *op {
            SemaphoreOp::TryAcquire | SemaphoreOp::Acquire(_) => {
                let got = match *op {
                    SemaphoreOp::Acquire(us) => self.sem.acquire_timeout(short(us)),
                    _ => self.sem.try_acquire(),
                };
                if got {
                    *held += 1;
                    self.entered();
                }
            }
            SemaphoreOp::ReleaseOwn if *held > 0 => {
                *held -= 1;
                self.leaving();
                self.sem.release();
            }
            SemaphoreOp::ReleaseOwn => {}
            SemaphoreOp::ReleaseExtra(n) => {
                let n = usize::from(n % 3);
                // Counted first: `max_inside` is checked against the total.
                self.extra.fetch_add(n, Ordering::SeqCst);
                self.sem.release_n(n);
            }
            SemaphoreOp::Access(us) => {
                if let Some(g) = self.sem.access_timeout(short(us)) {
                    self.entered();
                    self.leaving();
                    drop(g);
                }
            }
        }
    }

    fn finish(&self, held: usize) {
        for _ in 0..held {
            self.leaving();
            self.sem.release();
        }
    }

    fn check(&self) {
        let extra = self.extra.load(Ordering::SeqCst);
        // Conservation: every permit taken was given back; none was lost or
        // made up, under any interleaving with timeouts.
        assert_eq!(
            self.sem.available(),
            self.initial + extra,
            "Semaphore lost or invented permits"
        );
        assert!(
            format!("{:?}", self.sem).ends_with("waiters: false }"),
            "Semaphore left its waiters bit set: {:?}",
            self.sem
        );
        // Never more permits out than ever existed.
        assert!(
            self.max_inside.load(Ordering::SeqCst) <= self.initial + extra,
            "Semaphore let {} threads in with {} permits",
            self.max_inside.load(Ordering::SeqCst),
            self.initial + extra
        );
    }
}

// ----- BoundedSemaphore -----------------------------------------------------

#[derive(Arbitrary, Debug)]
enum BoundedOp {
    /// `acquire_timeout`; keep the permit.
    Acquire(u8),
    /// Give back one permit this thread holds (`release`), if any: `Err` if
    /// other threads' extra releases already filled it to the ceiling.
    ReleaseOwn,
    /// `release_n(n % 3)` without having acquired.
    ReleaseExtra(u8),
    /// `release_n(usize::MAX)`: always past the ceiling.
    ReleaseHuge,
    /// `access_timeout`, then give the guard back with `release`.
    Access(u8),
}

/// The model: with every acquisition followed (later, in the same thread)
/// by one single-permit release attempt, the final count is exactly the
/// initial value, and the successful releases equal the acquisitions. An
/// own release fails only at the ceiling; after the last such failure every
/// acquisition is matched by a later successful release, so the count ends
/// at least at the ceiling, and never above it.
struct BoundedSubject {
    sem: BoundedSemaphore,
    /// Successful acquisitions.
    acquired: AtomicUsize,
    /// Permits successfully released (all-or-nothing `release_n` counts `n`).
    released: AtomicUsize,
}

impl BoundedSubject {
    fn new(initial: usize) -> Self {
        BoundedSubject {
            sem: BoundedSemaphore::new(initial),
            acquired: AtomicUsize::new(0),
            released: AtomicUsize::new(0),
        }
    }

    fn record(&self, r: Result<(), Error>, n: usize) {
        match r {
            Ok(()) => {
                self.released.fetch_add(n, Ordering::SeqCst);
            }
            Err(e) => {
                assert_eq!(e, Error::TooManyReleases);
                assert!(n > 0, "release_n(0) must never fail");
            }
        }
    }

    fn release_own(&self) {
        self.record(self.sem.release(), 1);
    }
}

impl Subject for BoundedSubject {
    type Op = BoundedOp;
    /// Permits this thread holds.
    type Local = usize;

    fn apply(&self, op: &BoundedOp, held: &mut usize) {
        match *op {
            BoundedOp::Acquire(us) => {
                if self.sem.acquire_timeout(short(us)) {
                    self.acquired.fetch_add(1, Ordering::SeqCst);
                    *held += 1;
                }
            }
            BoundedOp::ReleaseOwn if *held > 0 => {
                *held -= 1;
                self.release_own();
            }
            BoundedOp::ReleaseOwn => {}
            BoundedOp::ReleaseExtra(n) => {
                let n = usize::from(n % 3);
                self.record(self.sem.release_n(n), n);
            }
            BoundedOp::ReleaseHuge => {
                assert_eq!(self.sem.release_n(usize::MAX), Err(Error::TooManyReleases));
            }
            BoundedOp::Access(us) => {
                if let Some(g) = self.sem.access_timeout(short(us)) {
                    self.acquired.fetch_add(1, Ordering::SeqCst);
                    self.record(g.release(), 1);
                }
            }
        }
    }

    fn finish(&self, held: usize) {
        for _ in 0..held {
            self.release_own();
        }
    }

    fn check(&self) {
        let initial = self.sem.initial();
        assert_eq!(
            self.sem.available(),
            initial,
            "BoundedSemaphore did not end at its ceiling: {:?}",
            self.sem
        );
        assert_eq!(
            self.released.load(Ordering::SeqCst),
            self.acquired.load(Ordering::SeqCst),
            "BoundedSemaphore: successful releases != acquisitions (a release \
             failed below the ceiling, or succeeded above it)"
        );
        assert!(format!("{:?}", self.sem).ends_with("waiters: false }"));
        assert_eq!(self.sem.release(), Err(Error::TooManyReleases));
    }
}

// ----- Event ----------------------------------------------------------------

#[derive(Arbitrary, Debug)]
enum EventOp {
    Set,
    Clear,
    /// `wait_timeout`; its result is checked against the history.
    Wait(u8),
    /// `is_set` / `try_wait`: a zero-length wait.
    Check,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum EventKind {
    Set,
    Clear,
    /// A wait and what it returned.
    Wait(bool),
}

/// One operation and its interval on a global SeqCst clock: `start` is
/// taken just before the call, `end` just after. If `a.end < b.start`,
/// `a` happened before `b`; otherwise they overlapped and either order is
/// possible.
#[derive(Clone, Copy, Debug)]
struct EventRec {
    start: u64,
    end: u64,
    kind: EventKind,
}

struct EventSubject {
    ev: Event,
    clock: AtomicU64,
    history: Mutex<Vec<EventRec>>,
}

impl EventSubject {
    fn new() -> Self {
        EventSubject {
            ev: Event::new(),
            clock: AtomicU64::new(0),
            history: Mutex::new(Vec::new()),
        }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }
}

impl Subject for EventSubject {
    type Op = EventOp;
    /// This thread's history, merged at the end.
    type Local = Vec<EventRec>;

    fn apply(&self, op: &EventOp, log: &mut Vec<EventRec>) {
        let start = self.tick();
        let kind = match *op {
            EventOp::Set => {
                self.ev.set();
                EventKind::Set
            }
            EventOp::Clear => {
                self.ev.clear();
                EventKind::Clear
            }
            EventOp::Wait(us) => EventKind::Wait(self.ev.wait_timeout(short(us))),
            EventOp::Check => {
                let a = self.ev.is_set();
                let b = self.ev.try_wait();
                // Two snapshots; a `false → true` pair proves nothing, but
                // each one is a zero-length wait, checked like the others.
                log.push(EventRec {
                    start,
                    end: self.tick(),
                    kind: EventKind::Wait(a),
                });
                EventKind::Wait(b)
            }
        };
        log.push(EventRec {
            start,
            end: self.tick(),
            kind,
        });
    }

    fn finish(&self, log: Vec<EventRec>) {
        self.history.lock().unwrap().extend(log);
    }

    fn check(&self) {
        let h = self.history.lock().unwrap();
        let sets: Vec<_> = h.iter().filter(|r| r.kind == EventKind::Set).collect();
        let clears: Vec<_> = h.iter().filter(|r| r.kind == EventKind::Clear).collect();
        for w in h.iter() {
            let EventKind::Wait(got) = w.kind else {
                continue;
            };
            if got {
                // Saw a set: some set started before the wait ended and was
                // not certainly erased (by a clear strictly between it and
                // the wait's start) before the wait began. Otherwise the
                // `true` came from a stale wake-up or a phantom flag.
                let justified = sets.iter().any(|s| {
                    s.start < w.end && !clears.iter().any(|c| s.end < c.start && c.end < w.start)
                });
                assert!(
                    justified,
                    "Event wait returned true without a set: {w:?}\n{h:?}"
                );
            } else {
                // Returned false: the flag must not have been certainly set
                // for its whole duration (a set strictly before it with no
                // clear that could be ordered after that set and before the
                // wait's end).
                let surely_set = sets.iter().any(|s| {
                    s.end < w.start && !clears.iter().any(|c| c.end > s.start && c.start < w.end)
                });
                assert!(
                    !surely_set,
                    "Event wait returned false on a set event: {w:?}\n{h:?}"
                );
            }
        }
        // The flag now is the effect of a set/clear that may have been last:
        // one not strictly followed by another set/clear.
        let writes: Vec<_> = sets.iter().chain(clears.iter()).collect();
        let last_kinds: Vec<EventKind> = writes
            .iter()
            .filter(|x| !writes.iter().any(|y| y.start > x.end))
            .map(|x| x.kind)
            .collect();
        let now = self.ev.is_set();
        if last_kinds.is_empty() {
            assert!(!now, "Event set without any set()");
        } else {
            let want = if now {
                EventKind::Set
            } else {
                EventKind::Clear
            };
            assert!(
                last_kinds.contains(&want),
                "Event flag {now} matches no possibly-last set/clear: {last_kinds:?}"
            );
        }
        assert!(
            format!("{:?}", self.ev).ends_with("waiters: false }"),
            "Event left its waiters bit set: {:?}",
            self.ev
        );
    }
}

// ----- Condition<Lock> ------------------------------------------------------

#[derive(Arbitrary, Debug)]
enum ConditionOp {
    /// Under the lock: `wait_timeout`.
    Wait(u8),
    /// Under the lock: `notify(n)` (`n % 4`, or `usize::MAX` from 252 up).
    Notify(u8),
    /// Under the lock: `notify_all`.
    NotifyAll,
    /// Under the lock: add a token and `notify_one`.
    Produce,
    /// Under the lock: `wait_for_timeout(tokens > 0)`, take one if true.
    Consume(u8),
}

/// What the lock protects.
#[derive(Default)]
struct CondState {
    /// Threads between registering (under the lock, just before `wait`)
    /// and getting the lock back after it: an upper bound on the queue.
    waiting: usize,
    /// Waits that returned `Ok(true)`.
    notified: usize,
    /// Upper bound on wake-ups: the sum over notifications of
    /// `min(n, waiting)`; `notify(n)` wakes at most `n`, and at most the
    /// threads queued, all of which are counted in `waiting`.
    deliverable: usize,
    tokens: usize,
    produced: usize,
    consumed: usize,
}

struct ConditionSubject {
    cond: Condition<Lock>,
    /// Only touched with `cond`'s lock held (asserted). The std Mutex is
    /// taken with `try_lock`, only to make the access safe: finding it
    /// taken would mean the condition's lock let two threads in.
    state: Mutex<CondState>,
}

impl ConditionSubject {
    fn new() -> Self {
        ConditionSubject {
            cond: Condition::with_lock(Lock::new()),
            state: Mutex::new(CondState::default()),
        }
    }

    /// The state, with the condition's lock held (so never contended).
    fn st(&self) -> std::sync::MutexGuard<'_, CondState> {
        assert!(self.cond.lock_ref().locked());
        self.state
            .try_lock()
            .expect("CondState is only used under the condition's lock")
    }

    fn notify(&self, n: usize) {
        let mut st = self.st();
        st.deliverable += n.min(st.waiting);
        drop(st);
        assert_eq!(self.cond.notify(n), Ok(()));
    }
}

impl Subject for ConditionSubject {
    type Op = ConditionOp;
    type Local = NoLocal;

    fn apply(&self, op: &ConditionOp, _: &mut NoLocal) {
        // Every holder releases within its operation (waits included), so
        // this blocking acquire cannot hang.
        let _g = self.cond.lock();
        match *op {
            ConditionOp::Wait(us) => {
                self.st().waiting += 1;
                let r = self.cond.wait_timeout(short(us));
                assert!(
                    self.cond.lock_ref().locked(),
                    "wait returned without the lock"
                );
                let mut st = self.st();
                st.waiting -= 1;
                match r {
                    Ok(true) => st.notified += 1,
                    Ok(false) => {}
                    Err(e) => panic!("wait with the lock held failed: {e}"),
                }
            }
            ConditionOp::Notify(n) => {
                let n = if n >= 252 {
                    usize::MAX
                } else {
                    usize::from(n % 4)
                };
                self.notify(n);
            }
            ConditionOp::NotifyAll => {
                let mut st = self.st();
                st.deliverable += st.waiting;
                drop(st);
                assert_eq!(self.cond.notify_all(), Ok(()));
            }
            ConditionOp::Produce => {
                let mut st = self.st();
                st.tokens += 1;
                st.produced += 1;
                drop(st);
                self.notify(1);
            }
            ConditionOp::Consume(us) => {
                self.st().waiting += 1;
                let r = self
                    .cond
                    .wait_for_timeout(|| self.st().tokens > 0, short(us));
                let mut st = self.st();
                st.waiting -= 1;
                match r {
                    Ok(true) => {
                        assert!(st.tokens > 0, "wait_for returned true on a false predicate");
                        st.tokens -= 1;
                        st.consumed += 1;
                    }
                    Ok(false) => {}
                    Err(e) => panic!("wait_for with the lock held failed: {e}"),
                }
            }
        }
    }

    fn finish(&self, _: NoLocal) {}

    fn check(&self) {
        assert!(
            !self.cond.lock_ref().locked(),
            "Condition's lock left locked"
        );
        assert_eq!(
            format!("{:?}", self.cond),
            "Condition { lock: Lock { locked: false }, waiters: 0 }",
            "a thread was left waiting"
        );
        let st = self.state.lock().unwrap();
        assert_eq!(st.waiting, 0);
        assert!(
            st.notified <= st.deliverable,
            "{} waits were notified but at most {} wake-ups were sent",
            st.notified,
            st.deliverable
        );
        assert_eq!(st.tokens, st.produced - st.consumed);
        assert_eq!(self.cond.notify(1), Err(Error::NotifyUnacquired));
    }
}

// ----- the schedule ---------------------------------------------------------

#[derive(Arbitrary, Debug)]
enum Op {
    Lock(LockOp),
    RLock(RLockOp),
    Barrier(BarrierOp),
    Semaphore(SemaphoreOp),
    Bounded(BoundedOp),
    Event(EventOp),
    Condition(ConditionOp),
    /// Let another thread run.
    Yield,
}

struct Shared {
    lock: LockSubject,
    rlock: RLockSubject,
    barrier: BarrierSubject,
    semaphore: SemaphoreSubject,
    bounded: BoundedSubject,
    event: EventSubject,
    condition: ConditionSubject,
}

#[derive(Default)]
struct Locals {
    lock: <LockSubject as Subject>::Local,
    rlock: <RLockSubject as Subject>::Local,
    barrier: <BarrierSubject as Subject>::Local,
    semaphore: <SemaphoreSubject as Subject>::Local,
    bounded: <BoundedSubject as Subject>::Local,
    event: <EventSubject as Subject>::Local,
    condition: <ConditionSubject as Subject>::Local,
}

impl Shared {
    fn apply(&self, op: &Op, l: &mut Locals) {
        match op {
            Op::Lock(op) => self.lock.apply(op, &mut l.lock),
            Op::RLock(op) => self.rlock.apply(op, &mut l.rlock),
            Op::Barrier(op) => self.barrier.apply(op, &mut l.barrier),
            Op::Semaphore(op) => self.semaphore.apply(op, &mut l.semaphore),
            Op::Bounded(op) => self.bounded.apply(op, &mut l.bounded),
            Op::Event(op) => self.event.apply(op, &mut l.event),
            Op::Condition(op) => self.condition.apply(op, &mut l.condition),
            Op::Yield => std::thread::yield_now(),
        }
    }

    fn finish(&self, l: Locals) {
        self.lock.finish(l.lock);
        self.rlock.finish(l.rlock);
        self.barrier.finish(l.barrier);
        self.semaphore.finish(l.semaphore);
        self.bounded.finish(l.bounded);
        self.event.finish(l.event);
        self.condition.finish(l.condition);
    }

    fn check(&self) {
        self.lock.check();
        self.rlock.check();
        self.barrier.check();
        self.semaphore.check();
        self.bounded.check();
        self.event.check();
        self.condition.check();
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// 2..=4 threads.
    threads: u8,
    /// Parties of the barrier: 1..=threads.
    parties: u8,
    /// Initial permits: `Semaphore` 0..=3 (low bits), `BoundedSemaphore`
    /// 0..=3 (next bits).
    permits: u8,
    schedules: Vec<Vec<Op>>,
}

fuzz_target!(|input: Input| {
    let threads = usize::from(input.threads % 3) + 2;
    let parties = usize::from(input.parties) % threads + 1;
    let shared = Shared {
        lock: LockSubject::default(),
        rlock: RLockSubject::default(),
        barrier: BarrierSubject::new(parties),
        semaphore: SemaphoreSubject::new(usize::from(input.permits & 3)),
        bounded: BoundedSubject::new(usize::from((input.permits >> 2) & 3)),
        event: EventSubject::new(),
        condition: ConditionSubject::new(),
    };
    let empty = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let ops = input.schedules.get(t).unwrap_or(&empty);
                let shared = &shared;
                s.spawn(move || {
                    let mut locals = Locals::default();
                    for op in ops.iter().take(MAX_OPS) {
                        shared.apply(op, &mut locals);
                    }
                    shared.finish(locals);
                })
            })
            .collect();
        // Join each thread explicitly (pthread_join): the scope's own wait
        // returns before the threads' thread-local destructors have run,
        // which LeakSanitizer would report as leaks.
        for h in handles {
            h.join().expect("a thread's checks failed");
        }
    });
    // Every thread joined (the scope waited for them): nobody is left waiting.
    shared.check();
});
