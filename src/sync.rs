//! The one place atomics, thread ids, spinning and the model's choices come
//! from.
//!
//! Under `cfg(loom)` everything here is loom's model; otherwise it is
//! `core`/`std`. Primitives import from here and nowhere else, so a loom build
//! sees every synchronising operation.
//!
//! # Time under loom
//! A loom model must be deterministic, so under `cfg(loom)` pysync never
//! branches on the wall clock:
//! * a deadline is never found already expired before parking
//!   ([`crate::deadline::expired`] is `false`); a timed park times out at the
//!   point the model schedules it (see `park/loom.rs`), so every "timeout
//!   before / after the wake-up" order is explored by loom itself;
//! * a decision that depends on elapsed time (is a waiter's fairness deadline
//!   due?) is a [`choice`]: the model's script answers it, and the test
//!   harness ([`loom_support::explore`]) runs each model under every script
//!   of the choices it consumes, so both answers are explored at every such
//!   point.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Defines a `const fn` normally and a plain `fn` under loom (loom's atomics
/// have no `const` constructors).
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        #[cfg(not(loom))]
        $(#[$attr])*
        $vis const fn $name($($arg: $ty),*) -> $ret $body
        #[cfg(loom)]
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use loom_const_fn;

/// A non-zero id for the calling thread, never given to another thread of
/// the process, not even after this one exits (unlike Python's
/// `threading.get_ident()`, or a thread-local address, which a later thread
/// may get again: an `RLock` left locked by a thread that exited would then
/// look owned by the newcomer).
///
/// A process-wide counter, read once per thread and cached thread-locally:
/// after a thread's first call, one thread-local load. 64 bits on every
/// target, so it never wraps.
#[inline]
pub(crate) fn thread_id() -> u64 {
    use core::cell::Cell;
    #[cfg(not(loom))]
    std::thread_local!(static ID: Cell<u64> = const { Cell::new(0) });
    // Under loom the cache is per model thread (loom's thread-locals); the
    // counter stays a std atomic: it only hands out numbers, nothing for
    // loom to explore.
    #[cfg(loom)]
    loom::thread_local!(static ID: Cell<u64> = Cell::new(0));
    ID.with(|id| match id.get() {
        0 => {
            let fresh = next_thread_id();
            id.set(fresh);
            fresh
        }
        known => known,
    })
}

/// The next unused thread id (the slow path of [`thread_id`], once per
/// thread).
#[cold]
#[inline(never)]
fn next_thread_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    // Relaxed: only uniqueness matters, which the RMW gives; nothing is
    // published with the id. Starting at 1 and 64 bits wide, it is never 0
    // (2^64 threads cannot be started).
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Bounded spin-then-park backoff (`parking_lot_core::SpinWait`); only
/// `process` (Linux) uses it now.
///
/// Under loom spinning is pointless (and would only multiply the explored
/// interleavings), so `spin` always says "stop spinning, park".
#[derive(Default)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) struct SpinWait {
    #[cfg(not(loom))]
    inner: parking_lot_core::SpinWait,
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
impl SpinWait {
    #[inline]
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Spins a little; returns `false` once spinning should give way to parking.
    #[inline]
    pub(crate) fn spin(&mut self) -> bool {
        #[cfg(test)]
        blocking_steps::note();
        #[cfg(not(loom))]
        {
            self.inner.spin()
        }
        #[cfg(loom)]
        {
            false
        }
    }
}

/// Unit tests only: how many blocking steps (a spin or yield of
/// [`SpinWait`] or of [`LockSpin::step`], a [`spin_before_sleep`], a park, a
/// futex wait) the calling thread has taken, and how many of them were
/// `LockSpin` yields, so a test can assert that a call took none:
/// `Duration::ZERO` and a past deadline are exactly one non-blocking try
/// (see `crate::blocking`).
#[cfg(test)]
pub(crate) mod blocking_steps {
    use std::cell::Cell;

    std::thread_local!(static STEPS: Cell<usize> = const { Cell::new(0) });
    std::thread_local!(static YIELDS: Cell<usize> = const { Cell::new(0) });

    /// One blocking step by the calling thread. Never panics (it may run
    /// in a seam callback).
    pub(crate) fn note() {
        let _ = STEPS.try_with(|s| s.set(s.get().wrapping_add(1)));
    }

    /// A `LockSpin` yield by the calling thread (also counted by `note`).
    pub(crate) fn note_yield() {
        let _ = YIELDS.try_with(|s| s.set(s.get().wrapping_add(1)));
    }

    /// Runs `f`; its result and the blocking steps it took on this thread.
    pub(crate) fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
        let (r, steps, _) = count_with_yields(f);
        (r, steps)
    }

    /// Runs `f`; its result, the blocking steps it took on this thread, and
    /// how many of them were `LockSpin` yields.
    pub(crate) fn count_with_yields<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
        let (steps, yields) = (STEPS.with(Cell::get), YIELDS.with(Cell::get));
        let r = f();
        (
            r,
            STEPS.with(Cell::get) - steps,
            YIELDS.with(Cell::get) - yields,
        )
    }

    /// Forgets the calling thread's failed `spin_before_sleep` spins, so that
    /// its next one spins (the back-off might skip it).
    pub(crate) fn reset_spin_record() {
        #[cfg(not(loom))]
        super::spin::MISSES.with(|r| r.set(0));
    }

    /// The calling thread's `spin_before_sleep` record: its spins in a row
    /// that ran out of budget (a spin that succeeds resets it).
    #[cfg(not(loom))]
    pub(crate) fn spin_record() -> u8 {
        super::spin::MISSES.with(Cell::get)
    }

    /// Makes the calling thread's `spin_before_sleep`s find the clock in a
    /// probe window (`Some(true)`), out of one (`Some(false)`), or read it
    /// (`None`, the default).
    #[cfg(not(loom))]
    pub(crate) fn set_probe_window(now: Option<bool>) {
        super::spin::testing::IN_WINDOW.with(|w| w.set(now));
    }

    /// Makes the calling thread's next `spin_before_sleep` read its
    /// affinity mask afresh (instead of within `AFFINITY_RECHECK` calls).
    pub(crate) fn forget_affinity() {
        #[cfg(all(not(loom), target_os = "linux"))]
        super::spin::AFFINITY.with(|a| a.set((0, a.get().1)));
    }
}

