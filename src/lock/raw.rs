//! [`RawLock`]: the state machine of [`Lock`](super::Lock), in one byte.
//!
//! The waiting forms reach it through [`RawAcquire`]
//! (`crate::blocking`), which `Lock` implements over it, adding the
//! deadlock detector's records.
//!
//! # State word
//!
//! | bit          | meaning                                                    |
//! |--------------|------------------------------------------------------------|
//! | `LOCKED_BIT` | somebody holds the lock                                    |
//! | `PARKED_BIT` | threads may be parked on the lock's key (queue non-empty, or one about to park) |
//!
//! | transition            | who                                   | ordering |
//! |-----------------------|---------------------------------------|----------|
//! | `0 → L`, `P → L\|P`   | acquirer (fast path CAS or slow loop) | Acquire  |
//! | `L → L\|P`            | waiter about to park                  | Relaxed (the queue lock orders it) |
//! | `L → 0`               | release with nobody waiting: one CAS  | Release  |
//! | `L\|P → P` or `0`     | release with waiters: one CAS under the queue lock, after waking the longest waiter to retry (`0` if the queue is now empty) | Release |
//! | `L\|P → L\|P` or `L`  | release handing the lock to the longest waiter (fairness due, or `release_fair`): one CAS under the queue lock, the lock stays held for it | Release (and the queue lock) |
//! | `P → 0`, `L\|P → L`   | last waiter timing out, under the queue lock | Relaxed |
//! | `L → L\|P`            | a `Condition` requeueing waiters onto the lock, under the queue lock | Relaxed |
//!
//! `PARKED_BIT` is only cleared under the queue lock, by whoever can see that
//! the queue is empty, so a waiter can never be left parked on a lock that
//! nobody will release through the slow path.
//!
//! # Release, and destruction
//! A release with waiters keeps the lock held while it walks the queue
//! (like WebKit's `WTF::Lock` and parking_lot up to 0.12), and its last
//! access to the byte is the CAS, under the queue lock, that frees the lock
//! or hands it over. The woken thread runs only after that CAS; the key is a
//! mere number to the parking seam afterwards. So whoever acquires the lock
//! next may free it at once (a Python object, an FFI handle, an `Arc` the
//! acquirer drops): the promise POSIX makes for `pthread_mutex_destroy`.
//! Releasing first and waking afterwards (parking_lot 0.13) would leave the
//! releaser touching the byte after the next owner could have freed it.
//! The CAS succeeds only while `LOCKED_BIT` is set, so of two threads
//! racing to release one acquisition exactly one succeeds.
//!
//! # Fairness
//! A waiter carries a fairness deadline, a randomised 0.5–1.5 ms after it
//! *started* waiting (its first yield or park in this acquisition, kept
//! across every wake-up it loses), in its park token; and each lock has a
//! fairness timer (shared by address hash, tagged with the lock's key so a
//! collision can never hold a hand-off back; see `park::fair`) that is due a
//! randomised 0.5–1.5 ms after the lock's last hand-off. A release that
//! finds both past hands the lock to the longest waiter instead of freeing
//! it: the waiter wakes up holding it. So no thread starves under a tight
//! acquire/release loop (a waiter is overtaken for about a millisecond at
//! most, plus however long the OS takes to run it after a wake-up it lost),
//! while hand-offs (which cost a context switch with the lock held) happen
//! at most about once per millisecond per lock, rarely enough not to cause
//! a convoy. `Lock::release_fair` always hands off (and also resets the
//! timer). A woken waiter that loses the race re-parks without yielding
//! first, and a waiter whose deadline is past parks without spinning
//! further: only a queued waiter can be handed the lock.
//!
//! # Spinning
//! A contender spins before it parks, one of two ways, chosen per thread
//! (`sync::LockSpin`, which says why):
//! * a thread that has waited on a `Condition` or `Condvar` (a producer, a
//!   consumer; the mark lasts for the thread's life) spins for a
//!   **hand-off**: `sync::spin_before_sleep`, once per round (before its
//!   first park, and after each wake-up that did not hand it the lock), also
//!   while others are parked: `spin_loop` pauses for a few µs at most,
//!   **never `sched_yield`**, never with one CPU, not while spins keep
//!   failing on this thread (a record it shares with its condition waits);
//!   it takes the lock as soon as it is free, and one that saw it free and
//!   lost the race for it parks;
//! * any other thread spins for **throughput**, only while nobody is parked:
//!   busy spins of 2, 4 and 8 pauses, checking the lock between them
//!   (skipped with one CPU), then up to 7 yields, before its first park;
//!   after a wake-up only the busy spins. It stops spinning once its timeout
//!   is due.
//!
//! Measured (`docs/fast-where-users-are.md`): with `SpinWait` (3 short
//! spins, then yields) for everyone, the queue pattern on 2 CPUs slept on
//! nearly every item (the yields rotated its threads through the CPUs: 0.8
//! context switches and ~3 µs per item, 2.7× std); with the hand-off spin
//! for everyone, a tight acquire/release loop lost its runs of acquisitions
//! (the lock changed CPU at every release: 1.3–2.7× parking_lot's time).

