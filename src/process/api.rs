//! The public handles: what a [`Region`] hands out, with the thread
//! primitives' API (four blocking forms, Python-worded errors, guards).

use super::raw::{CondLock, MAX_PERMITS, RawBarrier, RawCond, RawEvent, RawLock, RawRLock, RawSem};
use super::region::{Kind, Obj, Region, RegionError};
use crate::blocking::{self, RawAcquire};
use crate::deadline::Deadline;
use crate::error::Error;
use core::fmt;
use core::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::region::Data;

// ===========================================================================
// Region: creating and opening objects
// ===========================================================================

impl Region {
    /// The [`Lock`] named `name`, created unlocked if it does not exist.
    /// `Err(KindMismatch)` if `name` holds another kind of object.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let a = r.lock("l")?;
    /// let b = r.lock("l")?; // the same lock
    /// a.acquire();
    /// assert!(b.locked());
    /// assert!(r.event("l").is_err()); // "l" is a Lock
    /// # a.release()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lock(&self, name: &str) -> Result<Lock, RegionError> {
        let obj = self.object::<RawLock>(name, Kind::Lock, [0, 0], |_| {})?;
        Ok(Lock {
            me: self.token(),
            obj,
        })
    }

    /// The [`RLock`] named `name`, created unlocked if it does not exist.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let rl = r.rlock("r")?;
    /// rl.acquire();
    /// rl.acquire();
    /// assert_eq!(rl.recursion_count(), 2);
    /// # rl.release()?; rl.release()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rlock(&self, name: &str) -> Result<RLock, RegionError> {
        let obj = self.object::<RawRLock>(name, Kind::RLock, [0, 0], |_| {})?;
        Ok(RLock {
            me: self.token(),
            obj,
            _not_send: PhantomData,
        })
    }

    /// The [`Semaphore`] named `name`, created with `permits` if it does not
    /// exist (`Err(ParameterMismatch)` if it exists with another initial
    /// value). At most [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let s = r.semaphore("pool", 2)?;
    /// assert_eq!(s.available(), 2);
    /// assert!(r.semaphore("pool", 3).is_err());
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn semaphore(&self, name: &str, permits: usize) -> Result<Semaphore, RegionError> {
        let p = check_permits(permits)?;
        let obj = self.object::<RawSem>(
            name,
            Kind::Semaphore,
            [u64::from(p), u64::from(MAX_PERMITS)],
            |s| s.init(p, MAX_PERMITS),
        )?;
        Ok(Semaphore { obj })
    }

    /// The [`BoundedSemaphore`] named `name`, created with `permits` (also
    /// its bound) if it does not exist.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let s = r.bounded_semaphore("slots", 1)?;
    /// assert!(s.release().is_err()); // already at its bound
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn bounded_semaphore(
        &self,
        name: &str,
        permits: usize,
    ) -> Result<BoundedSemaphore, RegionError> {
        let p = check_permits(permits)?;
        let obj = self.object::<RawSem>(
            name,
            Kind::BoundedSemaphore,
            [u64::from(p), u64::from(p)],
            |s| s.init(p, p),
        )?;
        Ok(BoundedSemaphore {
            sem: Semaphore { obj },
        })
    }

    /// The [`Event`] named `name`, created clear if it does not exist.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let e = r.event("go")?;
    /// e.set();
    /// assert!(r.event("go")?.is_set());
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn event(&self, name: &str) -> Result<Event, RegionError> {
        let obj = self.object::<RawEvent>(name, Kind::Event, [0, 0], |_| {})?;
        Ok(Event { obj })
    }

    /// The [`Condition`] named `name`, bound to its own [`RLock`] (named
    /// `name` + `".lock"`, so `name` may have at most
    /// [`MAX_NAME`](super::MAX_NAME)` - 5` bytes), like Python's
    /// `Condition()`.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let c = r.condition("c")?;
    /// let _g = c.lock();
    /// assert_eq!(c.wait_timeout(std::time::Duration::from_millis(1))?, false);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn condition(&self, name: &str) -> Result<Condition<RLock>, RegionError> {
        let lock = self.rlock(&format!("{name}.lock"))?;
        self.condition_with_lock(name, lock)
    }

    /// The [`Condition`] named `name`, bound to `lock` (a [`Lock`] or an
    /// [`RLock`] of this region handle). Every process must bind it to the
    /// same lock: `Err(ParameterMismatch)` otherwise.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let l = r.lock("l")?;
    /// let c = r.condition_with_lock("c", l.clone())?;
    /// assert!(r.condition_with_lock("c", r.lock("other")?).is_err());
    /// c.acquire();
    /// c.notify_all()?;
    /// c.release()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn condition_with_lock<L: ConditionLock>(
        &self,
        name: &str,
        lock: L,
    ) -> Result<Condition<L>, RegionError> {
        let (region, offset, kind) = lock.binding();
        if !region.same_as(self) {
            return Err(RegionError::BadParameter(
                "a Condition's lock must come from the same Region handle",
            ));
        }
        let obj =
            self.object::<RawCond>(name, Kind::Condition, [offset, u64::from(kind)], |_| {})?;
        Ok(Condition { obj, lock })
    }

    /// The [`Barrier`] named `name` for `parties` (≥ 1) processes or
    /// threads, created if it does not exist.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let b = r.barrier("b", 1)?;
    /// assert_eq!(b.wait()?, 0);
    /// assert!(r.barrier("zero", 0).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn barrier(&self, name: &str, parties: usize) -> Result<Barrier, RegionError> {
        self.barrier_impl(name, parties, u64::MAX)
    }

    /// [`barrier`](Region::barrier) with a default timeout for `wait`
    /// (Python's `Barrier(parties, timeout=…)`), shared by every process.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let b = r.barrier_with_timeout("b", 2, Duration::from_millis(5))?;
    /// assert!(b.wait().is_err()); // nobody else came: broken
    /// assert!(b.broken());
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn barrier_with_timeout(
        &self,
        name: &str,
        parties: usize,
        timeout: Duration,
    ) -> Result<Barrier, RegionError> {
        let ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        self.barrier_impl(name, parties, ns)
    }

    fn barrier_impl(&self, name: &str, parties: usize, ns: u64) -> Result<Barrier, RegionError> {
        if parties == 0 || parties > (1 << 28) {
            return Err(RegionError::BadParameter("Barrier needs 1 to 2^28 parties"));
        }
        let p = parties as u32;
        let obj =
            self.object::<RawBarrier>(name, Kind::Barrier, [u64::from(p), ns], |b| b.init(p, ns))?;
        Ok(Barrier { obj, action: None })
    }

    /// The block of `len` shared bytes named `name` (zeroed at creation,
    /// 64-byte aligned): data for the processes to share under a lock.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let d = r.data("buf", 16)?;
    /// assert_eq!(d.len(), 16);
    /// assert!(r.data("buf", 32).is_err()); // exists with another length
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn data(&self, name: &str, len: usize) -> Result<Data, RegionError> {
        let ptr = self.data_block(name, len as u64)?;
        Ok(Data::new(self.clone(), ptr, len))
    }
}

