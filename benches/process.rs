//! `pysync::process::Lock` across 2 real processes, against a
//! `PTHREAD_PROCESS_SHARED` + `PTHREAD_MUTEX_ROBUST` pthread mutex and a
//! POSIX named semaphore (`sem_open`, what Python's `multiprocessing.Lock`
//! is), plus the thread `pysync::Lock` for the uncontended 1.1× target.
//!
//! The bench binary spawns itself as the second process
//! (`PYSYNC_BENCH_CHILD`); the child runs the same loop as the parent on
//! the same lock and is killed when the benchmark ends.
//!
//! * `process_lock_uncontended`: acquire+release, one process.
//! * `process_lock_contended/2`: two processes, each `OPS` acquire + a few
//!   increments + release; time for both (`/op` per critical section).
//! * `process_lock_wakeup`: wake-up latency. The parent holds the lock, the
//!   child blocks on it (the parent waits until the kernel shows the child
//!   asleep), the parent stamps the time and releases; the child stamps
//!   when it holds the lock. The measured time is the sum of those
//!   latencies (release → waiter running), not the set-up around them.
//!
//! Naming (scripts/bench_report.py): `pysync` is ours; peers are
//! `pthread_robust`, `sem_open` and `thread_lock` (the thread `pysync::Lock`).

mod common;

use criterion::{BenchmarkId, Criterion, Throughput};
use pysync::process::{Data, Region};
use std::hint::black_box;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Critical sections per process per criterion iteration (contended).
const OPS: u64 = 1_000;

// ---------------------------------------------------------------------------
// The three locks, behind one trait
// ---------------------------------------------------------------------------

trait XLock {
    fn lock(&self);
    fn unlock(&self);
}

struct Pysync(pysync::process::Lock);
impl XLock for Pysync {
    #[inline]
    fn lock(&self) {
        self.0.acquire();
    }
    #[inline]
    fn unlock(&self) {
        self.0.release().unwrap();
    }
}

/// A robust, process-shared pthread mutex in a region's data block.
struct Pthread(*mut libc::pthread_mutex_t, #[allow(dead_code)] Data);
impl Pthread {
    fn open(region: &Region, create: bool) -> Pthread {
        let d = region
            .data("pthread", std::mem::size_of::<libc::pthread_mutex_t>())
            .unwrap();
        let m = d.as_ptr().cast::<libc::pthread_mutex_t>();
        if create {
            // SAFETY: `m` points to enough zeroed, aligned shared bytes; the
            // attribute object lives on our stack for the calls.
            unsafe {
                let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
                assert_eq!(libc::pthread_mutexattr_init(&mut attr), 0);
                assert_eq!(
                    libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED),
                    0
                );
                assert_eq!(
                    libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST),
                    0
                );
                assert_eq!(libc::pthread_mutex_init(m, &attr), 0);
                libc::pthread_mutexattr_destroy(&mut attr);
            }
        }
        Pthread(m, d)
    }
}
impl XLock for Pthread {
    #[inline]
    fn lock(&self) {
        // SAFETY: an initialised process-shared mutex.
        let r = unsafe { libc::pthread_mutex_lock(self.0) };
        if r == libc::EOWNERDEAD {
            // SAFETY: as above; we hold it.
            unsafe { libc::pthread_mutex_consistent(self.0) };
        }
    }
    #[inline]
    fn unlock(&self) {
        // SAFETY: held by this thread.
        unsafe { libc::pthread_mutex_unlock(self.0) };
    }
}

/// A POSIX named semaphore of value 1 (Python's `multiprocessing.Lock`).
struct SemOpen(*mut libc::sem_t);
impl SemOpen {
    fn open(name: &str) -> SemOpen {
        let c = std::ffi::CString::new(name).unwrap();
        // SAFETY: a valid C string; O_CREAT takes the mode and value.
        let s = unsafe { libc::sem_open(c.as_ptr(), libc::O_CREAT, 0o600 as libc::c_uint, 1u32) };
        assert_ne!(s, libc::SEM_FAILED, "sem_open");
        SemOpen(s)
    }
}
impl XLock for SemOpen {
    #[inline]
    fn lock(&self) {
        // SAFETY: an open semaphore; retried on EINTR.
        while unsafe { libc::sem_wait(self.0) } != 0 {}
    }
    #[inline]
    fn unlock(&self) {
        // SAFETY: an open semaphore.
        unsafe { libc::sem_post(self.0) };
    }
}