use crate::deadline;
use crate::error::Error;
use crate::park::{self, FilterOp, ParkResult, token};
use crate::sync::{AtomicU8, LockSpin, Ordering, loom_const_fn, spin_before_sleep};
use std::time::Instant;

/// Somebody holds the lock.
const LOCKED_BIT: u8 = 0b01;
/// Threads may be parked on this lock's key.
const PARKED_BIT: u8 = 0b10;

/// The state byte of a [`Lock`](super::Lock) and its transitions.
/// `repr(transparent)`: its address is its key (see `Lock`).
#[repr(transparent)]
pub(crate) struct RawLock {
    state: park::Watched<AtomicU8>,
}

impl RawLock {
    loom_const_fn! {
        /// Unlocked.
        #[inline]
        pub(crate) fn new() -> RawLock {
            RawLock { state: park::watched(AtomicU8::new(0)) }
        }
    }

    /// The parking key: the state byte's address.
    #[inline]
    pub(crate) fn key(&self) -> usize {
        park::key_of(&self.state)
    }

    /// Whether the lock is held by anyone. A snapshot.
    #[inline]
    pub(crate) fn locked(&self) -> bool {
        // Relaxed: a snapshot that orders nothing.
        self.state.load(Ordering::Relaxed) & LOCKED_BIT != 0
    }