/// Spins briefly, without syscalls (but for an affinity read every
/// [`AFFINITY_RECHECK`] calls on Linux, and the process's CPU count read
/// once), until `done()` says the wake-up it waits
/// for has come; for a thread that is about to sleep in the kernel (usually
/// already queued, from park's `before_sleep`), so that a wake-up arriving
/// within microseconds finds it awake and costs no futex sleep. Returns
/// whether `done()` became true (false: stopped spinning, go to sleep).
///
/// It spins only where spinning can help:
/// * **never with one CPU**: if the process may use only one CPU
///   (`available_parallelism`, which respects affinity masks and cgroup
///   quotas; read once per process, by a thread whose own mask allows
///   several CPUs), the thread it waits for cannot run while it spins.
///   A thread whose own mask allows one CPU (Linux: re-read every
///   [`AFFINITY_RECHECK`] calls, so a thread pinned while it runs sees it
///   within that many) **starts backed off** (below): the thread it waits
///   for may share its CPU (then spinning never helps) or run on another
///   (each thread pinned to its own CPU: then it does, and its first
///   successful probe ends the back-off);
/// * **only with `spin_loop` pauses, never `sched_yield`**: a yield beside a
///   CPU-bound process gives it the CPU for a whole time slice
///   (milliseconds), after which the wake-up has long come and gone (measured:
///   queue items at ~0.3–3 ms instead of ~5 µs beside one spinning process);
/// * **for at most [`SPIN_BUDGET`]** (a few µs, less than a futex sleep and
///   wake-up cost);
/// * **not while spinning keeps failing** on this thread (the waker is not
///   running: more runnable threads than CPUs, a busy neighbour on the
///   waker's CPU): after [`MISSES_BEFORE_BACK_OFF`] (16) spins in a row ran
///   out of budget the thread backs off: it spins only while the process's
///   clock is in a **probe window** (the first ~0.13 ms of every ~34 ms,
///   1/256 of the time, the same windows for every thread), and a spin
///   that succeeds there, as any other, ends the back-off. So a thread
///   whose spins never help pays the wasted budget on its first 16 waits,
///   then on the waits that fall in a window (1/256 of the time; 1/256 of
///   its waits if they are spread evenly), which keeps it out of the p99.
///
///   Occasional misses (a preemption, a slow wake-up) do not stop the
///   spinning, and the windows are shared, because where a futex wake-up
///   is expensive (a VM whose idle vCPUs halt: ~9 µs measured here) two
///   threads that hand work to each other (a ping-pong, a queue's producer
///   and consumer) get into a state where each one's spin misses *because*
///   the other sleeps: after a few misses both sleep at every wait, and a
///   spin can only succeed again while the other one spins too. Backing off
///   after every miss, with per-thread probes, locked the 2-CPU ping-pongs
///   and the queue in that state (8–19 µs per round trip, 1–2 futex
///   sleeps; now ~0.5–3 µs, at most ~0.4); see
///   `docs/fast-where-users-are.md`.
///
/// `done` must only read (it runs under no lock, often inside park's
/// `before_sleep`) and must not panic. Under loom it never spins.
#[inline]
pub(crate) fn spin_before_sleep(done: impl FnMut() -> bool) -> bool {
    #[cfg(test)]
    blocking_steps::note();
    #[cfg(not(loom))]
    {
        spin::before_sleep(done)
    }
    #[cfg(loom)]
    {
        let _ = done;
        false
    }
}