fn open_lock(kind: &str, region: &Region, sem_name: &str, create: bool) -> Box<dyn XLock> {
    match kind {
        "pysync" => Box::new(Pysync(region.lock("lock").unwrap())),
        "pthread_robust" => Box::new(Pthread::open(region, create)),
        "sem_open" => Box::new(SemOpen::open(sem_name)),
        _ => unreachable!(),
    }
}

// ---------------------------------------------------------------------------
// Shared control words (in the region) and the child process
// ---------------------------------------------------------------------------

/// Words in a data block: 0 round, 1 iterations, 2 done round, 3 phase,
/// 4 stamp (ns), 5 latency sum (ns), 6 counter.
struct Ctl(Data);
impl Ctl {
    fn word(&self, i: usize) -> &AtomicU64 {
        // SAFETY: 8 words of 8 bytes, 64-byte aligned, only used as atomics.
        unsafe { AtomicU64::from_ptr(self.0.as_ptr().cast::<u64>().add(i)) }
    }
}

fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn spin_until(mut f: impl FnMut() -> bool) {
    let mut n = 0u32;
    while !f() {
        n += 1;
        if n < 100 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Whether process `pid` (single-threaded child) is asleep.
fn asleep(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('S'))
        })
        .unwrap_or(false)
}

#[inline]
fn critical(ctl: &Ctl) {
    let c = ctl.word(6);
    // Relaxed: protected by the lock being measured.
    c.store(black_box(c.load(Ordering::Relaxed) + 1), Ordering::Relaxed);
}

fn child(mode: &str, kind: &str, region_name: &str, sem_name: &str) {
    let region = Region::open(region_name).unwrap();
    let ctl = Ctl(region.data("ctl", 64).unwrap());
    let lock = open_lock(kind, &region, sem_name, false);
    let mut seen = 0;
    loop {
        spin_until(|| ctl.word(0).load(Ordering::Acquire) != seen);
        seen = ctl.word(0).load(Ordering::Acquire);
        let iters = ctl.word(1).load(Ordering::Relaxed);
        match mode {
            "contend" => {
                for _ in 0..iters * OPS {
                    lock.lock();
                    critical(&ctl);
                    lock.unlock();
                }
            }
            "wakeup" => {
                let mut sum = 0;
                for _ in 0..iters {
                    spin_until(|| ctl.word(3).load(Ordering::Acquire) == 1);
                    ctl.word(3).store(2, Ordering::Release);
                    lock.lock();
                    let t1 = now_ns();
                    sum += t1.saturating_sub(ctl.word(4).load(Ordering::Acquire));
                    lock.unlock();
                    ctl.word(3).store(0, Ordering::Release);
                }
                ctl.word(5).store(sum, Ordering::Release);
            }
            _ => unreachable!(),
        }
        ctl.word(2).store(seen, Ordering::Release);
    }
}

/// A second process running `mode` on lock `kind`; killed on drop.
struct Peer {
    child: Child,
    ctl: Ctl,
    lock: Box<dyn XLock>,
    _region: Region,
    name: String,
    sem: String,
}