fn check_permits(permits: usize) -> Result<u32, RegionError> {
    u32::try_from(permits)
        .ok()
        .filter(|&p| p <= MAX_PERMITS)
        .ok_or(RegionError::BadParameter(
            "a process semaphore holds at most 2^31 - 1 permits",
        ))
}

// ===========================================================================
// Lock
// ===========================================================================

/// `multiprocessing.Lock` that survives its holder's death: a
/// [`pysync::Lock`](crate::Lock) in shared memory.
///
/// * Not owned: any thread of any process may release it.
/// * Uncontended acquire and release: one CAS each, no syscall.
/// * If the process holding it dies, the next acquirer gets it within
///   100 ms (see the [module docs](super)), and
///   [`owner_died`](Lock::owner_died) tells it so until it releases: the
///   data the lock protects may be half-updated.
///
/// ```
/// let r = pysync::process::Region::anonymous(1 << 20)?;
/// let lock = r.lock("l")?;
/// lock.acquire();
/// assert!(lock.locked());
/// assert!(!lock.owner_died());
/// lock.release()?;
/// assert_eq!(lock.release(), Err(pysync::Error::ReleaseUnlocked));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Lock {
    obj: Obj<RawLock>,
    me: u32,
}

impl Lock {
    blocking::acquire_forms!("the lock", "lock" = "r.lock(\"l\")?" in process; |l| l);
    blocking::guard_forms!(
        "the lock", "lock" = "r.lock(\"l\")?" in process;
        lock, try_lock, lock_timeout, lock_until -> LockGuard<'_> = |l| LockGuard { lock: l };
        |l| l
    );