    /// The uncontended acquire: one CAS.
    #[inline]
    pub(crate) fn try_fast(&self) -> bool {
        // Acquire: pairs with the Release of the previous release.
        self.state
            .compare_exchange_weak(0, LOCKED_BIT, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Sets LOCKED_BIT if the lock is free; whether it did: the complete
    /// non-blocking try.
    #[inline]
    pub(crate) fn try_acquire(&self) -> bool {
        // Relaxed: only a guess for the CAS, which orders.
        let mut state = self.state.load(Ordering::Relaxed);
        while state & LOCKED_BIT == 0 {
            // Acquire: pairs with the Release of whoever released last.
            match self.state.compare_exchange_weak(
                state,
                state | LOCKED_BIT,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(s) => state = s,
            }
        }
        false
    }

    /// Waits until acquired or `deadline`: spins briefly (see the module
    /// docs), then parks, with this acquisition's fairness deadline in its
    /// park token; once per round.
    #[cold]
    #[inline(never)]
    pub(crate) fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        let handoff = LockSpin::handoff_thread();
        // Hand-off spin: whether this round (up to the next park) has had
        // its spin.
        let mut spun = false;
        // Throughput spin: the next step, and the last allowed: all of them
        // before the first park, only the busy ones after a wake-up.
        let (mut step, mut step_limit) = (LockSpin::first_step(), u32::MAX);
        // This acquisition's fairness deadline: fixed when it starts to wait
        // in earnest (its first yield or park) and kept across every
        // wake-up it loses, so it comes due however often it is overtaken.
        let mut fairness: Option<park::fair::Deadline> = None;
        // Relaxed: only a hint for the CAS below, which orders.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & LOCKED_BIT == 0 {
                // Acquire: pairs with the Release of the previous release.
                match self.state.compare_exchange_weak(
                    state,
                    state | LOCKED_BIT,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return true,
                    Err(s) => state = s,
                }
                continue;
            }
            // No spinning once this thread is owed the lock: only a parked
            // waiter can be handed it (and on a busy machine one yield can
            // last a whole time slice of whoever keeps re-taking the lock).
            let owed = fairness.is_some_and(park::fair::Deadline::passed);
            if handoff {
                if !spun && !owed {
                    spun = true;
                    // Relaxed: a hint for the CAS above, which orders.
                    if spin_before_sleep(|| self.state.load(Ordering::Relaxed) & LOCKED_BIT == 0) {
                        state = self.state.load(Ordering::Relaxed);
                        continue;
                    }
                }
            } else if LockSpin::SPINS
                && state & PARKED_BIT == 0
                && step < step_limit
                && !owed
                && !deadline::expired(deadline)
            {
                if step >= LockSpin::BUSY_STEPS {
                    // A yield: from here on this thread is waiting, and its
                    // deadline counts (also with one CPU, where the busy
                    // steps are skipped).
                    fairness.get_or_insert_with(park::fair::Deadline::start);
                }
                if LockSpin::step(step) {
                    step += 1;
                    // Relaxed: a hint for the CAS above, which orders.
                    state = self.state.load(Ordering::Relaxed);
                    continue;
                }
            }
            if deadline::expired(deadline) {
                return false;
            }
            // Announce that we will park. Relaxed: the queue lock orders
            // this with the releaser, which re-reads the byte under it.
            if state & PARKED_BIT == 0
                && let Err(s) = self.state.compare_exchange_weak(
                    state,
                    state | PARKED_BIT,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
            {
                state = s;
                continue;
            }
            let fair_token = match fairness {
                Some(fair) => fair.token(),
                None => {
                    let fair = park::fair::Deadline::start();
                    fairness = Some(fair);
                    fair.fresh_token()
                }
            };
            match self.park_waiter(deadline, fair_token) {
                // The releaser handed us the lock: it stayed locked for us.
                ParkResult::Unparked(token::HANDOFF) => return true,
                ParkResult::TimedOut => return false,
                ParkResult::Unparked(_) | ParkResult::Invalid => {}
            }
            // Woken, but not handed the lock: a new round. No yields now:
            // a yield would hand the CPU to whoever keeps re-taking the lock
            // while this thread is out of the queue, where no release can
            // hand the lock to it.
            spun = false;
            (step, step_limit) = (LockSpin::first_step(), LockSpin::BUSY_STEPS);
            // Relaxed: a hint for the CAS above, which orders.
            state = self.state.load(Ordering::Relaxed);
        }
    }

    /// Parks on the lock's key while it is locked with `PARKED_BIT` set.
    fn park_waiter(&self, deadline: Option<Instant>, token: park::ParkToken) -> ParkResult {
        // Relaxed: queue lock. (The lock's data is ordered by the CAS that
        // eventually acquires.)
        let validate = || self.state.load(Ordering::Relaxed) == LOCKED_BIT | PARKED_BIT;
        let before_sleep = || {};
        let clear_mark = || self.clear_parked_bit();
        park::park_waiter(
            self.key(),
            validate,
            before_sleep,
            clear_mark,
            token,
            deadline,
        )
    }

    /// Releases: one CAS with nobody waiting; the slow path otherwise.
    /// `Err` if not locked. `force_fair`: hand the lock to the longest
    /// waiter, if there is one. Never panics (a condition releases from
    /// park's `before_sleep`).
    #[inline]
    pub(crate) fn release(&self, force_fair: bool) -> Result<(), Error> {
        // Release: publishes the critical section to the next acquirer.
        // With nobody waiting this CAS is the release's only access.
        match self
            .state
            .compare_exchange(LOCKED_BIT, 0, Ordering::Release, Ordering::Relaxed)
        {
            Ok(_) => Ok(()),
            Err(_) => self.release_slow(force_fair),
        }
    }