/// How a blocked `Lock` contender spins before it parks
/// (`lock::raw::RawLock::acquire_slow`; the measurements behind it are in
/// `docs/fast-where-users-are.md`). Two ways, chosen per thread:
///
/// * **hand-off**: a thread that has waited on a `Condition` or `Condvar`
///   (producers and consumers: [`note_handoff_thread`]) spins with
///   [`spin_before_sleep`], once per round: it takes the lock as soon as its
///   holder lets it go, which keeps a queue's threads awake (a producer
///   hands every item to a running consumer instead of filling the queue and
///   sleeping); never a yield.
/// * **throughput** (every other thread): [`LockSpin::step`]: busy spins of
///   2, 4 and 8 pauses (skipped with one CPU), checking the lock between
///   them, then up to 7 `sched_yield`s: the steps of parking_lot's
///   `SpinWait`. The sparse checks let a holder that re-takes the lock at
///   once keep it for a run of acquisitions, instead of the lock changing
///   CPU at every release; the yields let a holder preempted on this CPU
///   run. Two more busy steps (16 and 32 pauses, ~2 µs in all) cost a
///   tight loop at 4 threads on 2 CPUs ~25 % more per acquisition
///   (`lock_ops`, two sittings of 15–20 interleaved runs: 41 → 34 ns and
///   32 → 26 ns).
///
/// When each may run (nobody parked, the fairness deadline, after a
/// wake-up) is the lock's business: see `lock::raw`.
pub(crate) struct LockSpin;

impl LockSpin {
    /// Whether the throughput spin spins at all (not under loom).
    pub(crate) const SPINS: bool = !cfg!(loom);
    /// Busy steps (2, 4, 8 pauses) of the throughput spin.
    pub(crate) const BUSY_STEPS: u32 = 3;
    /// Yields of the throughput spin, after its busy steps.
    #[cfg(not(loom))]
    const YIELD_STEPS: u32 = 7;

    /// Whether the calling thread spins for hand-offs (see [`LockSpin`]).
    #[inline]
    pub(crate) fn handoff_thread() -> bool {
        #[cfg(not(loom))]
        {
            spin::HANDOFF
                .try_with(core::cell::Cell::get)
                .unwrap_or(false)
        }
        #[cfg(loom)]
        {
            false
        }
    }

    /// The first step of a throughput spin: its busy steps are skipped where
    /// the process may run on one CPU only (the holder cannot run while
    /// this thread spins; as for [`spin_before_sleep`]).
    #[inline]
    pub(crate) fn first_step() -> u32 {
        #[cfg(not(loom))]
        {
            if spin::multi_cpu() {
                0
            } else {
                Self::BUSY_STEPS
            }
        }
        #[cfg(loom)]
        {
            0
        }
    }