    /// Releases it, from any thread of any process;
    /// `Err(ReleaseUnlocked)` if it is not locked. A release with nobody
    /// waiting makes no syscall.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let lock = r.lock("l")?;
    /// assert!(lock.release().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn release(&self) -> Result<(), Error> {
        self.obj.release(self.me)
    }

    /// Whether anyone, in any process, holds it (a snapshot).
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert!(!r.lock("l")?.locked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn locked(&self) -> bool {
        self.obj.locked()
    }

    /// Whether it is held, and its current holder took it over from a
    /// process that died holding it (POSIX's `EOWNERDEAD`): what it
    /// protects may be inconsistent. Cleared by the release.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let lock = r.lock("l")?;
    /// let g = lock.lock();
    /// assert!(!g.owner_died()); // tests/process_kill.rs shows the other case
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn owner_died(&self) -> bool {
        self.obj.owner_died()
    }

    /// Whether this process holds it.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let lock = r.lock("l")?;
    /// let _g = lock.lock();
    /// assert!(lock.held_by_this_process());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn held_by_this_process(&self) -> bool {
        self.obj.holder() == self.me
    }

    /// The region this lock lives in.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert_eq!(r.lock("l")?.region().token(), r.token());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn region(&self) -> &Region {
        self.obj.region()
    }
}

/// The waiting forms' core: the robust lock word.
impl RawAcquire for Lock {
    #[inline]
    fn try_fast(&self) -> bool {
        self.obj.try_fast(self.me)
    }

    #[inline]
    fn try_acquire(&self) -> bool {
        self.obj.try_acquire(self.me)
    }

    #[inline]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        self.obj.acquire_slow(self.obj.region(), deadline).ok()
    }
}

impl fmt::Debug for Lock {
    /// Shows the state without touching it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("process::Lock")
            .field("locked", &self.locked())
            .field("owner_died", &self.owner_died())
            .finish()
    }
}

/// Guard of a [`Lock`]: releases it on drop.
///
/// ```
/// let r = pysync::process::Region::anonymous(1 << 20)?;
/// let lock = r.lock("l")?;
/// let g = lock.lock();
/// assert!(!g.owner_died());
/// drop(g);
/// assert!(!lock.locked());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl LockGuard<'_> {
    /// Whether the lock was taken over from a process that died holding it.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert!(!r.lock("l")?.lock().owner_died());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn owner_died(&self) -> bool {
        self.lock.owner_died()
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // The guard proves the acquisition; Err only if another thread
        // released it for us (a Lock is not owned).
        let _ = self.lock.release();
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("process::LockGuard")
            .field("lock", self.lock)
            .finish()
    }
}

// ===========================================================================
// RLock
// ===========================================================================

/// `multiprocessing.RLock` that survives its owner's death: owned by one
/// thread of one process, re-entrant.
///
/// If the owning process dies (at any depth), the next acquirer owns it at
/// depth 1 with [`owner_died`](RLock::owner_died) set.
///
/// ```
/// let r = pysync::process::Region::anonymous(1 << 20)?;
/// let rl = r.rlock("r")?;
/// rl.acquire();
/// assert!(rl.is_owned());
/// rl.release()?;
/// assert_eq!(rl.release(), Err(pysync::Error::NotOwned));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RLock {
    obj: Obj<RawRLock>,
    me: u32,
    /// `Send` but the owner is a thread: handles may move, guards may not.
    _not_send: PhantomData<()>,
}

impl RLock {
    blocking::acquire_forms!("the lock (or re-enters it, one level deeper, if the calling thread owns it)", "rlock" = "r.rlock(\"r\")?" in process; |l| l);
    blocking::guard_forms!(
        "the lock (or one more level of it)", "rlock" = "r.rlock(\"r\")?" in process;
        lock, try_lock, lock_timeout, lock_until -> RLockGuard<'_> = |l| RLockGuard { rlock: l, _not_send: PhantomData };
        |l| l
    );