impl Peer {
    fn start(mode: &str, kind: &str) -> Peer {
        let name = format!("/pysync-bench-{}-{mode}-{kind}", std::process::id());
        let sem = format!("/pysync-bench-sem-{}", std::process::id());
        let _ = Region::unlink(&name);
        let c = std::ffi::CString::new(sem.clone()).unwrap();
        // SAFETY: a valid C string; a fresh semaphore per benchmark.
        unsafe { libc::sem_unlink(c.as_ptr()) };
        let region = Region::create(&name, 1 << 20).unwrap();
        let ctl = Ctl(region.data("ctl", 64).unwrap());
        let lock = open_lock(kind, &region, &sem, true);
        let child = Command::new(std::env::current_exe().unwrap())
            .env("PYSYNC_BENCH_CHILD", format!("{mode} {kind} {name} {sem}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Peer {
            child,
            ctl,
            lock,
            _region: region,
            name,
            sem,
        }
    }

    /// Starts a round of `iters` in the child.
    fn go(&self, iters: u64) -> u64 {
        self.ctl.word(1).store(iters, Ordering::Relaxed);
        self.ctl.word(0).fetch_add(1, Ordering::AcqRel) + 1
    }

    fn wait_done(&self, round: u64) {
        spin_until(|| self.ctl.word(2).load(Ordering::Acquire) == round);
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Region::unlink(&self.name);
        let c = std::ffi::CString::new(self.sem.clone()).unwrap();
        // SAFETY: a valid C string.
        unsafe { libc::sem_unlink(c.as_ptr()) };
    }
}

const KINDS: [&str; 3] = ["pysync", "pthread_robust", "sem_open"];

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("process_lock_uncontended");
    let region = Region::anonymous(1 << 20).unwrap();
    let lock = region.lock("l").unwrap();
    g.bench_function("pysync", |b| {
        b.iter(|| {
            let l = black_box(&lock);
            l.acquire();
            l.release().unwrap();
        })
    });
    let thread_lock = pysync::Lock::new();
    g.bench_function("thread_lock", |b| {
        b.iter(|| {
            let l = black_box(&thread_lock);
            l.acquire();
            l.release().unwrap();
        })
    });
    let p = Pthread::open(&region, true);
    g.bench_function("pthread_robust", |b| {
        b.iter(|| {
            p.lock();
            p.unlock();
        })
    });
    let name = format!("/pysync-bench-unc-{}", std::process::id());
    let s = SemOpen::open(&name);
    g.bench_function("sem_open", |b| {
        b.iter(|| {
            s.lock();
            s.unlock();
        })
    });
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: a valid C string.
    unsafe { libc::sem_unlink(c.as_ptr()) };
    g.finish();
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("process_lock_contended");
    g.throughput(Throughput::Elements(2 * OPS));
    for kind in KINDS {
        let peer = Peer::start("contend", kind);
        g.bench_with_input(BenchmarkId::new(kind, 2), &2, |b, _| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                let round = peer.go(iters);
                for _ in 0..iters * OPS {
                    peer.lock.lock();
                    critical(&peer.ctl);
                    peer.lock.unlock();
                }
                peer.wait_done(round);
                start.elapsed()
            })
        });
    }
    g.finish();
}

fn wakeup(c: &mut Criterion) {
    let mut g = c.benchmark_group("process_lock_wakeup");
    g.sample_size(10);
    for kind in KINDS {
        let peer = Peer::start("wakeup", kind);
        let pid = peer.child.id();
        g.bench_function(kind, |b| {
            b.iter_custom(|iters| {
                let round = peer.go(iters);
                for _ in 0..iters {
                    peer.lock.lock();
                    peer.ctl.word(3).store(1, Ordering::Release);
                    spin_until(|| peer.ctl.word(3).load(Ordering::Acquire) == 2);
                    // The child is blocked in the kernel on the lock.
                    spin_until(|| asleep(pid));
                    peer.ctl.word(4).store(now_ns(), Ordering::Release);
                    peer.lock.unlock();
                    spin_until(|| peer.ctl.word(3).load(Ordering::Acquire) == 0);
                }
                peer.wait_done(round);
                Duration::from_nanos(peer.ctl.word(5).load(Ordering::Acquire))
            })
        });
    }
    g.finish();
}

fn main() {
    if let Ok(args) = std::env::var("PYSYNC_BENCH_CHILD") {
        let a: Vec<&str> = args.split(' ').collect();
        child(a[0], a[1], a[2], a[3]);
        return;
    }
    let mut c = common::config().configure_from_args();
    uncontended(&mut c);
    contended(&mut c);
    wakeup(&mut c);
    c.final_summary();
}