    /// Takes step `step` of the throughput spin; false once they are all
    /// taken (park). Under loom it never spins.
    pub(crate) fn step(step: u32) -> bool {
        #[cfg(not(loom))]
        {
            if step < Self::BUSY_STEPS {
                for _ in 0..(2u32 << step) {
                    core::hint::spin_loop();
                }
            } else if step < Self::BUSY_STEPS + Self::YIELD_STEPS {
                std::thread::yield_now();
                #[cfg(test)]
                blocking_steps::note_yield();
            } else {
                return false;
            }
            #[cfg(test)]
            blocking_steps::note();
            true
        }
        #[cfg(loom)]
        {
            let _ = step;
            false
        }
    }
}

/// Marks the calling thread as one that waits for hand-offs, for the rest of
/// its life: its `Lock` acquisitions spin the hand-off way (see
/// [`LockSpin`]). Called by every `Condition`/`Condvar` wait.
#[inline]
pub(crate) fn note_handoff_thread() {
    #[cfg(not(loom))]
    let _ = spin::HANDOFF.try_with(|h| h.set(true));
}

/// How many [`spin_before_sleep`] spins in a row must run out of budget on a
/// thread before it backs off (spins only in probe windows).
#[cfg(not(loom))]
pub(crate) const MISSES_BEFORE_BACK_OFF: u8 = 16;

/// A probe window of [`spin_before_sleep`]'s back-off lasts `2^17` ns
/// (~0.13 ms)...
#[cfg(not(loom))]
pub(crate) const PROBE_WINDOW_SHIFT: u32 = 17;

/// ... and comes once every `2^8` windows (~34 ms).
#[cfg(not(loom))]
pub(crate) const PROBE_PERIOD_BITS: u32 = 8;

/// How many calls a thread answers "may it run on several CPUs?" from its
/// cached affinity mask before reading it again (see [`spin_before_sleep`]).
#[cfg(all(not(loom), target_os = "linux"))]
pub(crate) const AFFINITY_RECHECK: u8 = 128;

/// How long [`spin_before_sleep`] spins at most.
#[cfg(not(loom))]
pub(crate) const SPIN_BUDGET: std::time::Duration = std::time::Duration::from_micros(4);

#[cfg(not(loom))]
mod spin {
    use super::SPIN_BUDGET;
    use core::cell::Cell;
    use std::sync::OnceLock;
    use std::time::Instant;

    /// Whether spinning can help the calling thread at all: the process may
    /// run on several CPUs (see [`process_multi_cpu`]). A thread whose own
    /// mask allows one CPU may still spin: the thread it waits for may run
    /// on another CPU (each thread pinned to its own); it starts backed off
    /// instead (see [`thread_multi_cpu`]).
    pub(super) fn multi_cpu() -> bool {
        let thread_multi = thread_multi_cpu();
        process_multi_cpu(thread_multi)
    }

    /// Whether the process may run on more than one CPU: its CPU quota,
    /// set when it starts, as `available_parallelism` reports it (computed
    /// once). That call also counts the calling thread's affinity mask, so
    /// only a thread whose own mask allows several CPUs (`thread_multi`)
    /// computes it: a thread pinned to one CPU would make it "one" for every
    /// thread. A pinned thread that asks before anyone computed it gets
    /// "several": it starts backed off anyway, so it only probes.
    fn process_multi_cpu(thread_multi: bool) -> bool {
        static MULTI: OnceLock<bool> = OnceLock::new();
        #[cfg(test)]
        if let Some(multi) = testing::PROCESS_MULTI.with(Cell::get) {
            return multi;
        }
        if !thread_multi {
            return MULTI.get().copied().unwrap_or(true);
        }
        #[cfg(test)]
        testing::COMPUTED_PROCESS_COUNT.with(|r| r.set(true));
        *MULTI.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
    }

    #[cfg(test)]
    pub(super) mod testing {
        use core::cell::Cell;
        std::thread_local! {
            /// Whether this thread computed (or would have computed) the
            /// process's CPU count.
            pub(crate) static COMPUTED_PROCESS_COUNT: Cell<bool> = const { Cell::new(false) };
            /// Where this thread's spins find the clock: in a probe window,
            /// out of one, or read it (`None`).
            pub(crate) static IN_WINDOW: Cell<Option<bool>> = const { Cell::new(None) };
            /// What this thread's spins take the process's CPU count to be:
            /// several, one, or what it is (`None`).
            pub(crate) static PROCESS_MULTI: Cell<Option<bool>> = const { Cell::new(None) };
        }
    }