    /// Releases one level; `Err(NotOwned)` if the calling thread does not
    /// own it.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let rl = r.rlock("r")?;
    /// assert_eq!(rl.release(), Err(pysync::Error::NotOwned));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        self.obj.release(self.me)
    }

    /// Whether the calling thread owns it.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert!(!r.rlock("r")?.is_owned());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_owned(&self) -> bool {
        self.obj.is_owned(self.me)
    }

    /// The calling thread's depth (0 if it does not own it).
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert_eq!(r.rlock("r")?.recursion_count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recursion_count(&self) -> usize {
        self.obj.recursion_count(self.me) as usize
    }

    /// Whether anyone owns it (a snapshot).
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert!(!r.rlock("r")?.locked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn locked(&self) -> bool {
        self.obj.raw().locked()
    }

    /// Whether it is owned, taken over from a process that died owning it.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert!(!r.rlock("r")?.owner_died());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn owner_died(&self) -> bool {
        self.obj.raw().owner_died()
    }
}

/// The waiting forms' core: re-entry, else the inner robust lock.
impl RawAcquire for RLock {
    #[inline]
    fn try_acquire(&self) -> bool {
        self.obj.acquire(self.obj.region(), None, true).ok()
    }

    #[inline]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        self.obj.acquire(self.obj.region(), deadline, false).ok()
    }
}

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("process::RLock")
            .field("locked", &self.locked())
            .field("owned_by_caller", &self.is_owned())
            .field("owner_died", &self.owner_died())
            .finish()
    }
}

/// Guard of an [`RLock`] (`!Send`: the owner is a thread).
///
/// ```
/// let r = pysync::process::Region::anonymous(1 << 20)?;
/// let rl = r.rlock("r")?;
/// drop(rl.lock());
/// assert!(!rl.locked());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    rlock: &'a RLock,
    _not_send: PhantomData<*const ()>,
}

impl RLockGuard<'_> {
    /// Whether the RLock was taken over from a dead owner.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert!(!r.rlock("r")?.lock().owner_died());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn owner_died(&self) -> bool {
        self.rlock.owner_died()
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.rlock.release();
    }
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("process::RLockGuard")
            .field("rlock", self.rlock)
            .finish()
    }
}

// ===========================================================================
// Semaphore, BoundedSemaphore
// ===========================================================================

/// `multiprocessing.Semaphore`, FIFO, whose guarded permits come back when
/// their process dies.
///
/// * Waiters are served in arrival order (up to
///   [`QUEUE_CELLS`](super::QUEUE_CELLS) queued at once): a released permit
///   goes to the longest waiter, no late arrival barges past it.
/// * Permits taken through a guard ([`access`](Semaphore::access) and its
///   forms) are counted per process; if the process dies, a blocked
///   acquirer returns them to the semaphore within a slice. Plain
///   `acquire`/`release` permits are not owned (any process may release
///   them, as in Python) and do not come back.
///
/// ```
/// let r = pysync::process::Region::anonymous(1 << 20)?;
/// let s = r.semaphore("s", 1)?;
/// {
///     let _permit = s.access();
///     assert!(!s.try_acquire());
/// }
/// assert_eq!(s.available(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Semaphore {
    obj: Obj<RawSem>,
}

impl Semaphore {
    /// The most permits a process semaphore holds (2^31 - 1).
    pub const MAX_PERMITS: usize = MAX_PERMITS as usize;

    blocking::acquire_forms!("a permit (FIFO: the longest waiter is served first)", "sem" = "r.semaphore(\"s\", 1)?" in process; |s| s);
    blocking::guard_forms!(
        "a permit, counted as held by this process until the guard drops (returned if the process dies),", "sem" = "r.semaphore(\"s\", 1)?" in process;
        access, try_access, access_timeout, access_until -> SemaphoreGuard<'_> = |s| s.held_guard();
        |s| s
    );

