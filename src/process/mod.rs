//! # `pysync::process`: the primitives across processes (Linux)
//!
//! Python's `multiprocessing.Lock`, `RLock`, `Semaphore`,
//! `BoundedSemaphore`, `Event`, `Condition` and `Barrier`, with the thread
//! versions' API and semantics, living in shared memory and parked with
//! futexes on that memory; and, unlike Python's, **robust to a process that
//! dies** (SIGKILL included) while it holds or waits on one of them.
//!
//! ```
//! use pysync::process::Region;
//! let name = format!("/pysync-doc-mod-{}", std::process::id());
//! let region = Region::create(&name, 1 << 20)?;
//! let lock = region.lock("counter-lock")?;
//! let counter = region.data("counter", 8)?; // 8 shared bytes
//! {
//!     let _held = lock.lock();
//!     // SAFETY: the bytes are only touched while `lock` is held, by any process.
//!     unsafe { *counter.as_ptr().cast::<u64>() += 1 };
//! }
//! // Other processes: Region::open(&name)?.lock("counter-lock")? — same lock.
//! Region::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Linux only**: this module exists only when `target_os = "linux"`
//! (futexes on shared mappings, `/proc` for liveness); on other targets
//! `pysync::process` is absent, so code that uses it fails to compile with
//! "could not find `process` in `pysync`" instead of misbehaving.
//!
//! | Python (`multiprocessing`) | pysync | robust to a process killed … |
//! |---|---|---|
//! | `Lock` | [`Lock`] | holding it: the next acquirer gets it, with [`Lock::owner_died`] |
//! | `RLock` | [`RLock`] | holding it (any depth): likewise |
//! | `Semaphore`, `BoundedSemaphore` | [`Semaphore`], [`BoundedSemaphore`] | holding permits through a guard: they come back; waiting: its place is freed |
//! | `Event` | [`Event`] | (nothing to recover: nobody owns an event) |
//! | `Condition` | [`Condition`] | waiting, even just notified: the notification passes on; holding the lock: as `Lock` |
//! | `Barrier` | [`Barrier`] | inside `wait` (or its action): the round breaks, like a timeout |
//!
//! # Design
//!
//! ## The region
//! A [`Region`] is one shared mapping: a POSIX shared-memory object
//! ([`Region::create`]/[`Region::open`], by name, for unrelated processes)
//! or an anonymous `memfd` ([`Region::anonymous`]) handed to children by an
//! inherited fd ([`Region::inheritable_fd`], [`Region::from_fd`]). It starts
//! with a header:
//!
//! * `magic` (`"PYSYNCRG"`) and `version` ([`LAYOUT_VERSION`]) at fixed
//!   offsets in every layout version. The creator writes the header and
//!   then the magic (Release); an opener checks magic, version, header size
//!   and file size before it touches anything else: a file that is not a
//!   region, or a region of another layout version, is a clear
//!   [`RegionError`], never undefined behaviour;
//! * a robust lock guarding the directory and the bump allocator;
//! * a directory of up to [`MAX_OBJECTS`] named objects (name, kind,
//!   offset, creation parameters): `region.lock("x")` creates the object or
//!   opens it, and refuses a name that holds another kind or other
//!   parameters; offsets are bounds- and alignment-checked on every open;
//! * the **process table**: [`MAX_PROCESSES`] slots of
//!   `pid << 32 | generation << 2 | status` plus the process's start time
//!   (`/proc/<pid>/stat` field 22). Attaching claims a free slot, or the
//!   slot of a dead process (moving its generation on), with one CAS. A
//!   process's **token** is `generation << 8 | slot` (24 bits): it is what a
//!   lock word holds while that process holds the lock.
//!
//! Every object is `#[repr(C)]`, made only of 32/64-bit atomics, valid when
//! zeroed; nothing in the region is a pointer.
//!
//! ## The seam
//! As for the thread primitives, the state machines (`raw.rs`) never call
//! the OS directly: they wait and wake through a small futex seam
//! (`futex.rs`): `FUTEX_WAIT`/`FUTEX_WAKE` **without** `FUTEX_PRIVATE_FLAG`
//! (rustix), so the kernel keys waiters by the shared page. Under
//! `cfg(loom)` the seam is a model of futex queues and the "process" is a
//! model context whose death is a step of the model (`tests/loom/process.rs`).
//! The state machines are generic over the calling process (`Cx`: its token
//! and a liveness test).
//!
//! ## Owner death
//! * **Liveness** of a token: its slot still holds that generation, and the
//!   slot's pid names a live process with the *same start time* that is not
//!   a zombie. A pid reused by a new process has another start time, and a
//!   reused slot has another generation: neither passes for the dead owner.
//!   (All processes must share one pid namespace and `/proc`.)
//! * **Detection bound**: every blocking wait is cut into slices of
//!   [`SLICE`] (20 ms): after each slice without progress a waiter checks
//!   the liveness of whoever it waits for. So a waiter notices a dead owner
//!   at most one slice after the death, whatever its own timeout: **the next
//!   acquirer gets a dead holder's lock within 100 ms** (20 ms slice + a
//!   `/proc` read + scheduling; `tests/process_kill.rs` measures it). A
//!   timed wait shorter than a slice checks once at its deadline, also one
//!   whose deadline passes before it gets to sleep (a short wait on a
//!   loaded machine). `try_acquire` and a zero timeout never check (they
//!   stay one CAS).
//! * **Why not the kernel's robust-futex list**: there is one list per
//!   thread (`set_robust_list`), and glibc already registers it for its own
//!   robust mutexes; registering ours would unhook glibc's. It would also
//!   cover only lock words, not semaphore permits, condition waiters or
//!   barrier parties. Liveness checks cover all of them, at the price of
//!   the bounded delay above.
//!
//! ## Each primitive
//! * [`Lock`]: one word, `owner token | DIED | WAITERS`. Uncontended
//!   acquire and release are one CAS each, no syscall. Waiters set
//!   `WAITERS` and sleep on the word; a release that cleared `WAITERS`
//!   wakes one. A waiter that finds the owner dead CASes the word from
//!   exactly what it saw to `me | DIED`, so exactly one waiter recovers it;
//!   the holder sees [`Lock::owner_died`] until it releases. Not FIFO
//!   (like the kernel's futex and pthread mutexes; the thread `Lock` is not
//!   FIFO either).
//! * [`RLock`]: a `Lock` word plus the owning thread as
//!   `token << 32 | per-process thread number`, and the depth.
//! * [`Semaphore`], [`BoundedSemaphore`]: a count word with a `QUEUED` bit
//!   (fast paths: one CAS, only while nobody is queued), a robust inner
//!   lock, a queue of [`QUEUE_CELLS`] waiter cells, each the futex word its
//!   waiter sleeps on, in arrival order: a release hands its permit to the
//!   longest waiter's cell (FIFO, no barging), and wakes that waiter alone.
//!   Permits taken through a guard ([`Semaphore::access`]) are counted per
//!   process; a blocked acquirer, once per slice, returns the permits of
//!   dead processes and frees dead waiters' cells.
//! * [`Event`]: one word, `generation | WAITERS | SET`; a waiter returns
//!   `true` if it sees the flag or a newer generation, so one woken by
//!   `set` returns `true` even if `clear` follows at once.
//! * [`Condition`]: the same waiter cells; `notify(n)` grants the `n`
//!   longest waiters (FIFO) and records the arrival number at that moment.
//!   A waiter that times out as it is notified either gave up first (the
//!   notification goes to the next) or keeps it: one CAS on its cell
//!   decides. A notified waiter keeps its cell granted until it holds the
//!   lock again; if it dies before that (asleep, or blocked re-taking the
//!   lock), a blocked waiter, once per slice, passes the notification on to
//!   the longest waiter that was already waiting when it was sent. FIFO
//!   covers who is notified; the notified then re-take the lock in the
//!   lock's own (unordered) way.
//! * [`Barrier`]: a word `round << 2 | phase` (filling, releasing, broken),
//!   per-process counts of the parties waiting in the round, and one
//!   outcome bit per round. A blocked party, once per slice, checks the
//!   processes with parties in the round (and the one running the action):
//!   a dead one breaks the round, exactly as a timeout would.
//!
//! ## Limits
//! * Permits come back only if they were taken through a guard
//!   (`access*`): plain `acquire`/`release` permits are not owned (any
//!   process may release them, Python's semantics), so nobody knows whose
//!   they are. A process killed in the few instructions between taking a
//!   guarded permit and counting it (or between uncounting and releasing
//!   it) loses that one permit.
//! * A process killed inside an internal critical section (a few hundred
//!   nanoseconds of queue bookkeeping) is recovered from like a lock owner;
//!   the queue stays usable, but that operation may be lost.
//! * Up to [`QUEUE_CELLS`] waiters per semaphore or condition are queued in
//!   FIFO order; more wait for a free cell (unordered), and a condition
//!   waiter that found no cell returns as if notified (a spurious wake-up).
//! * Owner death is noticed by waiters: a dead holder's lock is recovered
//!   when someone waits for it (within the bound), not before.
//! * A `Lock` (not owned) held by a process that exits is treated as held by
//!   a dead process: the next waiter recovers it.
//! * `try_acquire` (and a zero timeout) never checks liveness, to stay one
//!   CAS: only a waiting acquirer takes over a dead holder's lock.
//! * The robustness needs `/proc` (liveness) and one pid namespace for all
//!   the processes.
//! * [`MAX_PROCESSES`] processes attached at once; a slot's generation is
//!   16 bits, so a stale token could pass for a live one only after 65 536
//!   reuses of one slot while a lock still names it.

#[cfg(not(loom))]
mod api;
pub(crate) mod futex;
#[cfg(not(loom))]
mod region;

/// The state machines, exposed to the crate's loom models only.
#[cfg(loom)]
#[doc(hidden)]
pub mod raw;
#[cfg(not(loom))]
mod raw;

#[cfg(not(loom))]
pub use api::{
    Barrier, BoundedSemaphore, Condition, ConditionGuard, ConditionLock, Data, Event, Lock,
    LockGuard, RLock, RLockGuard, Semaphore, SemaphoreGuard,
};
pub use futex::SLICE;
#[cfg(not(loom))]
pub use region::{
    LAYOUT_VERSION, MAX_NAME, MAX_OBJECTS, MAX_PROCESSES, MAX_SIZE, Region, RegionError,
};

/// Waiter cells per [`Semaphore`]/[`Condition`] queue (FIFO among them).
///
/// ```
/// assert_eq!(pysync::process::QUEUE_CELLS, 64);
/// ```
pub const QUEUE_CELLS: usize = raw::QCAP;

/// Under loom: the model's futex deaths, for `raw::ModelCx::die`.
#[cfg(loom)]
#[doc(hidden)]
pub fn choice() -> bool {
    crate::sync::choice()
}
