//! Deadlock detection for pysync's locks (cargo feature `deadlock_detection`).
//!
//! With the feature on, every [`Lock`](crate::Lock) and [`RLock`](crate::RLock)
//! (and so every [`Mutex`](crate::Mutex), [`ReentrantMutex`](crate::ReentrantMutex)
//! and Condition lock built on them) records which thread holds it, and
//! [`check_deadlock`] finds the cycles "thread A waits for a lock B holds,
//! B waits for a lock A holds …", with each thread's backtrace. It is
//! parking_lot_core 0.10's detector (`parking_lot_core::deadlock`) fed by
//! pysync's locks, so cycles that mix pysync locks and `parking_lot` mutexes
//! are found too. With the feature off this module does not exist and the
//! locks carry no bookkeeping at all (it is compiled out, not switched off).
//!
//! Python has no counterpart (a deadlocked CPython program just hangs;
//! `faulthandler.dump_traceback_later` is the nearest tool).
//!
//! # How to use it
//! Call [`check_deadlock`] from a watchdog thread now and then (every second
//! or so: it walks every parked thread):
//!
//! ```no_run
//! use std::{thread, time::Duration};
//! thread::spawn(|| loop {
//!     thread::sleep(Duration::from_secs(1));
//!     for cycle in pysync::deadlock::check_deadlock() {
//!         eprintln!("deadlock among {} threads:", cycle.len());
//!         for t in &cycle {
//!             eprintln!("{t}");
//!         }
//!     }
//! });
//! ```
//!
//! # What it sees, and what it costs the reported threads
//! * Only threads blocked **without a timeout** count: a thread in
//!   `acquire_timeout`/`acquire_until` can still give up, so it is never part
//!   of a reported cycle. Threads that are still spinning before they park
//!   are not seen yet: call again.
//! * Reporting is final: parking_lot_core takes each reported thread out of
//!   its wait queue, has it capture its backtrace, and then **keeps it
//!   blocked for ever** (the locks it holds stay held). That is the only safe
//!   thing to do with a deadlocked thread; log, then shut down or carry on
//!   without those threads.
//! * Waits on a [`Condition`](crate::Condition), an `Event`, a `Semaphore` or
//!   a `Barrier` have no owner, so they close no cycle by themselves; a
//!   Condition waiter that was notified and waits to get its lock back is an
//!   ordinary lock waiter and does.
//!
//! # Locks released by another thread
//! A [`Lock`](crate::Lock) is not owned: Python lets any thread release it.
//! parking_lot_core keeps each thread's held locks in that thread's own
//! record, which only that thread can change, so when thread B releases a
//! lock A acquired, A's record would still name the lock and a cycle through
//! it could be reported although A no longer holds it. pysync therefore keeps
//! a side table (only with the feature): who recorded each lock, and for each
//! thread the locks others released on its behalf. The thread drops those
//! from its record at its next acquire, release or wait; until it has done
//! so — in particular while it is blocked — [`check_deadlock`] reports
//! nothing at all rather than risk naming (and so stopping for ever) threads
//! that are not deadlocked. One narrow race remains: a release by another
//! thread in the few instructions between an acquisition and its recording
//! leaves the acquirer's record stale until it releases that lock itself.

use core::cell::Cell;
use core::cell::UnsafeCell;
use core::fmt;
use core::ops::{Deref, DerefMut};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ThreadId;

/// One thread of a deadlock cycle found by [`check_deadlock`]: its id and the
/// backtrace it captured where it is blocked.
///
/// `Display` prints the id and the frames from where the thread blocked (in
/// pysync) outwards to the thread's entry point, one per line.
///
/// ```no_run
/// for cycle in pysync::deadlock::check_deadlock() {
///     for thread in &cycle {
///         let top = thread.frames().first().map(|f| f.function());
///         println!("{:?} blocked in {:?}", thread.thread_id(), top);
///     }
/// }
/// ```
#[derive(Clone, Debug)]
pub struct DeadlockedThread {
    thread_id: ThreadId,
    frames: Vec<Frame>,
}

impl DeadlockedThread {
    /// The deadlocked thread's id (`std::thread::Thread::id`).
    pub fn thread_id(&self) -> ThreadId {
        self.thread_id
    }

    /// The thread's stack, innermost first, starting at the first pysync
    /// frame (the detector's and the parking machinery's own frames are left
    /// out) and ending at the thread's entry point.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }
}

impl fmt::Display for DeadlockedThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "thread {:?}", self.thread_id)?;
        for frame in &self.frames {
            write!(f, "\n    {frame}")?;
        }
        Ok(())
    }
}