    /// Releases a permit (to the longest waiter, if any). Panics past
    /// [`MAX_PERMITS`](Semaphore::MAX_PERMITS).
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let s = r.semaphore("s", 0)?;
    /// s.release();
    /// assert_eq!(s.available(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self) {
        self.release_n(1);
    }

    /// Releases `n` permits, waking up to `n` waiters.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let s = r.semaphore("s", 0)?;
    /// s.release_n(3);
    /// assert_eq!(s.available(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release_n(&self, n: usize) {
        let n = u32::try_from(n).expect("Semaphore permit count overflow");
        let _ = self.obj.release(self.obj.region(), n);
    }

    /// Permits available now (a snapshot).
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert_eq!(r.semaphore("s", 4)?.available(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn available(&self) -> usize {
        self.obj.available() as usize
    }

    /// Permits this process holds through guards.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let s = r.semaphore("s", 2)?;
    /// let _g = s.access();
    /// assert_eq!(s.held_by_this_process(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn held_by_this_process(&self) -> usize {
        self.obj.held_by(self.obj.region().token()) as usize
    }

    /// Returns now (instead of at a blocked acquirer's next slice) the
    /// permits of processes that died holding them through guards.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let s = r.semaphore("s", 1)?;
    /// s.reclaim(); // nobody died: nothing changes
    /// assert_eq!(s.available(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reclaim(&self) {
        self.obj.reclaim(self.obj.region());
    }

    /// The guard of a permit just taken, counted as held by this process.
    #[inline]
    fn held_guard(&self) -> SemaphoreGuard<'_> {
        self.obj.hold(self.obj.region(), 1);
        SemaphoreGuard { sem: self }
    }
}

/// The waiting forms' core (both semaphores): FIFO, no barging.
impl RawAcquire for Semaphore {
    #[inline]
    fn try_fast(&self) -> bool {
        self.obj.try_fast()
    }

    #[inline]
    fn try_acquire(&self) -> bool {
        self.obj.try_acquire()
    }

    #[inline]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        self.obj.acquire_slow(self.obj.region(), deadline)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("process::Semaphore")
            .field("available", &self.available())
            .finish()
    }
}

/// A permit of a [`Semaphore`]/[`BoundedSemaphore`], counted as held by
/// this process: released on drop, returned if the process dies.
///
/// ```
/// let r = pysync::process::Region::anonymous(1 << 20)?;
/// let s = r.semaphore("s", 1)?;
/// let g = s.access();
/// g.release();
/// assert_eq!(s.available(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the permit is released as soon as the guard is dropped"]
pub struct SemaphoreGuard<'a> {
    sem: &'a Semaphore,
}

impl SemaphoreGuard<'_> {
    /// Releases the permit now.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let s = r.semaphore("s", 1)?;
    /// s.access().release();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(self) {
        drop(self);
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        let region = self.sem.obj.region();
        // Uncount first: killed in between, the permit is lost rather than
        // returned twice (see the module docs' limits).
        self.sem.obj.hold(region, -1);
        let _ = self.sem.obj.release(region, 1);
    }
}

impl fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("process::SemaphoreGuard")
            .field("sem", self.sem)
            .finish()
    }
}

/// `multiprocessing.BoundedSemaphore`: a [`Semaphore`] whose releases may
/// not exceed its initial value (`Err(TooManyReleases)`).
///
/// ```
/// let r = pysync::process::Region::anonymous(1 << 20)?;
/// let b = r.bounded_semaphore("b", 1)?;
/// b.acquire();
/// assert!(b.release().is_ok());
/// assert_eq!(b.release(), Err(pysync::Error::TooManyReleases));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BoundedSemaphore {
    sem: Semaphore,
}

impl BoundedSemaphore {
    blocking::acquire_forms!("a permit (FIFO: the longest waiter is served first)", "sem" = "r.bounded_semaphore(\"b\", 1)?" in process; |b| &b.sem);
    blocking::guard_forms!(
        "a permit, counted as held by this process until the guard drops (returned if the process dies),", "sem" = "r.bounded_semaphore(\"b\", 1)?" in process;
        access, try_access, access_timeout, access_until -> SemaphoreGuard<'_> = |b| b.sem.held_guard();
        |b| &b.sem
    );