    #[cfg(target_os = "linux")]
    std::thread_local! {
        /// This thread's affinity cache: (calls left before it is read
        /// again, more than one CPU allowed). A new thread counts as
        /// allowed several until its first read.
        pub(super) static AFFINITY: Cell<(u8, bool)> = const { Cell::new((0, true)) };
    }

    /// Whether the calling thread's affinity mask allows more than one CPU
    /// (cached, read again every [`super::AFFINITY_RECHECK`] calls). When
    /// a read finds the thread newly pinned to one CPU (or a new thread
    /// pinned), the thread starts backed off ([`MISSES`] at least
    /// `MISSES_BEFORE_BACK_OFF`): its spins help only if the thread it
    /// waits for runs on another CPU, which a probe window finds out.
    #[cfg(target_os = "linux")]
    fn thread_multi_cpu() -> bool {
        let (left, was_multi) = AFFINITY.get();
        if left > 0 {
            AFFINITY.set((left - 1, was_multi));
            return was_multi;
        }
        // An error (not expected for the calling thread) counts as
        // "several": the spin is then bounded by the back-off.
        let multi = rustix::thread::sched_getaffinity(None).map_or(true, |set| set.count() > 1);
        AFFINITY.set((super::AFFINITY_RECHECK - 1, multi));
        if was_multi && !multi {
            MISSES.set(MISSES.get().max(super::MISSES_BEFORE_BACK_OFF));
        }
        multi
    }

    /// Elsewhere every thread counts as allowed several CPUs.
    #[cfg(not(target_os = "linux"))]
    fn thread_multi_cpu() -> bool {
        true
    }

    std::thread_local! {
        /// Whether this thread has waited on a condition (`LockSpin`).
        pub(super) static HANDOFF: Cell<bool> = const { Cell::new(false) };
        /// This thread's spins in a row that ran out of budget.
        pub(super) static MISSES: Cell<u8> = const { Cell::new(0) };
    }

    /// Whether the process's clock is in a probe window now (see
    /// [`in_probe_window`]); the clock starts at the first call.
    fn probe_window_now() -> bool {
        #[cfg(test)]
        if let Some(now) = testing::IN_WINDOW.with(Cell::get) {
            return now;
        }
        in_probe_window(probe_clock_start().elapsed())
    }

    /// When the probe windows' clock started: at the first call in the
    /// process, for every thread.
    pub(super) fn probe_clock_start() -> Instant {
        static START: OnceLock<Instant> = OnceLock::new();
        *START.get_or_init(Instant::now)
    }

    /// Whether `t` (since a start shared by every thread of the process) is
    /// in a probe window: the first `2^PROBE_WINDOW_SHIFT` ns (~0.13 ms) of
    /// every `2^PROBE_PERIOD_BITS` windows (~34 ms), 1/256 of the time.
    pub(super) fn in_probe_window(t: core::time::Duration) -> bool {
        // Truncating the nanoseconds to 64 bits only moves the windows
        // after 584 years.
        let window = (t.as_nanos() as u64) >> super::PROBE_WINDOW_SHIFT;
        window & ((1 << super::PROBE_PERIOD_BITS) - 1) == 0
    }

    pub(super) fn before_sleep(mut done: impl FnMut() -> bool) -> bool {
        if !multi_cpu() {
            return false;
        }
        let misses = MISSES.get();
        if misses >= super::MISSES_BEFORE_BACK_OFF && !probe_window_now() {
            // Backed off: spins only in the probe windows.
            return false;
        }
        let start = Instant::now();
        let mut pauses = 1u32;
        loop {
            if done() {
                MISSES.set(0);
                return true;
            }
            for _ in 0..pauses {
                core::hint::spin_loop();
            }
            pauses = (pauses * 2).min(16);
            if start.elapsed() >= SPIN_BUDGET {
                MISSES.set(misses.saturating_add(1));
                return false;
            }
        }
    }
}

/// A decision that depends on elapsed time, under loom: the `i`-th call in an
/// execution answers bit `i` of the script that [`loom_support::explore`] set
/// for this run (calls past the script's length answer `false`). Outside
/// loom there is no such function: callers read the clock.
#[cfg(loom)]
pub(crate) fn choice() -> bool {
    loom_support::next_choice()
}

