//! [`Region`]: a shared mapping that holds process primitives, its header,
//! its directory of named objects and its table of attached processes.
//!
//! This is the only file of `pysync::process` with `unsafe` code: the
//! mapping itself, and turning a checked offset into a reference.

use super::raw::{
    Cx, MAX_SLOTS, RawBarrier, RawCond, RawEvent, RawLock, RawRLock, RawSem, SLOT_MASK,
};
use crate::sync::{AtomicU32, AtomicU64, Ordering};
use core::fmt;
use core::ptr::NonNull;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::Mode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The layout version this build writes and accepts. A region written by a
/// build with another layout is refused with [`RegionError::Version`].
///
/// The first 16 bytes of every region (magic, then this version) keep
/// their place in every layout version, so any build can tell.
///
/// ```
/// assert_eq!(pysync::process::LAYOUT_VERSION, 1);
/// ```
pub const LAYOUT_VERSION: u32 = 1;

/// "PYSYNCRG", little-endian: the first 8 bytes of every region.
const MAGIC: u64 = u64::from_le_bytes(*b"PYSYNCRG");

/// How long an opener waits for a creator to finish initialising a region
/// (sizing it, writing its header) before it says "not a region".
const INIT_WAIT: Duration = Duration::from_secs(1);

/// Named objects per region.
///
/// ```
/// assert_eq!(pysync::process::MAX_OBJECTS, 64);
/// ```
pub const MAX_OBJECTS: usize = 64;
/// Longest object name, in bytes.
///
/// ```
/// assert_eq!(pysync::process::MAX_NAME, 48);
/// ```
pub const MAX_NAME: usize = 48;
/// Largest region (offsets are 32-bit).
///
/// ```
/// assert_eq!(pysync::process::MAX_SIZE, 1 << 30);
/// ```
pub const MAX_SIZE: usize = 1 << 30;
/// Processes attached at once (slot 0 is never used).
///
/// ```
/// assert_eq!(pysync::process::MAX_PROCESSES, 255);
/// ```
pub const MAX_PROCESSES: usize = MAX_SLOTS - 1;