    /// Releases a permit; `Err(TooManyReleases)` past the initial value.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert!(r.bounded_semaphore("b", 2)?.release().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        self.release_n(1)
    }

    /// Releases `n` permits, all or nothing.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let b = r.bounded_semaphore("b", 2)?;
    /// b.acquire();
    /// assert!(b.release_n(2).is_err());
    /// assert_eq!(b.available(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release_n(&self, n: usize) -> Result<(), Error> {
        let n = u32::try_from(n).map_err(|_| Error::TooManyReleases)?;
        self.sem.obj.release(self.sem.obj.region(), n)
    }

    /// Permits available now.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert_eq!(r.bounded_semaphore("b", 3)?.available(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn available(&self) -> usize {
        self.sem.available()
    }

    /// The initial value (the bound).
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert_eq!(r.bounded_semaphore("b", 3)?.initial(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn initial(&self) -> usize {
        self.sem.obj.limit() as usize
    }

    /// Returns dead processes' guarded permits now (see
    /// [`Semaphore::reclaim`]).
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// r.bounded_semaphore("b", 1)?.reclaim();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reclaim(&self) {
        self.sem.reclaim();
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("process::BoundedSemaphore")
            .field("available", &self.available())
            .field("initial", &self.initial())
            .finish()
    }
}

// ===========================================================================
// Event
// ===========================================================================

/// `multiprocessing.Event`.
///
/// `set` wakes every waiter in every process; a waiter woken by `set`
/// returns `true` even if `clear` follows at once. `set` with nobody
/// waiting makes no syscall.
///
/// ```
/// let r = pysync::process::Region::anonymous(1 << 20)?;
/// let e = r.event("e")?;
/// assert!(!e.wait_timeout(std::time::Duration::from_millis(1)));
/// e.set();
/// assert!(e.wait_timeout(std::time::Duration::ZERO));
/// e.clear();
/// assert!(!e.is_set());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Event {
    obj: Obj<RawEvent>,
}

impl Event {
    /// Sets the flag and wakes every waiter.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let e = r.event("e")?;
    /// e.set();
    /// assert!(e.is_set());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self) {
        self.obj.set();
    }

    /// Clears the flag.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let e = r.event("e")?;
    /// e.set();
    /// e.clear();
    /// assert!(!e.is_set());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear(&self) {
        self.obj.clear();
    }

    /// Whether the flag is set.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert!(!r.event("e")?.is_set());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_set(&self) -> bool {
        self.obj.is_set()
    }

    blocking::event_forms!("ev" = "r.event(\"e\")?" in process; |e| e);
}

/// The waiting forms' core: "acquiring" an event is seeing it set (or a
/// newer generation: a `set` that a `clear` followed).
impl RawAcquire for Event {
    #[inline]
    fn try_acquire(&self) -> bool {
        self.obj.is_set()
    }

    #[inline]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        self.obj.wait(deadline)
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("process::Event")
            .field("set", &self.is_set())
            .finish()
    }
}

// ===========================================================================
// Condition
// ===========================================================================

mod sealed {
    /// Sealed; what a [`Condition`](super::Condition) needs to take its
    /// lock: the lock's waiting forms.
    pub trait Sealed: crate::blocking::RawAcquire {}
    impl Sealed for super::Lock {}
    impl Sealed for super::RLock {}
}

/// A lock a process [`Condition`] can be bound to: [`Lock`] or [`RLock`].
/// Sealed.
///
/// ```
/// use pysync::process::ConditionLock;
/// let r = pysync::process::Region::anonymous(1 << 20)?;
/// let l = r.lock("l")?;
/// assert!(!l.is_held());
/// let _g = l.lock();
/// assert!(l.is_held());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ConditionLock: sealed::Sealed + Clone {
    /// Whether the caller may wait or notify (Python's `_is_owned`): a
    /// [`Lock`] held by this process; an [`RLock`] owned by this thread.
    fn is_held(&self) -> bool;
    #[doc(hidden)]
    fn binding(&self) -> (&Region, u64, u32);
    #[doc(hidden)]
    fn release(&self) -> Result<(), Error>;
    #[doc(hidden)]
    fn release_save(&self) -> Option<u32>;
    #[doc(hidden)]
    fn acquire_restore(&self, saved: u32);
}

impl ConditionLock for Lock {
    fn is_held(&self) -> bool {
        self.held_by_this_process()
    }
    fn binding(&self) -> (&Region, u64, u32) {
        (
            self.region(),
            self.region().offset_of(&self.obj),
            Kind::Lock as u32,
        )
    }
    fn release(&self) -> Result<(), Error> {
        Lock::release(self)
    }
    fn release_save(&self) -> Option<u32> {
        Lock::release(self).ok().map(|()| 1)
    }
    fn acquire_restore(&self, _saved: u32) {
        Lock::acquire(self)
    }
}