/// One stack frame of a [`DeadlockedThread`] (an inlined call is a frame of
/// its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    function: String,
    file: Option<PathBuf>,
    line: Option<u32>,
}

impl Frame {
    /// The demangled function name, without its hash (`"<unknown>"` when the
    /// binary has no symbols for it).
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The source file, when debug info is available.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }

    /// The source line, when debug info is available.
    pub fn line(&self) -> Option<u32> {
        self.line
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.function)?;
        if let (Some(file), Some(line)) = (&self.file, self.line) {
            write!(f, " at {}:{line}", file.display())?;
        }
        Ok(())
    }
}

/// Finds every cycle of threads blocked (without a timeout) on locks held by
/// each other, and returns one `Vec` per cycle (strongly connected
/// component). Empty when there is none.
///
/// The reported threads stay blocked for ever (see the [module docs](self)).
/// Reports nothing while a lock released by a thread other than its
/// acquirer has not yet been dropped from the acquirer's record (see
/// "Locks released by another thread" in the module docs): call again.
///
/// ```
/// use pysync::Lock;
/// let (a, b) = (Lock::new(), Lock::new());
/// let _ga = a.lock();
/// let _gb = b.lock(); // same order everywhere: no cycle
/// assert!(pysync::deadlock::check_deadlock().is_empty());
/// ```
pub fn check_deadlock() -> Vec<Vec<DeadlockedThread>> {
    // Held across the check, so that no cross-thread release (which must
    // take the books first) can make a record stale while the graph is read.
    // The reported threads never touch the books, so this cannot block them.
    let books = books();
    if books
        .orphans
        .keys()
        .any(|thread| books.blocked.contains(thread))
    {
        return Vec::new();
    }
    let mut books = books;
    let cycles = parking_lot_core::deadlock::check_deadlock();
    for t in cycles.iter().flatten() {
        books.gone.insert(t.thread_id());
        books.orphans.remove(&t.thread_id());
        books.blocked.remove(&t.thread_id());
    }
    drop(books);
    cycles
        .into_iter()
        .map(|cycle| {
            cycle
                .into_iter()
                .map(|t| {
                    let mut frames = Vec::new();
                    for frame in t.backtrace().frames() {
                        for sym in frame.symbols() {
                            frames.push(Frame {
                                function: sym
                                    .name()
                                    .map_or_else(|| "<unknown>".to_owned(), |n| format!("{n:#}")),
                                file: sym.filename().map(PathBuf::from),
                                line: sym.lineno(),
                            });
                        }
                    }
                    DeadlockedThread {
                        thread_id: t.thread_id(),
                        frames: trim(frames),
                    }
                })
                .collect()
        })
        .collect()
}

/// The path a frame's function name starts with, without the `<` that
/// v0 symbols (rustc's default on nightly) put around an inherent or trait
/// method's self type: `<pysync::lock::Lock>::acquire_slow` and the legacy
/// `pysync::lock::Lock::acquire_slow` both start with `pysync::`.
fn path(name: &str) -> &str {
    name.trim_start_matches('<')
}

/// Keeps the frames from the first pysync one to the thread's entry point.
fn trim(mut frames: Vec<Frame>) -> Vec<Frame> {
    let internal = |f: &Frame| {
        let n = path(&f.function);
        f.function == "<unknown>"
            || n.starts_with("backtrace::")
            || n.starts_with("parking_lot_core::")
            || n.starts_with("pysync::park::")
            || n.starts_with("pysync::park<")
    };
    let start = frames
        .iter()
        .position(|f| path(&f.function).starts_with("pysync::") && !internal(f))
        .or_else(|| frames.iter().position(|f| !internal(f)))
        .unwrap_or(0);
    frames.drain(..start);
    // Like std's short backtraces: stop at the runtime's entry frames.
    if let Some(end) = frames
        .iter()
        .position(|f| f.function.contains("__rust_begin_short_backtrace"))
    {
        frames.truncate(end);
    }
    frames
}

// ----- bookkeeping (called through the parking seam) -------------------------

/// Who recorded which lock, and what others released on whose behalf.
/// Locks are their parking keys.
#[derive(Default)]
struct Books {
    /// Lock → the thread whose parking_lot_core record names it.
    owner: HashMap<usize, ThreadId>,
    /// Thread → locks released by other threads that its record still names.
    orphans: HashMap<ThreadId, Vec<usize>>,
    /// Threads in (or entering, or leaving) a wait without timeout.
    blocked: HashSet<ThreadId>,
    /// Threads reported by `check_deadlock`: blocked for ever, their records
    /// are out of every wait queue and never read again.
    gone: HashSet<ThreadId>,
}