/// Test-harness support for the model's choices (see the module docs).
/// Hidden: only the crate's own loom suite uses it.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_support {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    // The script and its bookkeeping are per OS thread: loom runs a model's
    // threads as coroutines on the thread that called `loom::model`, while
    // the test harness runs several models on different threads at once.
    std::thread_local! {
        /// The current script: bit `i` answers the `i`-th choice.
        static SCRIPT: Cell<u64> = const { Cell::new(0) };
        /// The most choices any execution of the current run consumed.
        static MOST: Cell<usize> = const { Cell::new(0) };
        /// The unpark tokens parked threads have woken with, over every
        /// execution since the last `take_unpark_tokens_seen`.
        static TOKENS_SEEN: std::cell::RefCell<std::collections::BTreeSet<usize>> =
            const { std::cell::RefCell::new(std::collections::BTreeSet::new()) };
    }

    /// Records that a parked thread woke with unpark token `token` (called
    /// by the loom parking backend).
    pub(crate) fn saw_unpark_token(token: usize) {
        TOKENS_SEEN.with(|t| t.borrow_mut().insert(token));
    }

    /// The unpark tokens parked threads woke with in the executions run on
    /// this thread since the last call: lets a model check that a path
    /// (say, a fairness hand-off) was reached at all.
    pub fn take_unpark_tokens_seen() -> std::collections::BTreeSet<usize> {
        TOKENS_SEEN.with(|t| std::mem::take(&mut *t.borrow_mut()))
    }

    /// How many threads are parked (queued on any key) in the model right
    /// now: a model waits for "W is queued" with
    /// `while parked() < n { loom::thread::yield_now() }`, never by guessing.
    pub fn parked() -> usize {
        crate::park::queued()
    }

    loom::lazy_static! {
        /// Choices consumed in the current execution (reset by loom for
        /// every execution). A std atomic: it is bookkeeping of the model,
        /// not a synchronising operation loom should explore.
        static ref USED: AtomicUsize = AtomicUsize::new(0);
    }

    pub(crate) fn next_choice() -> bool {
        let i = USED.fetch_add(1, SeqCst);
        MOST.set(MOST.get().max(i + 1));
        i < 64 && SCRIPT.get() >> i & 1 == 1
    }

    /// Runs `model` (which calls `loom::model` or a `loom::model::Builder`)
    /// once per script of the first `max_choices` (at most 16) time-dependent
    /// choices: every combination of answers that an execution actually
    /// consumes is explored. A model that consumes no choice runs once.
    pub fn explore(max_choices: u32, model: impl Fn()) {
        assert!(max_choices <= 16, "2^16 runs of one model is too many");
        let mut script = 0u64;
        loop {
            SCRIPT.set(script);
            MOST.set(0);
            model();
            let used = (MOST.get() as u32).min(max_choices);
            script += 1;
            // Scripts differing only in bits no execution read are the same
            // run; once every combination of the bits read so far is done,
            // stop.
            if script >= 1u64 << used {
                break;
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::MISSES_BEFORE_BACK_OFF;
    use super::blocking_steps::{
        forget_affinity, reset_spin_record, set_probe_window, spin_record,
    };
    use super::spin::{in_probe_window, probe_clock_start, testing};
    use super::spin_before_sleep;
    use core::time::Duration;
    use std::thread;

    /// Whether `spin_before_sleep` spins at all on this thread here (the
    /// process may run on several CPUs, and this thread too: the tests that
    /// need it say so and return when it does not).
    fn spins_here() -> bool {
        forget_affinity();
        reset_spin_record();
        spin_before_sleep(|| false);
        let spun = spin_record() == 1;
        reset_spin_record();
        if !spun {
            eprintln!("skipped: nothing spins on this thread (one CPU)");
        }
        spun
    }

    /// Backs the calling thread off: `MISSES_BEFORE_BACK_OFF` misses in a
    /// row, out of any probe window.
    fn back_off() {
        set_probe_window(Some(false));
        reset_spin_record();
        for _ in 0..MISSES_BEFORE_BACK_OFF {
            assert!(!spin_before_sleep(|| false));
        }
        assert_eq!(spin_record(), MISSES_BEFORE_BACK_OFF);
    }

    /// A miss now and then does not stop the spinning (where a sleep is
    /// expensive, backing off after every miss locked ping-pongs into
    /// sleeping at every wait): only `MISSES_BEFORE_BACK_OFF` in a row
    /// do; then the thread spins only in probe windows, and a success there
    /// ends the back-off.
    #[test]
    fn spinning_backs_off_only_after_misses_in_a_row() {
        let _watchdog = crate::test_watchdog::watchdog();
        thread::spawn(|| {
            if !spins_here() {
                return; // one CPU: nothing spins (the next test)
            }
            // Out of a probe window throughout, unless said otherwise.
            set_probe_window(Some(false));
            // Bursts of 8 misses (half the documented 16) between successes:
            // no spin is skipped.
            for _ in 0..100 {
                for missed in 1..=8 {
                    assert!(!spin_before_sleep(|| false));
                    assert_eq!(spin_record(), missed, "missed, not skipped");
                }
                assert!(spin_before_sleep(|| true), "a spin was skipped");
                assert_eq!(spin_record(), 0, "a success forgets the misses");
            }
            for missed in 1..=MISSES_BEFORE_BACK_OFF {
                assert!(!spin_before_sleep(|| false));
                assert_eq!(spin_record(), missed, "still spinning");
            }
            // Backed off: out of the windows not even `done` is asked ...
            for _ in 0..1000 {
                assert!(!spin_before_sleep(|| panic!("a backed-off thread spun")));
            }
            assert_eq!(spin_record(), MISSES_BEFORE_BACK_OFF);
            // ... in one it spins: a miss keeps the back-off,
            set_probe_window(Some(true));
            assert!(!spin_before_sleep(|| false));
            assert_eq!(spin_record(), MISSES_BEFORE_BACK_OFF + 1);
            // a success ends it,
            assert!(spin_before_sleep(|| true));
            assert_eq!(spin_record(), 0);
            // and out of the windows it spins again.
            set_probe_window(Some(false));
            assert!(!spin_before_sleep(|| false));
            assert_eq!(spin_record(), 1);
            set_probe_window(None);
        })
        .join()
        .unwrap();
    }

    /// The probe windows: the first 2^17 ns of every 2^25 ns (1/256 of the
    /// time), on one clock for every thread of the process, so that two
    /// backed-off threads that wait for each other probe together.
    #[test]
    fn probe_windows_are_one_in_256_on_a_shared_clock() {
        let _watchdog = crate::test_watchdog::watchdog();
        use super::spin::in_probe_window;
        let ns = Duration::from_nanos;
        let window = 1u64 << 17;
        let period = window << 8;
        for k in [0, 1, 2, 255, 1 << 20] {
            let start = k * period;
            assert!(in_probe_window(ns(start)), "window {k} opens");
            assert!(in_probe_window(ns(start + window - 1)), "window {k} lasts");
            assert!(!in_probe_window(ns(start + window)), "window {k} closes");
            assert!(!in_probe_window(ns(start + period - 1)), "until the next");
        }
        let open = (0..period / 1000)
            .filter(|i| in_probe_window(ns(i * 1000)))
            .count() as u64;
        assert_eq!(open, window.div_ceil(1000), "1/256 of the time");
        let other = thread::spawn(super::spin::probe_clock_start)
            .join()
            .unwrap();
        assert_eq!(super::spin::probe_clock_start(), other, "one clock");
    }

    /// With the real clock: a backed-off thread spins only in a window of
    /// the process's clock: it spins again within a few periods (here, in a
    /// loop that waits for nothing else, within 200: ~7 s), and a call that
    /// began and ended out of a window, in the same period, did not spin.
    /// (Not under Miri: its clock takes minutes of real time per period.)
    #[test]
    #[cfg_attr(miri, ignore)]
    fn a_backed_off_thread_probes_in_the_real_windows_only() {
        let _watchdog = crate::test_watchdog::watchdog();
        thread::spawn(|| {
            if !spins_here() {
                return;
            }
            back_off();
            set_probe_window(None);
            let start = probe_clock_start();
            let period = 1u128 << (super::PROBE_WINDOW_SHIFT + super::PROBE_PERIOD_BITS);
            let (mut probed, mut skipped) = (false, false);
            let since = start.elapsed().as_nanos();
            while !(probed && skipped) {
                let before = start.elapsed();
                let periods = (before.as_nanos() - since) / period;
                assert!(periods < 200, "no probe in {periods} periods");
                assert!(!spin_before_sleep(|| false));
                let after = start.elapsed();
                let same_period = before.as_nanos() / period == after.as_nanos() / period;
                match spin_record() - MISSES_BEFORE_BACK_OFF {
                    0 => {
                        assert!(
                            !(in_probe_window(before) && in_probe_window(after) && same_period),
                            "no spin from {before:?} to {after:?}, all in a window"
                        );
                        skipped = true;
                    }
                    1 => {
                        assert!(
                            in_probe_window(before) || in_probe_window(after) || !same_period,
                            "a spin from {before:?} to {after:?}, out of every window"
                        );
                        probed = true;
                        back_off();
                        set_probe_window(None);
                    }
                    n => panic!("{n} spins in one call"),
                }
            }
        })
        .join()
        .unwrap();
    }

    /// A process that may use one CPU only: nothing spins.
    #[test]
    fn nothing_spins_in_a_one_cpu_process() {
        let _watchdog = crate::test_watchdog::watchdog();
        thread::spawn(|| {
            testing::PROCESS_MULTI.with(|m| m.set(Some(false)));
            set_probe_window(Some(true));
            reset_spin_record();
            for _ in 0..3 * MISSES_BEFORE_BACK_OFF {
                assert!(!spin_before_sleep(|| panic!("spun with one CPU")));
            }
            assert_eq!(
                super::LockSpin::first_step(),
                super::LockSpin::BUSY_STEPS,
                "no busy steps either"
            );
        })
        .join()
        .unwrap();
    }

    /// A thread whose mask allows one CPU starts backed off: the thread it
    /// waits for may share that CPU (spinning never helps) or run on
    /// another (each pinned to its own: it does), which its first probe
    /// finds out; then it spins as any other. It does not compute the
    /// process's CPU count (its view of it says one, for every thread).
    /// Pinned while it runs, it backs off within `AFFINITY_RECHECK` calls.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_pinned_to_one_cpu_starts_backed_off() {
        let _watchdog = crate::test_watchdog::watchdog();
        use super::AFFINITY_RECHECK;
        use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
        thread::spawn(|| {
            if !spins_here() {
                return;
            }
            let all = sched_getaffinity(None).unwrap();
            let first = (0..CpuSet::MAX_CPU).find(|&c| all.is_set(c)).unwrap();
            let mut one = CpuSet::new();
            one.set(first);
            set_probe_window(Some(false));
            sched_setaffinity(None, &one).unwrap();
            forget_affinity();
            reset_spin_record();
            testing::COMPUTED_PROCESS_COUNT.with(|r| r.set(false));
            // Out of a window: no spin, backed off from the first call.
            assert!(!spin_before_sleep(|| panic!("a pinned thread spun")));
            assert_eq!(spin_record(), MISSES_BEFORE_BACK_OFF, "starts backed off");
            let computed = testing::COMPUTED_PROCESS_COUNT.with(|r| r.get());
            assert!(
                !computed,
                "a pinned thread computed the process's CPU count"
            );
            // In a window it probes; a success (its waker on another CPU)
            // ends the back-off, and it spins out of the windows too, also
            // past its next affinity reads.
            set_probe_window(Some(true));
            assert!(spin_before_sleep(|| true), "a pinned thread probes");
            set_probe_window(Some(false));
            for _ in 0..3 * usize::from(AFFINITY_RECHECK) {
                assert!(spin_before_sleep(|| true), "spins as any other");
            }
            // Unpinned, then pinned while its cached answer says "several
            // CPUs": backed off within AFFINITY_RECHECK calls.
            sched_setaffinity(None, &all).unwrap();
            forget_affinity();
            assert!(spin_before_sleep(|| true));
            sched_setaffinity(None, &one).unwrap();
            let mut calls = 0;
            loop {
                reset_spin_record();
                calls += 1;
                if !spin_before_sleep(|| true) {
                    break;
                }
                assert!(calls <= usize::from(AFFINITY_RECHECK), "{calls} calls");
            }
            assert_eq!(spin_record(), MISSES_BEFORE_BACK_OFF, "backed off");
            sched_setaffinity(None, &all).unwrap();
        })
        .join()
        .unwrap();
    }
}