impl ConditionLock for RLock {
    fn is_held(&self) -> bool {
        self.is_owned()
    }
    fn binding(&self) -> (&Region, u64, u32) {
        let region = self.obj.region();
        (region, region.offset_of(&self.obj), Kind::RLock as u32)
    }
    fn release(&self) -> Result<(), Error> {
        RLock::release(self)
    }
    fn release_save(&self) -> Option<u32> {
        self.obj.release_save(self.me).ok()
    }
    fn acquire_restore(&self, saved: u32) {
        let _ = self.obj.raw().acquire(self.obj.region(), None);
        self.obj.restore(self.me, saved);
    }
}

/// Adapter: a [`ConditionLock`] as the raw condition's `CondLock`.
struct Bound<'a, L>(&'a L);

impl<L: ConditionLock> CondLock for Bound<'_, L> {
    type Saved = u32;
    fn is_held(&self) -> bool {
        self.0.is_held()
    }
    fn release_save(&self) -> Option<u32> {
        self.0.release_save()
    }
    fn acquire_restore(&self, saved: u32) {
        self.0.acquire_restore(saved)
    }
}

/// `multiprocessing.Condition`: FIFO `notify(n)`, no notification lost to
/// a timeout *or to a waiter's death*.
///
/// * `wait` on an RLock-bound condition releases every level and restores
///   them.
/// * A waiter that times out as it is notified reports being notified; a
///   waiter that dies after being notified passes the notification on to
///   the longest waiter that was waiting when it was sent (within a slice).
/// * If a process dies holding the condition's lock, the next acquirer
///   (a woken waiter included) gets it with `owner_died()` set.
///
/// ```
/// let r = pysync::process::Region::anonymous(1 << 20)?;
/// let c = r.condition("c")?;
/// let flag = r.event("flag")?;
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         let _g = c.lock();
///         c.wait_for(|| flag.is_set()).unwrap();
///     });
///     let _g = c.lock();
///     flag.set();
///     c.notify_all().unwrap();
/// });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Condition<L: ConditionLock = RLock> {
    obj: Obj<RawCond>,
    lock: L,
}

impl<L: ConditionLock> Condition<L> {
    /// The bound lock.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let c = r.condition("c")?;
    /// assert!(!c.lock_ref().locked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lock_ref(&self) -> &L {
        &self.lock
    }

    blocking::acquire_forms!("the bound lock", "cond" = "r.condition(\"c\")?" in process; |c| &c.lock);

    /// Releases the lock.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert!(r.condition("c")?.release().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        self.lock.release()
    }

    /// Acquires the lock; the guard releases it.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let c = r.condition("c")?;
    /// let g = c.lock();
    /// c.notify_one()?;
    /// drop(g);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lock(&self) -> ConditionGuard<'_, L> {
        blocking::acquire(&self.lock, Deadline::Never);
        ConditionGuard::new(self)
    }

    blocking::condition_forms!("cond" = "r.condition(\"c\")?" in process);

    /// `Ok(true)`: notified; `Ok(false)`: timed out (the lock is held again
    /// either way).
    fn wait_core(&self, deadline: Deadline) -> Result<bool, Error> {
        let (region, bound) = (self.obj.region(), Bound(&self.lock));
        let held = self.lock.is_held();
        blocking::condition_wait(held, deadline, |until| self.obj.wait(region, &bound, until))
    }

    fn wait_for_core(&self, pred: &mut dyn FnMut() -> bool, d: Deadline) -> Result<bool, Error> {
        let held = self.lock.is_held();
        blocking::condition_wait_for(held, pred, d, |d| self.wait_core(d))
    }

    /// Wakes up to `n` waiters, longest-waiting first;
    /// `Err(NotifyUnacquired)` without the lock. No syscall if nobody waits.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let c = r.condition("c")?;
    /// assert_eq!(c.notify(1), Err(pysync::Error::NotifyUnacquired));
    /// let _g = c.lock();
    /// c.notify(2)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn notify(&self, n: usize) -> Result<(), Error> {
        if !self.lock.is_held() {
            return Err(Error::NotifyUnacquired);
        }
        self.obj
            .notify(self.obj.region(), u32::try_from(n).unwrap_or(u32::MAX));
        Ok(())
    }

    /// Wakes the longest waiter.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let c = r.condition("c")?;
    /// let _g = c.lock();
    /// c.notify_one()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn notify_one(&self) -> Result<(), Error> {
        self.notify(1)
    }

    /// Wakes every waiter.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let c = r.condition("c")?;
    /// let _g = c.lock();
    /// c.notify_all()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn notify_all(&self) -> Result<(), Error> {
        self.notify(usize::MAX)
    }

    /// Waiters queued now (a snapshot).
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert_eq!(r.condition("c")?.waiters(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn waiters(&self) -> usize {
        self.obj.waiters() as usize
    }
}

impl<L: ConditionLock + fmt::Debug> fmt::Debug for Condition<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("process::Condition")
            .field("lock", &self.lock)
            .field("waiters", &self.waiters())
            .finish()
    }
}