/// The books behind a lock that spins and yields, and never sleeps in a
/// futex wait. "Asleep in a futex wait" is how a test (or a debugger, or a
/// profiler) sees a thread parked on a primitive; every untimed park takes
/// the books just before it queues ([`Blocked::enter`]), and a thread
/// asleep on a futex mutex *there* looked parked on the primitive while it
/// was not queued yet. (`tests/lock.rs`'s
/// `release_fair_hands_off_to_the_parked_waiter` failed 4 of 30 runs so,
/// with this feature on and the machine busy.) The lock is held for a few
/// hash-map operations.
struct BooksLock {
    held: AtomicBool,
    books: UnsafeCell<Books>,
}

// SAFETY: `books` is only reached through a `BooksGuard`, which exists only
// while `held` is ours (see `books`).
unsafe impl Sync for BooksLock {}

/// The books, held (released on drop, unwinding included).
struct BooksGuard(&'static BooksLock);

impl Deref for BooksGuard {
    type Target = Books;
    fn deref(&self) -> &Books {
        // SAFETY: we hold the lock: nobody else reaches `books`.
        unsafe { &*self.0.books.get() }
    }
}

impl DerefMut for BooksGuard {
    fn deref_mut(&mut self) -> &mut Books {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access.
        unsafe { &mut *self.0.books.get() }
    }
}

impl Drop for BooksGuard {
    fn drop(&mut self) {
        // Release: publishes our changes to the next holder's Acquire.
        self.0.held.store(false, Ordering::Release);
    }
}

static BOOKS: LazyLock<BooksLock> = LazyLock::new(|| BooksLock {
    held: AtomicBool::new(false),
    books: UnsafeCell::new(Books::default()),
});

fn books() -> BooksGuard {
    let lock: &'static BooksLock = &BOOKS;
    // Acquire: pairs with the Release in `BooksGuard::drop`.
    while lock.held.swap(true, Ordering::Acquire) {
        // Relaxed: only waits for a chance; the swap above orders.
        while lock.held.load(Ordering::Relaxed) {
            std::thread::yield_now();
        }
    }
    BooksGuard(lock)
}

/// The calling thread (`thread::current` works even in TLS destructors).
fn me() -> ThreadId {
    std::thread::current().id()
}

/// Drops one acquisition of `key` from the calling thread's record.
fn unrecord(key: usize) {
    // SAFETY: never called from a parking callback: the seam's hooks are
    // called by the primitives outside callbacks, `Blocked` before parking,
    // and each of them checks that first (`outside_callbacks`).
    unsafe { parking_lot_core::deadlock::release_resource(key) };
}

impl Books {
    /// Drops from `me`'s record the locks others released for it.
    fn settle(&mut self, me: ThreadId) {
        if let Some(keys) = self.orphans.remove(&me) {
            keys.into_iter().for_each(unrecord);
        }
    }

    /// Notes that `owner`'s record names `key`, which another thread released.
    fn orphan(&mut self, owner: ThreadId, key: usize) {
        if !self.gone.contains(&owner) {
            self.orphans.entry(owner).or_default().push(key);
        }
    }
}

/// The calling thread now holds the lock `key` (called right after the
/// acquisition).
pub(crate) fn acquired(key: usize) {
    outside_callbacks("acquire");
    let me = me();
    let mut books = books();
    books.settle(me);
    match books.owner.insert(key, me) {
        // A record nobody released (pysync's locks report every release, so
        // only after the race in the module docs): drop it.
        Some(stale) if stale == me => unrecord(key),
        Some(stale) => books.orphan(stale, key),
        None => {}
    }
    // SAFETY: not called from a parking callback (see `unrecord`).
    unsafe { parking_lot_core::deadlock::acquire_resource(key) };
}

/// The lock `key` is about to be released by the calling thread (called
/// right before the release).
pub(crate) fn releasing(key: usize) {
    outside_callbacks("release");
    let me = me();
    let mut books = books();
    books.settle(me);
    match books.owner.remove(&key) {
        Some(owner) if owner == me => unrecord(key),
        // Released on another thread's behalf: that thread drops it from
        // its own record at its next hook.
        Some(owner) => books.orphan(owner, key),
        // Not recorded: an erroneous release of an unlocked lock, or the
        // race described in the module docs.
        None => {}
    }
}

// ----- no bookkeeping inside parking callbacks -------------------------------

std::thread_local! {
    /// How many parking callbacks (passed through the seam) the calling
    /// thread is running, nested (a `before_sleep` may unpark).
    static IN_CALLBACK: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f`, a callback the parking seam passes to parking_lot_core, marked
/// as one for [`outside_callbacks`]. Never panics or allocates.
#[inline]
pub(crate) fn in_callback<R>(f: impl FnOnce() -> R) -> R {
    // `try_with`: a const-initialised `Cell` has no destructor, so this
    // never fails; nothing to do if it ever did.
    let _ = IN_CALLBACK.try_with(|d| d.set(d.get().wrapping_add(1)));
    let r = f();
    let _ = IN_CALLBACK.try_with(|d| d.set(d.get().wrapping_sub(1)));
    r
}

/// Stops the process if the calling thread is inside a parking callback:
/// parking_lot_core's bookkeeping there is undefined behaviour (the thread
/// may already be queued, and `check_deadlock` reads queued threads'
/// records), and only a bug in pysync can get here, so it aborts with a
/// message before the undefined behaviour instead of unwinding through
/// parking_lot_core.
#[inline]
fn outside_callbacks(what: &str) {
    if IN_CALLBACK.try_with(Cell::get).unwrap_or(0) != 0 {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "pysync bug: deadlock-detector bookkeeping ({what}) inside a parking callback, \
             which parking_lot_core forbids; aborting"
        );
        std::process::abort();
    }
}

/// Marks the calling thread as blocked while it parks without a timeout
/// (a timed wait is never part of a reported cycle).
pub(crate) struct Blocked(Option<ThreadId>);

impl Blocked {
    #[inline]
    pub(crate) fn enter(untimed: bool) -> Blocked {
        outside_callbacks("park");
        if !untimed {
            return Blocked(None);
        }
        let me = me();
        let mut books = books();
        books.settle(me);
        books.blocked.insert(me);
        Blocked(Some(me))
    }
}

impl Drop for Blocked {
    #[inline]
    fn drop(&mut self) {
        if let Some(me) = self.0 {
            books().blocked.remove(&me);
        }
    }
}

#[cfg(not(loom))]
mod assertions {
    use super::*;
    use static_assertions::assert_impl_all;
    assert_impl_all!(DeadlockedThread: Send, Sync, fmt::Debug, fmt::Display, Clone);
    assert_impl_all!(Frame: Send, Sync, fmt::Debug, fmt::Display, Clone);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(names: &[&str]) -> Vec<Frame> {
        names
            .iter()
            .map(|n| Frame {
                function: (*n).to_owned(),
                file: None,
                line: None,
            })
            .collect()
    }

    fn names(frames: &[Frame]) -> Vec<&str> {
        frames.iter().map(Frame::function).collect()
    }

    /// A blocked thread's stack as rustc's legacy symbols (stable's
    /// default) and v0 symbols (nightly's default) print it: both are cut
    /// to start at pysync's Lock and end before the runtime's entry frames.
    #[test]
    fn trim_starts_at_the_first_pysync_frame_in_both_symbol_manglings() {
        let _watchdog = crate::test_watchdog::watchdog();
        let legacy = frames(&[
            "backtrace::capture::Backtrace::new",
            "parking_lot_core::parking_lot::deadlock_impl::on_unpark",
            "parking_lot_core::parking_lot::park",
            "pysync::park::backend::park",
            "pysync::lock::Lock::park_waiter",
            "pysync::lock::Lock::acquire_slow",
            "deadlock::blocked_in_acquire",
            "std::sys::backtrace::__rust_begin_short_backtrace",
            "<unknown>",
        ]);
        assert_eq!(
            names(&trim(legacy)),
            [
                "pysync::lock::Lock::park_waiter",
                "pysync::lock::Lock::acquire_slow",
                "deadlock::blocked_in_acquire",
            ]
        );
        let v0 = frames(&[
            "<backtrace::capture::Backtrace>::new",
            "parking_lot_core::parking_lot::deadlock_impl::on_unpark",
            "<parking_lot_core::thread_parker::imp::ThreadParker as parking_lot_core::thread_parker::ThreadParkerT>::park",
            "parking_lot_core::parking_lot::park::<pysync::lock::Lock>",
            "pysync::park::detected::park::<{closure#0}>",
            "<pysync::lock::Lock>::park_waiter",
            "<pysync::lock::Lock>::acquire_slow",
            "deadlock::blocked_in_acquire",
            "std::sys::backtrace::__rust_begin_short_backtrace::<{closure#0}, ()>",
        ]);
        assert_eq!(
            names(&trim(v0)),
            [
                "<pysync::lock::Lock>::park_waiter",
                "<pysync::lock::Lock>::acquire_slow",
                "deadlock::blocked_in_acquire",
            ]
        );
    }
}
