//! What every bench shares: one short criterion configuration, so that the
//! whole `cargo bench` stays within a few minutes on a 2-core machine; CPU
//! pinning for the one-CPU variants; the machine-state suffix for runs beside
//! a busy neighbour; and the workloads that several bench binaries run
//! (the bounded queue, the ping-pongs).
//!
//! Each bench binary includes this module with `mod common;` and uses only
//! part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod pingpong;
pub mod queue;

use criterion::Criterion;
use std::time::Duration;

/// 300 ms warm-up, 1 s of measurement, 20 samples.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

/// Fewer, longer samples for benches whose one iteration takes milliseconds
/// (the queue): 10 samples in 2 s.
pub fn config_slow() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10)
}

/// The machine state a run measures, from `PYSYNC_BENCH_STATE` (set by
/// `scripts/busy_neighbour.sh` to `busy`): appended to group names
/// (`condition_queue_busy`), so that results of a run beside a busy
/// neighbour are saved beside, not over, those of a quiet run. Empty when
/// unset.
pub fn state_suffix() -> String {
    match std::env::var("PYSYNC_BENCH_STATE") {
        Ok(s) if !s.is_empty() => format!("_{s}"),
        _ => String::new(),
    }
}

/// `base` plus the machine-state suffix.
pub fn group(base: &str) -> String {
    format!("{base}{}", state_suffix())
}

/// Pinning threads to CPUs (`sched_setaffinity`), for the one-CPU variants:
/// what a container with a one-CPU cpuset, or `taskset -c 0`, gives a
/// process. Threads inherit their creator's affinity, so pinning the calling
/// thread before it spawns pins the whole workload.
pub mod cpu {
    use std::mem;

    /// The CPUs the calling thread may run on.
    pub fn allowed() -> Vec<usize> {
        // SAFETY: `set` is a plain bit array that sched_getaffinity fills;
        // zeroed is a valid (empty) value; the size passed is its own.
        unsafe {
            let mut set: libc::cpu_set_t = mem::zeroed();
            let rc = libc::sched_getaffinity(0, mem::size_of::<libc::cpu_set_t>(), &mut set);
            assert_eq!(
                rc,
                0,
                "sched_getaffinity: {}",
                std::io::Error::last_os_error()
            );
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect()
        }
    }

    /// Restricts the calling thread to `cpus`.
    pub fn set(cpus: &[usize]) {
        // SAFETY: as in `allowed`; CPU_SET only writes bits inside `set`
        // (every index comes from `allowed`, below CPU_SETSIZE).
        unsafe {
            let mut set: libc::cpu_set_t = mem::zeroed();
            for &c in cpus {
                libc::CPU_SET(c, &mut set);
            }
            let rc = libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set);
            assert_eq!(
                rc,
                0,
                "sched_setaffinity: {}",
                std::io::Error::last_os_error()
            );
        }
    }

    /// Runs `f` with the calling thread pinned to one CPU (the first it may
    /// use), so that every thread `f` spawns runs on that CPU too; restores
    /// the calling thread's CPUs afterwards.
    pub fn one_cpu<R>(f: impl FnOnce() -> R) -> R {
        let before = allowed();
        set(&before[..1]);
        struct Restore(Vec<usize>);
        impl Drop for Restore {
            fn drop(&mut self) {
                set(&self.0);
            }
        }
        let _restore = Restore(before);
        f()
    }

    /// Runs `f` pinned to one CPU if `pinned`, else as is.
    pub fn maybe_one_cpu<R>(pinned: bool, f: impl FnOnce() -> R) -> R {
        if pinned { one_cpu(f) } else { f() }
    }
}

/// Context switches of the calling thread so far: (voluntary, involuntary),
/// from `getrusage(RUSAGE_THREAD)`.
pub fn thread_context_switches() -> (u64, u64) {
    // SAFETY: `ru` is a plain C struct that getrusage fills; zeroed is valid.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        let rc = libc::getrusage(libc::RUSAGE_THREAD, &mut ru);
        assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
        (ru.ru_nvcsw as u64, ru.ru_nivcsw as u64)
    }
}