blocking::condition_guard! {
    /// Guard of a [`Condition`]'s lock.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let c = r.condition("c")?;
    /// drop(c.lock());
    /// assert!(!c.lock_ref().locked());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    "process::ConditionGuard"; |c| &c.lock
}

// ===========================================================================
// Barrier
// ===========================================================================

/// `multiprocessing.Barrier`: reusable rounds, unique indices, an action,
/// timeouts, `abort`/`reset` — and a party killed inside `wait` breaks the
/// round for the others, as a timeout would.
///
/// The action is per handle ([`with_action`](Barrier::with_action)): it runs
/// in the process (and thread) of the round's last arrival, before the
/// others are released.
///
/// ```
/// let r = pysync::process::Region::anonymous(1 << 20)?;
/// let b = r.barrier("b", 2)?;
/// std::thread::scope(|s| {
///     let t = s.spawn(|| b.wait().unwrap());
///     let mine = b.wait().unwrap();
///     assert_eq!(mine + t.join().unwrap(), 1); // indices 0 and 1
/// });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Barrier {
    obj: Obj<RawBarrier>,
    action: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Barrier {
    /// This handle with `action`, run by the last arrival of each round
    /// that arrives through this handle. If it panics, the round breaks and
    /// the panic continues.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let n = Arc::new(AtomicUsize::new(0));
    /// let n2 = n.clone();
    /// let b = r.barrier("b", 1)?.with_action(move || { n2.fetch_add(1, Ordering::SeqCst); });
    /// b.wait()?;
    /// assert_eq!(n.load(Ordering::SeqCst), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_action(mut self, action: impl Fn() + Send + Sync + 'static) -> Barrier {
        self.action = Some(Arc::new(action));
        self
    }

    blocking::barrier_forms!("b" = "r.barrier(\"b\", 1)?" in process);

    /// `wait`'s deadline: the default timeout's (shared by every process),
    /// or none.
    #[inline]
    fn default_deadline(&self) -> Deadline {
        match self.obj.timeout_ns() {
            u64::MAX => Deadline::Never,
            ns => Deadline::after(Duration::from_nanos(ns)),
        }
    }

    fn wait_core(&self, deadline: Deadline) -> Result<usize, Error> {
        self.obj
            .wait(
                self.obj.region(),
                deadline.instant(),
                self.action.as_deref(),
            )
            .map(|i| i as usize)
    }

    /// Breaks the current round (its waiters get `Err`) and starts a new one.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let b = r.barrier("b", 2)?;
    /// b.abort();
    /// b.reset();
    /// assert!(!b.broken());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reset(&self) {
        self.obj.reset(self.obj.region());
    }

    /// Breaks the barrier until `reset`.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// let b = r.barrier("b", 2)?;
    /// b.abort();
    /// assert_eq!(b.wait(), Err(pysync::Error::BrokenBarrier));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn abort(&self) {
        self.obj.abort(self.obj.region());
    }

    /// Parties per round.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert_eq!(r.barrier("b", 3)?.parties(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parties(&self) -> usize {
        self.obj.parties() as usize
    }

    /// Parties waiting in the current round.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert_eq!(r.barrier("b", 3)?.n_waiting(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn n_waiting(&self) -> usize {
        self.obj.n_waiting() as usize
    }

    /// Whether it is broken.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert!(!r.barrier("b", 3)?.broken());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn broken(&self) -> bool {
        self.obj.broken()
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("process::Barrier")
            .field("parties", &self.parties())
            .field("n_waiting", &self.n_waiting())
            .field("broken", &self.broken())
            .finish()
    }
}