    /// The release when the byte is not exactly `LOCKED_BIT`: waiters are
    /// parked (or about to park), or the lock is not locked at all (misuse).
    /// `force_fair`: hand the lock to the longest waiter, if there is one.
    #[cold]
    #[inline(never)]
    fn release_slow(&self, force_fair: bool) -> Result<(), Error> {
        // Relaxed: only a guess for the CAS, which orders.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & LOCKED_BIT == 0 {
                // Not locked now: the misuse Python reports.
                return Err(Error::ReleaseUnlocked);
            }
            if state & PARKED_BIT != 0 {
                return self.release_to_waiters(force_fair);
            }
            // Locked, and the waiter we saw has left (timed out): the plain
            // release after all; this CAS is its last access. Release:
            // publishes the critical section to the next acquirer.
            match self
                .state
                .compare_exchange_weak(state, 0, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(s) => state = s,
            }
        }
    }

    /// The release with `PARKED_BIT` set. The lock stays held while the
    /// queue is examined, and the release itself is the last step, under the
    /// queue lock: one CAS that either frees the lock (and clears
    /// `PARKED_BIT` if the queue is now empty) or leaves it locked for the
    /// longest waiter, which wakes up holding it. Nothing touches the lock
    /// after that CAS, so whoever acquires the lock next may free it at once
    /// (see the crate docs: the destruction promise).
    ///
    /// A plain release wakes the longest waiter to retry; it is handed the
    /// lock instead when `force_fair`, or when its fairness deadline and the
    /// lock's fairness timer are both due (`park::fair`).
    #[cold]
    #[inline(never)]
    fn release_to_waiters(&self, force_fair: bool) -> Result<(), Error> {
        let key = self.key();
        let mut first = true;
        let fair = core::cell::Cell::new(false);
        let mut released = Ok(());
        let filter = |token| {
            // FIFO: only the longest waiter is considered.
            if !first {
                return FilterOp::Stop;
            }
            first = false;
            fair.set(force_fair || park::fair::hand_off_due(key, token));
            FilterOp::Unpark
        };
        let callback = |result: park::UnparkResult| {
            let hand_off = fair.get() && result.unparked_threads != 0;
            // A CAS loop because acquirers may set LOCKED_BIT (none is
            // set while we hold it) or PARKED_BIT concurrently. Relaxed:
            // queue lock (a guess for the CAS).
            let mut state = self.state.load(Ordering::Relaxed);
            loop {
                if state & LOCKED_BIT == 0 {
                    // Another release of the same acquisition got here
                    // first (misuse; Python allows any thread to
                    // release): report it, change nothing. A thread we
                    // unparked just retries.
                    released = Err(Error::ReleaseUnlocked);
                    return token::RETRY;
                }
                // Hand-off: the byte stays locked and now belongs to the
                // woken thread. Plain release: free it.
                let mut new = if hand_off { state } else { state & !LOCKED_BIT };
                // Under the queue lock nobody else can be queueing, so
                // an empty queue means the bit can go (a thread about to
                // park re-checks the byte under this lock, and retries).
                if !result.have_more_threads {
                    new &= !PARKED_BIT;
                }
                // Release: publishes the critical section to the next
                // acquirer (for a hand-off, the unpark that follows
                // orders it before the woken thread, too).
                match self.state.compare_exchange_weak(
                    state,
                    new,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(s) => state = s,
                }
            }
            // The lock's memory is not touched again: the key is only a
            // number to the seam and the fairness timers.
            if hand_off {
                park::fair::handed_off(key);
                token::HANDOFF
            } else {
                token::RETRY
            }
        };
        park::unpark_filter(key, filter, callback);
        released
    }

    // ----- for Condition (requeue onto this lock) ---------------------------

    /// Sets `PARKED_BIT` if the lock is held, so that threads requeued onto
    /// its key will be woken by the release. Returns whether it is held.
    /// Called under the queue lock (from `unpark_requeue`'s validate).
    pub(crate) fn mark_parked_if_locked(&self) -> bool {
        // Relaxed: queue lock (the releaser's slow path takes it).
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & LOCKED_BIT == 0 {
                return false;
            }
            match self.state.compare_exchange_weak(
                state,
                state | PARKED_BIT,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(s) => state = s,
            }
        }
    }

    /// Clears `PARKED_BIT`: the caller, under the queue lock, saw that the
    /// last thread parked on this lock's key has left.
    pub(crate) fn clear_parked_bit(&self) {
        // Relaxed: queue lock.
        self.state.fetch_and(!PARKED_BIT, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::Lock;
    use std::sync::Arc;
    use std::thread;
    use std::time::Duration;

    /// How many threads are queued on `lock`'s key: walks the queue under
    /// its lock and unparks nobody. Exact, unlike `PARKED_BIT`, which a
    /// waiter sets *before* it is queued (and may never be, if its
    /// validation fails).
    fn queued(lock: &Lock) -> usize {
        let lock = lock.raw();
        let mut n = 0;
        park::unpark_filter(
            lock.key(),
            |_| {
                n += 1;
                FilterOp::Skip
            },
            |_| token::RETRY,
        );
        n
    }

    /// Waits until `n` threads are queued on `lock`.
    fn until_queued(lock: &Lock, n: usize) {
        let start = Instant::now();
        while queued(lock) < n {
            assert!(start.elapsed() < Duration::from_secs(30), "never queued");
            thread::yield_now();
        }
    }

    #[test]
    fn plain_release_wakes_the_queued_waiter_and_leaves_no_stale_bits() {
        let _watchdog = crate::test_watchdog::watchdog();
        let lock = Arc::new(Lock::new());
        lock.acquire();
        let l2 = Arc::clone(&lock);
        let waiter = thread::spawn(move || {
            l2.acquire();
            l2.release().unwrap();
        });
        until_queued(&lock, 1);
        assert_eq!(
            lock.raw().state.load(Ordering::Relaxed),
            LOCKED_BIT | PARKED_BIT
        );
        lock.release().unwrap();
        waiter.join().unwrap();
        assert_eq!(lock.raw().state.load(Ordering::Relaxed), 0, "no stale bits");
    }

    /// The fairness promise (`Lock` docs: "a waiter that has waited about
    /// a millisecond gets the lock handed to it on the next release"),
    /// with the waiter's millisecond already over: a plain `release` hands
    /// the lock over (the byte stays locked for the waiter, so the
    /// releaser cannot take it back), and only that one release does.
    #[test]
    fn a_plain_release_hands_the_lock_to_an_overdue_waiter() {
        let _watchdog = crate::test_watchdog::watchdog();
        let lock = Arc::new(Lock::new());
        lock.acquire();
        park::fair::testing::forget_hand_offs(lock.raw().key());
        let l2 = Arc::clone(&lock);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let waiter = thread::spawn(move || {
            park::fair::testing::overdue_deadlines_on_this_thread();
            l2.acquire();
            // Holds the lock until the test has looked.
            rx.recv().unwrap();
            l2.release().unwrap();
        });
        until_queued(&lock, 1);
        let before = park::fair::testing::hand_offs_on_this_thread();
        lock.release().unwrap();
        assert_eq!(
            park::fair::testing::hand_offs_on_this_thread(),
            before + 1,
            "the release handed off"
        );
        // Locked on the waiter's behalf, whether or not it has run yet.
        assert!(!lock.try_acquire(), "the releaser took the lock back");
        assert_eq!(lock.raw().state.load(Ordering::Relaxed), LOCKED_BIT);
        tx.send(()).unwrap();
        waiter.join().unwrap();
        assert_eq!(lock.raw().state.load(Ordering::Relaxed), 0, "no stale bits");
    }

    /// The other side of the fairness promise: a waiter not yet owed the
    /// lock (its millisecond not over; here it never will be) is woken by a
    /// plain release, not handed the lock: no fairness hand-off, so a
    /// running thread may take the lock first (throughput). Also for a
    /// condition waiter moved onto the lock by `notify`, whose deadline
    /// starts when it waits. Fails when a fresh waiter parks as if overdue.
    #[test]
    fn a_plain_release_hands_nothing_to_a_waiter_not_yet_owed_the_lock() {
        let _watchdog = crate::test_watchdog::watchdog();
        let lock = Arc::new(Lock::new());
        lock.acquire();
        park::fair::testing::forget_hand_offs(lock.raw().key());
        let l2 = Arc::clone(&lock);
        let waiter = thread::spawn(move || {
            park::fair::testing::far_deadlines_on_this_thread();
            l2.acquire();
            l2.release().unwrap();
        });
        until_queued(&lock, 1);
        let before = park::fair::testing::hand_offs_on_this_thread();
        lock.release().unwrap();
        assert_eq!(park::fair::testing::hand_offs_on_this_thread(), before);
        waiter.join().unwrap();

        let cond = Arc::new(crate::Condition::with_lock(Lock::new()));
        let key = cond.lock_ref().raw().key();
        park::fair::testing::forget_hand_offs(key);
        let c2 = Arc::clone(&cond);
        let waiter = thread::spawn(move || {
            park::fair::testing::far_deadlines_on_this_thread();
            c2.acquire();
            c2.wait().unwrap();
            c2.release().unwrap();
        });
        while cond.raw.waiters() == 0 {
            thread::yield_now();
        }
        cond.acquire();
        cond.notify_one().unwrap();
        let before = park::fair::testing::hand_offs_on_this_thread();
        cond.release().unwrap();
        assert_eq!(park::fair::testing::hand_offs_on_this_thread(), before);
        waiter.join().unwrap();
    }

    #[test]
    fn release_fair_keeps_the_lock_locked_for_the_queued_waiter() {
        let _watchdog = crate::test_watchdog::watchdog();
        let lock = Arc::new(Lock::new());
        lock.acquire();
        let l2 = Arc::clone(&lock);
        let waiter = thread::spawn(move || {
            l2.acquire();
            l2.release().unwrap();
        });
        until_queued(&lock, 1);
        lock.release_fair().unwrap();
        // Handed off: locked, on the waiter's behalf, whether or not it has
        // run yet (and PARKED_BIT gone: nobody else is queued).
        let state = lock.raw().state.load(Ordering::Relaxed);
        waiter.join().unwrap();
        assert!(
            state == LOCKED_BIT || state == 0,
            "after the hand-off: {state:#b}"
        );
        assert_eq!(lock.raw().state.load(Ordering::Relaxed), 0, "no stale bits");
    }

    /// What a fresh contender did against a held lock, which it finally
    /// gets by a hand-off (`release_fair`, so no timing decides anything):
    /// its blocking steps, how many of them were yields, and its
    /// `spin_before_sleep` record afterwards. `handoff`: it has waited on a
    /// condition first. `woken_once`: after it first queued, it is woken
    /// once without the lock (a `RETRY`, as a release that another thread
    /// then beats to the lock), so it has two rounds.
    fn contender(handoff: bool, woken_once: bool) -> (usize, usize, u8) {
        let lock = Arc::new(Lock::new());
        lock.acquire();
        let l2 = Arc::clone(&lock);
        let contender = thread::spawn(move || {
            if handoff {
                let c = crate::Condition::new();
                let _g = c.lock();
                assert!(!c.wait_timeout(Duration::from_millis(1)).unwrap());
            }
            // The condition wait's own spin failed: the record under test
            // starts from no misses.
            crate::sync::blocking_steps::reset_spin_record();
            // Never owed the lock, however slowly the test runs: being owed
            // it stops the spins under test.
            park::fair::testing::far_deadlines_on_this_thread();
            let (_, steps, yields) = crate::sync::blocking_steps::count_with_yields(|| {
                l2.acquire();
            });
            l2.release().unwrap();
            (steps, yields, crate::sync::blocking_steps::spin_record())
        });
        until_queued(&lock, 1);
        if woken_once {
            let mut woken = 0;
            park::unpark_filter(
                lock.raw().key(),
                |_| FilterOp::Unpark,
                |r: park::UnparkResult| {
                    woken = r.unparked_threads;
                    // As a plain release does when the queue is now empty.
                    if !r.have_more_threads {
                        lock.raw().clear_parked_bit();
                    }
                    token::RETRY
                },
            );
            assert_eq!(woken, 1);
            // Still locked: it spins and parks again.
            until_queued(&lock, 1);
        }
        lock.release_fair().unwrap();
        let got = contender.join().unwrap();
        assert_eq!(lock.raw().state.load(Ordering::Relaxed), 0, "no stale bits");
        got
    }

    /// The throughput spin's busy steps on this machine (none with one CPU).
    fn busy_steps() -> usize {
        if crate::sync::LockSpin::first_step() == 0 {
            crate::sync::LockSpin::BUSY_STEPS as usize
        } else {
            0
        }
    }

    /// A thread that has waited on a condition spins for a hand-off: one
    /// `spin_before_sleep` (against the held lock: to its budget, so it
    /// records a miss) per round, never a yield (`SpinWait`, as up to
    /// 0.1.x, took 3 spins and 7 yields, and its last `spin()` counted too:
    /// 12 steps with the park).
    #[test]
    fn a_condition_waiter_spins_once_then_parks_never_yields() {
        let _watchdog = crate::test_watchdog::watchdog();
        let (steps, yields, record) = contender(true, false);
        assert_eq!((steps, yields), (2, 0), "one spin, one park");
        let missed = if busy_steps() == 0 { 0 } else { 1 };
        assert_eq!(record, missed, "the spin ran to its budget and missed");
    }

    /// ... and again in every round: woken without the lock, it spins again
    /// (one miss does not make it back off) and parks again.
    #[test]
    fn a_condition_waiter_spins_again_after_a_wake_up_it_lost() {
        let _watchdog = crate::test_watchdog::watchdog();
        let (steps, yields, record) = contender(true, true);
        assert_eq!((steps, yields), (4, 0), "spin, park; spin, park");
        let missed = if busy_steps() == 0 { 0 } else { 2 };
        assert_eq!(record, missed, "two spins, both missed");
    }

    /// Any other thread spins for throughput: the busy spins (none with one
    /// CPU), then 7 yields, then it parks.
    #[test]
    fn another_thread_spins_sparsely_then_yields_then_parks() {
        let _watchdog = crate::test_watchdog::watchdog();
        let (steps, yields, _) = contender(false, false);
        assert_eq!(
            (steps, yields),
            (busy_steps() + 7 + 1, 7),
            "busy spins, 7 yields, one park"
        );
    }

    /// ... and after a wake-up it lost, only the busy spins: a yield then
    /// would hand the CPU to whoever keeps re-taking the lock while this
    /// thread is out of the queue.
    #[test]
    fn another_thread_only_busy_spins_after_a_wake_up_it_lost() {
        let _watchdog = crate::test_watchdog::watchdog();
        let (steps, yields, _) = contender(false, true);
        assert_eq!(
            (steps, yields),
            (busy_steps() + 7 + 1 + busy_steps() + 1, 7),
            "busy spins, 7 yields, park; busy spins, park"
        );
    }

    #[test]
    fn queue_check_sees_exactly_the_queued() {
        let _watchdog = crate::test_watchdog::watchdog();
        let lock = Arc::new(Lock::new());
        assert_eq!(queued(&lock), 0);
        lock.acquire();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let l = Arc::clone(&lock);
                thread::spawn(move || {
                    l.acquire();
                    l.release().unwrap();
                })
            })
            .collect();
        until_queued(&lock, 2);
        assert_eq!(queued(&lock), 2, "the check unparks nobody");
        lock.release().unwrap();
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(queued(&lock), 0);
    }
}