/// What a region operation can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum RegionError {
    /// A region name must be `/` followed by 1 to 254 bytes, none of them
    /// `/` or NUL (POSIX `shm_open`'s portable form).
    BadName(String),
    /// An object name must be 1 to [`MAX_NAME`] bytes, without NUL.
    BadObjectName(String),
    /// The size is below [`Region::min_size`] or above [`MAX_SIZE`].
    BadSize(usize),
    /// A parameter out of range (permits, parties), with what was wrong.
    BadParameter(&'static str),
    /// `create` found a region of that name already.
    Exists(String),
    /// `open` found no region of that name.
    NotFound(String),
    /// The OS refused access (the region's mode or owner).
    PermissionDenied(String),
    /// The file is not a pysync region (no magic, too small, inconsistent
    /// header), or its creator never finished initialising it.
    NotARegion(&'static str),
    /// The region was written by a build with another layout version.
    Version {
        /// The region's layout version.
        found: u32,
        /// This build's [`LAYOUT_VERSION`].
        expected: u32,
    },
    /// An object of that name exists with another kind.
    KindMismatch {
        /// The object's name.
        name: String,
        /// What it is.
        found: &'static str,
        /// What was asked for.
        expected: &'static str,
    },
    /// An object of that name exists with other parameters (permits,
    /// parties, length).
    ParameterMismatch(String),
    /// No room left: the directory holds [`MAX_OBJECTS`] objects, or the
    /// region's bytes are used up.
    Full(&'static str),
    /// [`MAX_PROCESSES`] live processes are attached already.
    TooManyProcesses,
    /// Any other OS error.
    Os(std::io::Error),
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionError::BadName(n) => write!(
                f,
                "invalid region name {n:?}: expected '/' followed by 1 to 254 bytes without '/' or NUL"
            ),
            RegionError::BadObjectName(n) => write!(
                f,
                "invalid object name {n:?}: expected 1 to {MAX_NAME} bytes without NUL"
            ),
            RegionError::BadSize(s) => write!(
                f,
                "invalid region size {s}: expected {} to {MAX_SIZE} bytes",
                Region::min_size()
            ),
            RegionError::BadParameter(what) => f.write_str(what),
            RegionError::Exists(n) => write!(f, "region {n:?} already exists"),
            RegionError::NotFound(n) => write!(f, "no region named {n:?}"),
            RegionError::PermissionDenied(n) => write!(f, "permission denied for region {n:?}"),
            RegionError::NotARegion(why) => write!(f, "not a pysync region: {why}"),
            RegionError::Version { found, expected } => write!(
                f,
                "region layout version {found} does not match this build's {expected}"
            ),
            RegionError::KindMismatch {
                name,
                found,
                expected,
            } => write!(f, "object {name:?} is a {found}, not a {expected}"),
            RegionError::ParameterMismatch(n) => {
                write!(f, "object {n:?} exists with different parameters")
            }
            RegionError::Full(what) => write!(f, "region full: {what}"),
            RegionError::TooManyProcesses => write!(
                f,
                "too many processes attached to the region (at most {MAX_PROCESSES})"
            ),
            RegionError::Os(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RegionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RegionError::Os(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rustix::io::Errno> for RegionError {
    fn from(e: rustix::io::Errno) -> Self {
        RegionError::Os(e.into())
    }
}

// ---------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------

/// Kinds of named objects (0: free directory entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Kind {
    Lock = 1,
    RLock = 2,
    Semaphore = 3,
    BoundedSemaphore = 4,
    Event = 5,
    Condition = 6,
    Barrier = 7,
    Data = 8,
}

impl Kind {
    fn name(k: u32) -> &'static str {
        match k {
            1 => "Lock",
            2 => "RLock",
            3 => "Semaphore",
            4 => "BoundedSemaphore",
            5 => "Event",
            6 => "Condition",
            7 => "Barrier",
            8 => "Data",
            _ => "unknown object",
        }
    }
}

#[repr(C)]
struct DirEntry {
    /// `Kind` (0: free); stored last, Release.
    kind: AtomicU32,
    /// Byte offset of the object.
    offset: AtomicU32,
    /// Parameters fixed at creation (permits, limit, parties, length, …).
    params: [AtomicU64; 2],
    /// The name, NUL-padded.
    name: [AtomicU64; MAX_NAME / 8],
}

/// Slot state: `pid << 32 | generation << 2 | status`.
#[repr(C)]
struct Slot {
    state: AtomicU64,
    /// The process's start time (clock ticks after boot, `/proc/<pid>/stat`
    /// field 22): with the pid, it names one process for the boot's life.
    start: AtomicU64,
}

const SLOT_FREE: u64 = 0;
const SLOT_CLAIMING: u64 = 1;
const SLOT_USED: u64 = 2;

#[repr(C)]
struct Header {
    /// `MAGIC`, stored last by the creator (Release).
    magic: AtomicU64,
    /// `LAYOUT_VERSION`.
    version: AtomicU32,
    /// `size_of::<Header>()` of the creator.
    header_size: AtomicU32,
    /// The region's size.
    size: AtomicU64,
    /// First free byte (bump allocation, under `lock`).
    next: AtomicU64,
    /// Guards `dir` and `next`; robust like every lock here.
    lock: RawLock,
    _pad: AtomicU32,
    dir: [DirEntry; MAX_OBJECTS],
    slots: [Slot; MAX_SLOTS],
}

/// Types that may live in a region: `#[repr(C)]`, made only of integer
/// atomics (so every bit pattern, all-zero included, is a valid value),
/// no pointers, no `Drop`.
///
/// # Safety
/// Implementors must be exactly that.
pub(crate) unsafe trait Shm: Sync {}

// SAFETY: each is `#[repr(C)]` and made only of `AtomicU32`/`AtomicU64`
// fields and arrays of such structs (see raw.rs); none implements Drop.
unsafe impl Shm for RawLock {}
// SAFETY: as above.
unsafe impl Shm for RawRLock {}
// SAFETY: as above.
unsafe impl Shm for RawSem {}
// SAFETY: as above.
unsafe impl Shm for RawEvent {}
// SAFETY: as above.
unsafe impl Shm for RawCond {}
// SAFETY: as above.
unsafe impl Shm for RawBarrier {}
// SAFETY: as above (the region's own header).
unsafe impl Shm for Header {}
// SAFETY: a plain atomic word.
unsafe impl Shm for AtomicU64 {}

/// `x` rounded up to a multiple of `a` (saturating: a corrupt header's
/// huge offset then fails the bounds checks instead of overflowing).
fn align_up(x: u64, a: u64) -> u64 {
    x.checked_next_multiple_of(a).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------
// The mapping
// ---------------------------------------------------------------------------

struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is shared memory accessed only through atomics (the
// `Shm` types); the pointer itself is never written after creation.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(fd: BorrowedFd<'_>, len: usize) -> Result<Mapping, RegionError> {
        use rustix::mm::{MapFlags, ProtFlags, mmap};
        // SAFETY: a fresh MAP_SHARED mapping at an address the kernel picks
        // (null hint) cannot overlap any Rust object; `len` is the file's
        // size, checked by the caller to be non-zero and at most MAX_SIZE.
        let p = unsafe {
            mmap(
                core::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                0,
            )?
        };
        Ok(Mapping {
            base: NonNull::new(p.cast()).ok_or(RegionError::NotARegion("mmap returned null"))?,
            len,
        })
    }

    /// The `T` at `offset`, if it fits and is aligned.
    fn get<T: Shm>(&self, offset: u64) -> Option<&T> {
        let end = offset.checked_add(core::mem::size_of::<T>() as u64)?;
        if end > self.len as u64 || !offset.is_multiple_of(core::mem::align_of::<T>() as u64) {
            return None;
        }
        // SAFETY: `offset..end` lies inside the mapping (checked above),
        // which is page-aligned, so the pointer is aligned for `T` (checked
        // above); `T: Shm` is made only of atomics, so any bytes there are a
        // valid `T` and all access is atomic, even when another process
        // writes concurrently; the reference lives no longer than `self`,
        // which keeps the mapping.
        Some(unsafe { &*self.base.as_ptr().add(offset as usize).cast::<T>() })
    }

    /// A pointer to `len` bytes at `offset`, if they fit. No reference is
    /// made: the caller (a `Data` block's user) accesses them as it sees fit.
    fn bytes(&self, offset: u64, len: u64) -> Option<NonNull<u8>> {
        let end = offset.checked_add(len)?;
        if end > self.len as u64 {
            return None;
        }
        // SAFETY: `offset <= end <= len`: the result stays inside the
        // mapping (or one past its end for len 0, excluded by the caller).
        NonNull::new(unsafe { self.base.as_ptr().add(offset as usize) })
    }

    fn header(&self) -> &Header {
        self.get(0)
            .expect("the caller checked that the mapping holds a header")
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are exactly what mmap returned; no reference
        // into the mapping outlives `self` (they borrow it, or the `Region`
        // that owns it).
        unsafe {
            let _ = rustix::mm::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

// ---------------------------------------------------------------------------
// Liveness
// ---------------------------------------------------------------------------

/// `(state, start time)` of process `pid` from `/proc/<pid>/stat`: `None`
/// if there is no such process.
fn proc_stat(pid: u32) -> Option<(u8, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name (field 2) is in parentheses and may contain anything: parse
    // after the last ')'. Then field 3 is the state, field 22 the start time.
    let rest = s.get(s.rfind(')')? + 1..)?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.bytes().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether process `pid`, started at `start`, is alive: it exists, it is
/// the same process (a reused pid has another start time), and it is not a
/// zombie (killed, not yet reaped).
pub(crate) fn process_alive(pid: u32, start: u64) -> bool {
    match proc_stat(pid) {
        Some((state, s)) => s == start && !matches!(state, b'Z' | b'X' | b'x'),
        None => false,
    }
}

fn my_pid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

// ---------------------------------------------------------------------------
// Region
// ---------------------------------------------------------------------------

struct Inner {
    map: Mapping,
    fd: OwnedFd,
    name: Option<String>,
    /// This process's token (slot | generation << 8).
    token: u32,
    pid: u32,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Leave the slot: its generation stays, so tokens naming it are dead.
        let slot = &self.map.header().slots[(self.token & SLOT_MASK) as usize];
        let st = slot.state.load(Ordering::Relaxed);
        if st >> 32 == u64::from(self.pid) {
            // Release: a later claimer of the slot sees our last writes.
            let _ = slot.state.compare_exchange(
                st,
                st & !0xFFFF_FFFF_0000_0003,
                Ordering::Release,
                Ordering::Relaxed,
            );
        }
    }
}

/// A shared-memory region holding process primitives: a POSIX shared
/// memory object (`shm_open`, for unrelated processes) or an anonymous
/// `memfd` (for children handed its fd). Cloning is cheap (an `Arc`);
/// every object handle keeps its region mapped.
///
/// Opening a region registers the calling process in the region's process
/// table (at most [`MAX_PROCESSES`] at once; a dead process's entry is
/// reused). Open a region once per process and clone the handle: two
/// handles opened separately are two registrations, so an `RLock` held
/// through one is not owned through the other.
///
/// ```
/// use pysync::process::Region;
/// let name = format!("/pysync-doc-region-{}", std::process::id());
/// let region = Region::create(&name, 1 << 16)?;
/// let lock = region.lock("counter")?;
/// lock.acquire();
/// // another process: Region::open(&name)?.lock("counter")?
/// lock.release()?;
/// Region::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Region {
    inner: Arc<Inner>,
}

impl Region {
    /// The smallest region: the header, rounded up to a page.
    ///
    /// ```
    /// use pysync::process::Region;
    /// assert!(Region::anonymous(Region::min_size()).is_ok());
    /// assert!(Region::anonymous(Region::min_size() - 1).is_err());
    /// ```
    pub fn min_size() -> usize {
        align_up(core::mem::size_of::<Header>() as u64, 4096) as usize
    }

    /// Creates a new named region of `size` bytes (rounded up to a page),
    /// mode `0o600`. `Err(Exists)` if the name is taken.
    ///
    /// ```
    /// use pysync::process::{Region, RegionError};
    /// let name = format!("/pysync-doc-create-{}", std::process::id());
    /// let r = Region::create(&name, 1 << 16)?;
    /// assert!(matches!(Region::create(&name, 1 << 16), Err(RegionError::Exists(_))));
    /// assert!(matches!(Region::create("no-slash", 1 << 16), Err(RegionError::BadName(_))));
    /// assert!(matches!(Region::create(&name, 1), Err(RegionError::BadSize(1))));
    /// Region::unlink(&name)?;
    /// # drop(r);
    /// # Ok::<(), RegionError>(())
    /// ```
    pub fn create(name: &str, size: usize) -> Result<Region, RegionError> {
        Region::create_with_mode(name, size, 0o600)
    }

    /// [`create`](Region::create) with the permission bits `mode` (e.g.
    /// `0o660` to share with the group; the umask applies).
    ///
    /// ```
    /// use pysync::process::Region;
    /// let name = format!("/pysync-doc-mode-{}", std::process::id());
    /// let r = Region::create_with_mode(&name, 1 << 16, 0o640)?;
    /// Region::unlink(&name)?;
    /// # drop(r);
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn create_with_mode(name: &str, size: usize, mode: u32) -> Result<Region, RegionError> {
        check_name(name)?;
        let size = check_size(size)?;
        if mode & !0o777 != 0 {
            return Err(RegionError::BadParameter(
                "region mode must be permission bits (at most 0o777)",
            ));
        }
        use rustix::shm::{OFlags, open};
        let fd = open(
            name,
            OFlags::CREATE | OFlags::EXCL | OFlags::RDWR,
            Mode::from_raw_mode(mode),
        )
        .map_err(|e| os_error(e, name))?;
        Region::init_new(fd, size, Some(name.to_owned())).inspect_err(|_| {
            let _ = rustix::shm::unlink(name);
        })
    }

    /// Opens an existing named region, checking that it is a pysync region
    /// of this build's layout version. A region another process is still
    /// creating (not yet sized, or its header not yet written) is waited for,
    /// up to a second, then it is [`NotARegion`](RegionError::NotARegion).
    ///
    /// ```
    /// use pysync::process::{Region, RegionError};
    /// let name = format!("/pysync-doc-open-{}", std::process::id());
    /// assert!(matches!(Region::open(&name), Err(RegionError::NotFound(_))));
    /// let a = Region::create(&name, 1 << 16)?;
    /// let b = Region::open(&name)?;
    /// a.event("ready")?.set();
    /// assert!(b.event("ready")?.is_set());
    /// Region::unlink(&name)?;
    /// # Ok::<(), RegionError>(())
    /// ```
    pub fn open(name: &str) -> Result<Region, RegionError> {
        check_name(name)?;
        use rustix::shm::{OFlags, open};
        let fd = open(name, OFlags::RDWR, Mode::empty()).map_err(|e| os_error(e, name))?;
        Region::attach(fd, Some(name.to_owned()))
    }

    /// Opens the named region, creating it (with `size`) if it does not
    /// exist; whoever comes first creates it, and the others open it (also
    /// while it is being created: see [`open`](Region::open)).
    ///
    /// ```
    /// use pysync::process::Region;
    /// let name = format!("/pysync-doc-ooc-{}", std::process::id());
    /// let a = Region::open_or_create(&name, 1 << 16)?;
    /// let b = Region::open_or_create(&name, 1 << 16)?;
    /// assert_eq!(a.size(), b.size());
    /// Region::unlink(&name)?;
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn open_or_create(name: &str, size: usize) -> Result<Region, RegionError> {
        // Twice at most: a creator that fails unlinks the name again, so the
        // open after its `Exists` can find nothing; then this one creates.
        for _ in 0..2 {
            match Region::create(name, size) {
                Err(RegionError::Exists(_)) => match Region::open(name) {
                    Err(RegionError::NotFound(_)) => continue,
                    r => return r,
                },
                r => return r,
            }
        }
        Region::create(name, size)
    }

    /// Removes the name (like `shm_unlink`); processes that have it open
    /// keep using it, and it is freed when the last one closes it.
    ///
    /// ```
    /// use pysync::process::{Region, RegionError};
    /// let name = format!("/pysync-doc-unlink-{}", std::process::id());
    /// let r = Region::create(&name, 1 << 16)?;
    /// Region::unlink(&name)?;
    /// assert!(matches!(Region::unlink(&name), Err(RegionError::NotFound(_))));
    /// r.lock("still usable")?.acquire();
    /// # Ok::<(), RegionError>(())
    /// ```
    pub fn unlink(name: &str) -> Result<(), RegionError> {
        check_name(name)?;
        rustix::shm::unlink(name).map_err(|e| os_error(e, name))
    }

    /// Creates an anonymous region (a `memfd`): hand it to a child through
    /// [`inheritable_fd`](Region::inheritable_fd) and
    /// [`from_fd`](Region::from_fd).
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 16)?;
    /// assert!(r.name().is_none());
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn anonymous(size: usize) -> Result<Region, RegionError> {
        let size = check_size(size)?;
        use rustix::fs::{MemfdFlags, memfd_create};
        let fd = memfd_create("pysync-region", MemfdFlags::CLOEXEC)?;
        Region::init_new(fd, size, None)
    }

    /// Attaches to the region behind `fd` (from [`inheritable_fd`] in a
    /// parent, or any fd of a region), checking it like
    /// [`open`](Region::open).
    ///
    /// [`inheritable_fd`]: Region::inheritable_fd
    ///
    /// ```
    /// use pysync::process::Region;
    /// let r = Region::anonymous(1 << 16)?;
    /// let again = Region::from_fd(r.inheritable_fd()?)?;
    /// r.event("e")?.set();
    /// assert!(again.event("e")?.is_set());
    /// // Not a region: a fresh, empty memfd.
    /// let junk = rustix::fs::memfd_create("junk", rustix::fs::MemfdFlags::empty())?;
    /// assert!(Region::from_fd(junk).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_fd(fd: OwnedFd) -> Result<Region, RegionError> {
        Region::attach(fd, None)
    }

    /// A duplicate of the region's fd without close-on-exec, for a child
    /// process to inherit: pass its number (`as_raw_fd`) to the child, which
    /// takes it with `OwnedFd::from_raw_fd` and [`from_fd`](Region::from_fd).
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// let r = pysync::process::Region::anonymous(1 << 16)?;
    /// let fd = r.inheritable_fd()?;
    /// assert!(fd.as_raw_fd() > 2);
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn inheritable_fd(&self) -> Result<OwnedFd, RegionError> {
        // fcntl_dupfd_cloexec then clearing the flag: no window in which
        // another thread's spawn could inherit it half-made.
        let fd = rustix::io::fcntl_dupfd_cloexec(&self.inner.fd, 3)?;
        rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::empty())?;
        Ok(fd)
    }

    /// The region's fd.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// let r = pysync::process::Region::anonymous(1 << 16)?;
    /// assert!(r.fd().as_raw_fd() >= 0);
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }

    /// The region's name, if it is a named region.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 16)?;
    /// assert_eq!(r.name(), None);
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// The region's size in bytes.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(100_000)?;
    /// assert_eq!(r.size(), 102_400); // rounded up to a page
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn size(&self) -> usize {
        self.inner.map.len
    }

    /// This process's token in the region (its slot and generation): what
    /// a lock word holds while this process holds the lock.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 16)?;
    /// assert_ne!(r.token(), 0);
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn token(&self) -> u32 {
        self.inner.token
    }

    /// Whether the process that registered `token` in this region is alive
    /// (same pid *and* same start time, not a zombie). Mostly for tests and
    /// diagnostics.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 16)?;
    /// assert!(r.is_alive(r.token()));
    /// assert!(!r.is_alive(0));
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn is_alive(&self, token: u32) -> bool {
        Cx::alive(self, token)
    }

    /// How many objects the region holds.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 16)?;
    /// r.lock("a")?;
    /// r.lock("a")?; // the same one
    /// assert_eq!(r.objects(), 1);
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn objects(&self) -> usize {
        let h = self.inner.map.header();
        h.dir
            .iter()
            .filter(|e| e.kind.load(Ordering::Relaxed) != 0)
            .count()
    }

    // ----- creation and attachment ------------------------------------

    fn init_new(fd: OwnedFd, size: usize, name: Option<String>) -> Result<Region, RegionError> {
        rustix::fs::ftruncate(&fd, size as u64)?;
        let map = Mapping::new(fd.as_fd(), size)?;
        {
            let h = map.header();
            // Relaxed: published by the magic's Release below.
            h.version.store(LAYOUT_VERSION, Ordering::Relaxed);
            h.header_size
                .store(core::mem::size_of::<Header>() as u32, Ordering::Relaxed);
            h.size.store(size as u64, Ordering::Relaxed);
            h.next.store(
                align_up(core::mem::size_of::<Header>() as u64, 64),
                Ordering::Relaxed,
            );
            // Release: openers that see the magic (Acquire) see the header.
            h.magic.store(MAGIC, Ordering::Release);
        }
        Region::register(map, fd, name)
    }

    fn attach(fd: OwnedFd, name: Option<String>) -> Result<Region, RegionError> {
        // A creator is initialising a region in two steps after its
        // `shm_open`: `ftruncate` (until then the object is empty), then the
        // header (until then the magic is 0). An opener that comes between
        // them waits a little for it: `open_or_create`'s loser, a `open`
        // racing a `create`.
        let start = Instant::now();
        let mut size = rustix::fs::fstat(&fd)?.st_size as u64;
        while size == 0 && start.elapsed() < INIT_WAIT {
            std::thread::sleep(Duration::from_millis(1));
            size = rustix::fs::fstat(&fd)?.st_size as u64;
        }
        if size == 0 {
            return Err(RegionError::NotARegion(
                "empty (not a region, or its creator died initialising it)",
            ));
        }
        if size < Region::min_size() as u64 {
            return Err(RegionError::NotARegion("smaller than a region header"));
        }
        if size > MAX_SIZE as u64 || !size.is_multiple_of(4096) {
            return Err(RegionError::NotARegion("size is not a region's"));
        }
        let map = Mapping::new(fd.as_fd(), size as usize)?;
        let h = map.header();
        // Acquire: pairs with the creator's Release of the magic. A creator
        // between ftruncate and that store: wait a little for it.
        let mut magic = h.magic.load(Ordering::Acquire);
        while magic == 0 && start.elapsed() < INIT_WAIT {
            std::thread::sleep(Duration::from_millis(1));
            magic = h.magic.load(Ordering::Acquire);
        }
        if magic == 0 {
            return Err(RegionError::NotARegion(
                "no header (not a region, or its creator died initialising it)",
            ));
        }
        if magic != MAGIC {
            return Err(RegionError::NotARegion("wrong magic number"));
        }
        let version = h.version.load(Ordering::Relaxed);
        if version != LAYOUT_VERSION {
            return Err(RegionError::Version {
                found: version,
                expected: LAYOUT_VERSION,
            });
        }
        if h.header_size.load(Ordering::Relaxed) != core::mem::size_of::<Header>() as u32
            || h.size.load(Ordering::Relaxed) != size
        {
            return Err(RegionError::NotARegion("inconsistent header"));
        }
        let next = h.next.load(Ordering::Relaxed);
        if next < core::mem::size_of::<Header>() as u64 || next > size {
            return Err(RegionError::NotARegion("inconsistent header"));
        }
        Region::register(map, fd, name)
    }

    /// Claims a slot in the process table: a free one, or one whose process
    /// is dead (its generation moves on, so its old token stays dead).
    fn register(map: Mapping, fd: OwnedFd, name: Option<String>) -> Result<Region, RegionError> {
        let pid = my_pid();
        let start = proc_stat(pid)
            .map(|(_, s)| s)
            .ok_or(RegionError::NotARegion("cannot read /proc/self/stat"))?;
        let h = map.header();
        for (i, slot) in h.slots.iter().enumerate().skip(1) {
            // Acquire: pairs with the Release of whoever left the slot.
            let st = slot.state.load(Ordering::Acquire);
            let free = match st & 3 {
                SLOT_FREE => true,
                // A claimer that died before finishing, or a dead process.
                _ => {
                    let owner = (st >> 32) as u32;
                    owner != pid
                        && !process_alive(owner, slot.start.load(Ordering::Relaxed))
                        && (st & 3 == SLOT_USED || proc_stat(owner).is_none())
                }
            };
            if !free {
                continue;
            }
            let generation = ((st >> 2) as u32).wrapping_add(1) & 0xFFFF;
            let generation = if generation == 0 { 1 } else { generation };
            let claiming = u64::from(pid) << 32 | u64::from(generation) << 2 | SLOT_CLAIMING;
            // Relaxed: the final Release store publishes the slot.
            if slot
                .state
                .compare_exchange(st, claiming, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            slot.start.store(start, Ordering::Relaxed);
            // Release: `alive` readers (Acquire) see the start time.
            slot.state
                .store(claiming & !3 | SLOT_USED, Ordering::Release);
            return Ok(Region {
                inner: Arc::new(Inner {
                    map,
                    fd,
                    name,
                    token: generation << 8 | i as u32,
                    pid,
                }),
            });
        }
        Err(RegionError::TooManyProcesses)
    }

    // ----- objects ----------------------------------------------------

    /// Finds or creates the named object of `kind`, with `params` fixed at
    /// creation; `init` sets up a new one.
    pub(crate) fn object<T: Shm>(
        &self,
        name: &str,
        kind: Kind,
        params: [u64; 2],
        init: impl FnOnce(&T),
    ) -> Result<Obj<T>, RegionError> {
        let packed = pack_name(name)?;
        let map = &self.inner.map;
        let h = map.header();
        let _ = h.lock.acquire(self, None);
        let r = self.find_or_create(h, &packed, name, kind, params, init);
        let _ = h.lock.release(self.inner.token);
        let offset = r?;
        let ptr = map
            .get::<T>(offset)
            .ok_or(RegionError::NotARegion("object outside the region"))?;
        Ok(Obj {
            ptr: NonNull::from(ptr),
            region: self.clone(),
        })
    }

    fn find_or_create<T: Shm>(
        &self,
        h: &Header,
        packed: &[u64; MAX_NAME / 8],
        name: &str,
        kind: Kind,
        params: [u64; 2],
        init: impl FnOnce(&T),
    ) -> Result<u64, RegionError> {
        // Relaxed throughout: under the region lock, which orders the
        // directory; the kind's Release/Acquire orders the object's init for
        // readers that do not take the lock (none today).
        let mut free = None;
        for e in &h.dir {
            let k = e.kind.load(Ordering::Acquire);
            if k == 0 {
                free = free.or(Some(e));
                continue;
            }
            if e.name
                .iter()
                .zip(packed)
                .any(|(a, b)| a.load(Ordering::Relaxed) != *b)
            {
                continue;
            }
            if k != kind as u32 {
                return Err(RegionError::KindMismatch {
                    name: name.to_owned(),
                    found: Kind::name(k),
                    expected: Kind::name(kind as u32),
                });
            }
            if e.params[0].load(Ordering::Relaxed) != params[0]
                || e.params[1].load(Ordering::Relaxed) != params[1]
            {
                return Err(RegionError::ParameterMismatch(name.to_owned()));
            }
            return Ok(u64::from(e.offset.load(Ordering::Relaxed)));
        }
        let e = free.ok_or(RegionError::Full("the directory holds MAX_OBJECTS objects"))?;
        let size = match kind {
            Kind::Data => params[0],
            _ => core::mem::size_of::<T>() as u64,
        };
        let offset = align_up(h.next.load(Ordering::Relaxed), 64);
        let end = offset
            .checked_add(size)
            .filter(|&end| end <= self.inner.map.len as u64)
            .ok_or(RegionError::Full("no bytes left"))?;
        let obj = self
            .inner
            .map
            .get::<T>(offset)
            .ok_or(RegionError::Full("no bytes left"))?;
        // Fresh bytes of a fresh region are zero (ftruncate), and a zeroed
        // `T` is its initial state; `init` writes the parameters.
        init(obj);
        h.next.store(end, Ordering::Relaxed);
        for (a, b) in e.name.iter().zip(packed) {
            a.store(*b, Ordering::Relaxed);
        }
        e.params[0].store(params[0], Ordering::Relaxed);
        e.params[1].store(params[1], Ordering::Relaxed);
        e.offset.store(offset as u32, Ordering::Relaxed);
        // Release: publishes the entry and the object's init.
        e.kind.store(kind as u32, Ordering::Release);
        Ok(offset)
    }

    /// Finds or creates the named block of `len` raw bytes; a pointer to
    /// its first byte (64-byte aligned, zeroed at creation).
    pub(crate) fn data_block(&self, name: &str, len: u64) -> Result<NonNull<u8>, RegionError> {
        if len == 0 || len > MAX_SIZE as u64 {
            return Err(RegionError::BadParameter(
                "data length must be 1 to MAX_SIZE bytes",
            ));
        }
        let packed = pack_name(name)?;
        let h = self.inner.map.header();
        let _ = h.lock.acquire(self, None);
        let r = self.find_or_create::<AtomicU64>(h, &packed, name, Kind::Data, [len, 0], |_| {});
        let _ = h.lock.release(self.inner.token);
        let offset = r?;
        self.inner
            .map
            .bytes(offset, len)
            .ok_or(RegionError::NotARegion("object outside the region"))
    }

    /// The byte offset of an object of this region (binds a condition to
    /// its lock).
    pub(crate) fn offset_of<T>(&self, obj: &Obj<T>) -> u64 {
        obj.ptr.as_ptr() as u64 - self.inner.map.base.as_ptr() as u64
    }
}

impl Region {
    /// Whether `other` is this same handle (or a clone of it).
    pub(crate) fn same_as(&self, other: &Region) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Cx for Region {
    #[inline]
    fn me(&self) -> u32 {
        self.inner.token
    }

    fn alive(&self, token: u32) -> bool {
        let i = (token & SLOT_MASK) as usize;
        if i == 0 || i >= MAX_SLOTS || token >> 24 != 0 {
            return false;
        }
        let slot = &self.inner.map.header().slots[i];
        // Acquire: pairs with the registration's Release.
        let st = slot.state.load(Ordering::Acquire);
        let generation = (st >> 2) as u32 & 0xFFFF;
        if st & 3 != SLOT_USED || generation != token >> 8 {
            return false;
        }
        let pid = (st >> 32) as u32;
        let start = slot.start.load(Ordering::Relaxed);
        if slot.state.load(Ordering::Acquire) != st {
            return false; // re-claimed meanwhile: that generation is gone
        }
        if pid == self.inner.pid {
            return true;
        }
        process_alive(pid, start)
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("process::Region")
            .field("name", &self.inner.name)
            .field("size", &self.inner.map.len)
            .field("token", &self.inner.token)
            .field("objects", &self.objects())
            .finish()
    }
}

/// A handle to an object of type `T` in a region: keeps the region mapped.
pub(crate) struct Obj<T> {
    ptr: NonNull<T>,
    region: Region,
}

impl<T> Obj<T> {
    /// The region (the calling process's `Cx`).
    #[inline]
    pub(crate) fn region(&self) -> &Region {
        &self.region
    }
}

impl<T> Clone for Obj<T> {
    fn clone(&self) -> Self {
        Obj {
            ptr: self.ptr,
            region: self.region.clone(),
        }
    }
}

impl<T> core::ops::Deref for Obj<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `ptr` came from `Mapping::get` (in bounds, aligned, a
        // valid `T: Shm`), and `self.region` keeps that mapping alive.
        unsafe { self.ptr.as_ref() }
    }
}

// SAFETY: `T: Shm` is Sync (atomics only) and the mapping is shared memory;
// the handle only hands out `&T`.
unsafe impl<T: Sync> Send for Obj<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Obj<T> {}

/// A block of shared bytes in a region ([`Region::data`]): for data the
/// processes share under one of the region's locks. pysync does not know
/// what the bytes mean: access them through [`as_ptr`](Data::as_ptr) under
/// your own synchronisation (or as atomics).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// let r = pysync::process::Region::anonymous(1 << 20)?;
/// let d = r.data("hits", 8)?;
/// // SAFETY: 8 bytes, 64-byte aligned, only ever used as this atomic.
/// let hits = unsafe { AtomicU64::from_ptr(d.as_ptr().cast()) };
/// hits.fetch_add(1, Ordering::Relaxed);
/// # Ok::<(), pysync::process::RegionError>(())
/// ```
#[derive(Clone)]
pub struct Data {
    region: Region,
    ptr: NonNull<u8>,
    len: usize,
}

impl Data {
    pub(crate) fn new(region: Region, ptr: NonNull<u8>, len: usize) -> Data {
        Data { region, ptr, len }
    }

    /// The first byte (64-byte aligned); valid for [`len`](Data::len)
    /// bytes while this handle (or its region) lives.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert_eq!(r.data("d", 8)?.as_ptr() as usize % 64, 0);
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Its length in bytes.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert_eq!(r.data("d", 24)?.len(), 24);
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never: a block has at least one byte.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert!(!r.data("d", 1)?.is_empty());
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The region it lives in.
    ///
    /// ```
    /// let r = pysync::process::Region::anonymous(1 << 20)?;
    /// assert_eq!(r.data("d", 1)?.region().token(), r.token());
    /// # Ok::<(), pysync::process::RegionError>(())
    /// ```
    pub fn region(&self) -> &Region {
        &self.region
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("process::Data")
            .field("len", &self.len)
            .finish()
    }
}

// SAFETY: the handle is a pointer into shared memory that the `Region` it
// holds keeps mapped; it grants no access by itself (`as_ptr` is a raw
// pointer, used under the caller's own synchronisation).
unsafe impl Send for Data {}
// SAFETY: as above.
unsafe impl Sync for Data {}

fn check_name(name: &str) -> Result<(), RegionError> {
    let b = name.as_bytes();
    let ok = b.len() >= 2
        && b.len() <= 255
        && b[0] == b'/'
        && !b[1..].contains(&b'/')
        && !b.contains(&0);
    if ok {
        Ok(())
    } else {
        Err(RegionError::BadName(name.to_owned()))
    }
}

fn check_size(size: usize) -> Result<usize, RegionError> {
    if size < Region::min_size() || size > MAX_SIZE {
        return Err(RegionError::BadSize(size));
    }
    Ok(align_up(size as u64, 4096) as usize)
}

fn pack_name(name: &str) -> Result<[u64; MAX_NAME / 8], RegionError> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() > MAX_NAME || b.contains(&0) {
        return Err(RegionError::BadObjectName(name.to_owned()));
    }
    let mut bytes = [0u8; MAX_NAME];
    bytes[..b.len()].copy_from_slice(b);
    Ok(core::array::from_fn(|i| {
        u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"))
    }))
}

fn os_error(e: rustix::io::Errno, name: &str) -> RegionError {
    match e {
        rustix::io::Errno::EXIST => RegionError::Exists(name.to_owned()),
        rustix::io::Errno::NOENT => RegionError::NotFound(name.to_owned()),
        rustix::io::Errno::ACCESS | rustix::io::Errno::PERM => {
            RegionError::PermissionDenied(name.to_owned())
        }
        rustix::io::Errno::NAMETOOLONG | rustix::io::Errno::INVAL => {
            RegionError::BadName(name.to_owned())
        }
        e => RegionError::Os(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore)] // reads /proc
    fn own_process_is_alive_and_a_wrong_start_time_is_not() {
        let _watchdog = crate::test_watchdog::watchdog();
        let pid = my_pid();
        let (_, start) = proc_stat(pid).unwrap();
        assert!(process_alive(pid, start));
        // The same pid with another start time: a reused pid is not us.
        assert!(!process_alive(pid, start + 1));
        // The parent (our test runner) with our start time: not it either.
        let ppid = rustix::process::getppid().map_or(1, |p| p.as_raw_nonzero().get() as u32);
        let (_, pstart) = proc_stat(ppid).unwrap();
        if pstart != start {
            assert!(!process_alive(ppid, start));
        }
        assert!(!process_alive(u32::MAX - 1, 0));
    }

    /// Whether thread `tid` of this process is asleep in `std::thread::sleep`
    /// (`clock_nanosleep`), by `/proc/<tid>/syscall`.
    fn asleep_in_sleep(tid: &str) -> bool {
        const CLOCK_NANOSLEEP: &[&str] = if cfg!(target_arch = "x86_64") {
            &["230"]
        } else if cfg!(target_arch = "x86") {
            &["267", "407"] // clock_nanosleep, clock_nanosleep_time64
        } else if cfg!(target_arch = "aarch64") {
            &["115"]
        } else {
            &[]
        };
        let syscall = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall"));
        let nr = syscall.as_deref().unwrap_or("").split_whitespace().next();
        nr.is_some_and(|nr| CLOCK_NANOSLEEP.contains(&nr))
    }

    fn shm_create_empty(name: &str) -> OwnedFd {
        use rustix::shm::{OFlags, open};
        let _ = rustix::shm::unlink(name);
        open(
            name,
            OFlags::CREATE | OFlags::EXCL | OFlags::RDWR,
            Mode::from_raw_mode(0o600),
        )
        .unwrap()
    }

    /// A creator between its `shm_open` and its `ftruncate` (the object is
    /// empty): an opener waits for it instead of failing with "not a
    /// region" (which made `open_or_create`'s loser fail).
    #[test]
    #[cfg_attr(miri, ignore)] // shared memory, /proc
    fn an_opener_waits_for_a_creator_that_has_not_sized_the_region_yet() {
        let _watchdog = crate::test_watchdog::watchdog();
        let name = format!("/pysync-unit-unsized-{}", std::process::id());
        let fd = shm_create_empty(&name);
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            let name = &name;
            let opener = s.spawn(move || {
                let me = std::fs::read_link("/proc/thread-self").unwrap();
                tx.send(me.file_name().unwrap().to_string_lossy().into_owned())
                    .unwrap();
                Region::open(name).map(|r| r.size())
            });
            let tid = rx.recv().unwrap();
            // It found the object empty and sleeps between its looks.
            while !asleep_in_sleep(&tid) && !opener.is_finished() {
                std::thread::yield_now();
            }
            assert!(
                !opener.is_finished(),
                "the opener gave up on a region being created: {:?}",
                opener.join()
            );
            Region::init_new(fd, 1 << 16, Some(name.to_owned())).unwrap();
            assert_eq!(opener.join().unwrap().unwrap(), 1 << 16);
        });
        rustix::shm::unlink(&name).unwrap();
    }

    /// An object nobody sizes (its creator died after `shm_open`): the
    /// opener's wait is bounded and ends in a clear error.
    #[test]
    #[cfg_attr(miri, ignore)] // shared memory
    fn an_object_left_empty_is_not_a_region_after_the_wait() {
        let _watchdog = crate::test_watchdog::watchdog();
        let name = format!("/pysync-unit-empty-{}", std::process::id());
        let _fd = shm_create_empty(&name);
        let start = Instant::now();
        let err = Region::open(&name).unwrap_err();
        assert!(start.elapsed() >= INIT_WAIT, "it gave up before its wait");
        assert!(
            matches!(err, RegionError::NotARegion(why) if why.starts_with("empty")),
            "{err:?}"
        );
        rustix::shm::unlink(&name).unwrap();
    }

    #[test]
    fn names_are_checked() {
        let _watchdog = crate::test_watchdog::watchdog();
        for bad in ["", "/", "x", "/a/b", "/a\0b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&format!("/{}", "x".repeat(255))).is_err());
        assert!(check_name("/fine-name").is_ok());
        assert!(pack_name("").is_err());
        assert!(pack_name(&"x".repeat(MAX_NAME + 1)).is_err());
        assert!(pack_name(&"x".repeat(MAX_NAME)).is_ok());
    }
}
