//! `cargo run --release --example gil_report`: measures `pysync::Gil` against
//! a CPython-style GIL (written below: `Mutex` + `Condvar` timed wait of one
//! switch interval, a drop-request flag, FORCE_SWITCHING) and prints a table:
//!
//! * the cost of `check()` against a relaxed `AtomicBool` load,
//! * forced switches per second with 2 CPU-bound threads (≈ 1/interval),
//! * CPU-share fairness (Jain's index) with 2 and 4 CPU-bound threads,
//! * the convoy effect: how long a thread looping
//!   `allow_threads(|| one-byte socket round trip)` takes to get the GIL back
//!   (median, p99), its throughput, and the share of wall time the CPU-bound
//!   threads still spend in their work, with 0, 1 and 3 CPU-bound threads.
//!
//! Runs in about 20 s.

use pysync::Gil;
use std::hint::black_box;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_millis(5);

// ----- the two designs behind one interface ---------------------------------

trait GilApi: Sync {
    const NAME: &'static str;
    type Guard<'a>
    where
        Self: 'a;
    fn acquire(&self) -> Self::Guard<'_>;
    fn check(g: &mut Self::Guard<'_>);
    fn allow_threads<R>(g: &mut Self::Guard<'_>, f: impl FnOnce() -> R) -> R;
    /// Forced switches so far.
    fn switches(&self) -> u64;
}

impl GilApi for Gil {
    const NAME: &'static str = "pysync::Gil";
    type Guard<'a> = pysync::GilGuard<'a>;
    fn acquire(&self) -> Self::Guard<'_> {
        Gil::acquire(self)
    }
    #[inline]
    fn check(g: &mut Self::Guard<'_>) {
        g.check();
    }
    fn allow_threads<R>(g: &mut Self::Guard<'_>, f: impl FnOnce() -> R) -> R {
        g.allow_threads(f)
    }
    fn switches(&self) -> u64 {
        self.stats().switches()
    }
}

/// CPython's GIL (Python/ceval_gil.c, 3.2+), reduced to its logic: a waiter
/// waits on a condvar for one interval; if no switch happened meanwhile it
/// sets `drop_request`; the holder polls the flag, drops the GIL and (FORCE_
/// SWITCHING) waits until another thread has taken it.
struct CPythonGil {
    state: Mutex<CState>,
    cond: Condvar,
    switch_cond: Condvar,
    drop_request: AtomicBool,
    interval: Duration,
}

struct CState {
    locked: bool,
    last_holder: u64,
    switch_number: u64,
}

fn my_id() -> u64 {
    thread_local!(static ID: u8 = const { 0 });
    ID.with(|b| b as *const u8 as u64)
}

impl CPythonGil {
    fn new(interval: Duration) -> Self {
        CPythonGil {
            state: Mutex::new(CState {
                locked: false,
                last_holder: 0,
                switch_number: 0,
            }),
            cond: Condvar::new(),
            switch_cond: Condvar::new(),
            drop_request: AtomicBool::new(false),
            interval,
        }
    }

    fn take(&self) {
        let mut s = self.state.lock().unwrap();
        while s.locked {
            let saved = s.switch_number;
            let (ns, to) = self.cond.wait_timeout(s, self.interval).unwrap();
            s = ns;
            if to.timed_out() && s.locked && s.switch_number == saved {
                self.drop_request.store(true, Ordering::Relaxed);
            }
        }
        s.locked = true;
        if s.last_holder != my_id() {
            s.last_holder = my_id();
            s.switch_number += 1;
            self.switch_cond.notify_all();
        }
        self.drop_request.store(false, Ordering::Relaxed);
    }

    fn drop_gil(&self) {
        let mut s = self.state.lock().unwrap();
        s.locked = false;
        self.cond.notify_one();
        if self.drop_request.load(Ordering::Relaxed) {
            // FORCE_SWITCHING: wait until somebody else took it.
            while s.last_holder == my_id() {
                s = self.switch_cond.wait(s).unwrap();
            }
        }
    }
}

struct CGuard<'a>(&'a CPythonGil);

impl Drop for CGuard<'_> {
    fn drop(&mut self) {
        self.0.drop_gil();
    }
}

impl GilApi for CPythonGil {
    const NAME: &'static str = "CPython-style";
    type Guard<'a> = CGuard<'a>;
    fn acquire(&self) -> CGuard<'_> {
        self.take();
        CGuard(self)
    }
    #[inline]
    fn check(g: &mut CGuard<'_>) {
        if g.0.drop_request.load(Ordering::Relaxed) {
            g.0.drop_gil();
            g.0.take();
        }
    }
    fn allow_threads<R>(g: &mut CGuard<'_>, f: impl FnOnce() -> R) -> R {
        g.0.drop_gil();
        let r = f();
        g.0.take();
        r
    }
    fn switches(&self) -> u64 {
        self.state.lock().unwrap().switch_number
    }
}

// ----- workloads -----------------------------------------------------------

/// One unit of "bytecode": a few hundred ns of integer work.
#[inline]
fn work_unit(x: &mut u64) {
    for _ in 0..64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
    }
    black_box(*x);
}

/// A CPU-bound thread: holds the GIL, runs work units, polls `check`.
/// Stores the units done and the nanoseconds spent blocked in `check`
/// (waiting to get the GIL back after a switch).
fn cpu_thread<G: GilApi>(gil: &G, stop: &AtomicBool, units: &AtomicU64, blocked: &AtomicU64) {
    let t0 = Instant::now();
    let mut g = gil.acquire();
    let mut waited = t0.elapsed();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        work_unit(&mut x);
        n += 1;
        let a = Instant::now();
        G::check(&mut g);
        let d = a.elapsed();
        if d > Duration::from_micros(1) {
            waited += d;
        }
    }
    drop(g);
    units.store(n, Ordering::Relaxed);
    blocked.store(waited.as_nanos() as u64, Ordering::Relaxed);
}

/// Work units per second of one thread alone.
fn calibrate() -> f64 {
    let gil = Gil::new();
    let stop = AtomicBool::new(false);
    let units = AtomicU64::new(0);
    let t = Instant::now();
    thread::scope(|s| {
        s.spawn(|| cpu_thread(&gil, &stop, &units, &AtomicU64::new(0)));
        thread::sleep(Duration::from_millis(400));
        stop.store(true, Ordering::Relaxed);
    });
    units.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64()
}

fn jain(xs: &[f64]) -> f64 {
    let s: f64 = xs.iter().sum();
    let s2: f64 = xs.iter().map(|x| x * x).sum();
    s * s / (xs.len() as f64 * s2)
}

struct Fairness {
    shares: Vec<f64>,
    jain: f64,
    switches_per_s: f64,
}

fn fairness<G: GilApi>(gil: &G, n: usize, dur: Duration) -> Fairness {
    let stop = AtomicBool::new(false);
    let units: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
    let sw0 = gil.switches();
    let t = Instant::now();
    thread::scope(|s| {
        for u in &units {
            let stop = &stop;
            s.spawn(move || cpu_thread(gil, stop, u, &AtomicU64::new(0)));
        }
        thread::sleep(dur);
        stop.store(true, Ordering::Relaxed);
    });
    let secs = t.elapsed().as_secs_f64();
    let xs: Vec<f64> = units
        .iter()
        .map(|u| u.load(Ordering::Relaxed) as f64)
        .collect();
    let total: f64 = xs.iter().sum();
    Fairness {
        shares: xs.iter().map(|x| x / total).collect(),
        jain: jain(&xs),
        switches_per_s: (gil.switches() - sw0) as f64 / secs,
    }
}

struct Convoy {
    median: Duration,
    p99: Duration,
    io_per_s: f64,
    /// Wall time the CPU threads were not blocked waiting for the GIL.
    cpu_share: f64,
    /// Work done, relative to one thread running alone for the same time.
    work_vs_alone: f64,
}

fn convoy<G: GilApi>(gil: &G, cpu_threads: usize, dur: Duration, rate_alone: f64) -> Convoy {
    let stop = AtomicBool::new(false);
    let units: Vec<AtomicU64> = (0..cpu_threads).map(|_| AtomicU64::new(0)).collect();
    let blocked: Vec<AtomicU64> = (0..cpu_threads).map(|_| AtomicU64::new(0)).collect();
    let (mut req_w, mut req_r) = UnixStream::pair().unwrap();
    let (mut resp_w, mut resp_r) = UnixStream::pair().unwrap();
    let mut lat = Vec::with_capacity(1 << 16);
    let mut ops = 0u64;
    let t = Instant::now();
    thread::scope(|s| {
        // The "device": answers every request byte at once.
        s.spawn(move || {
            let mut b = [0u8];
            while req_r.read_exact(&mut b).is_ok() {
                if resp_w.write_all(&b).is_err() {
                    break;
                }
            }
        });
        for (u, b) in units.iter().zip(&blocked) {
            let stop = &stop;
            s.spawn(move || cpu_thread(gil, stop, u, b));
        }
        // Let the CPU threads get going.
        thread::sleep(Duration::from_millis(20));
        let mut g = gil.acquire();
        let end = Instant::now() + dur;
        while Instant::now() < end {
            let io_done = G::allow_threads(&mut g, || {
                let mut b = [7u8];
                req_w.write_all(&b).unwrap();
                resp_r.read_exact(&mut b).unwrap();
                Instant::now()
            });
            lat.push(io_done.elapsed());
            ops += 1;
            G::check(&mut g);
        }
        drop(g);
        stop.store(true, Ordering::Relaxed);
        drop(req_w);
    });
    let wall = t.elapsed().as_secs_f64();
    lat.sort();
    let pick = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize];
    let done: f64 = units.iter().map(|u| u.load(Ordering::Relaxed) as f64).sum();
    let blocked: f64 = blocked
        .iter()
        .map(|b| b.load(Ordering::Relaxed) as f64 / 1e9)
        .sum();
    Convoy {
        median: pick(0.5),
        p99: pick(0.99),
        io_per_s: ops as f64 / dur.as_secs_f64(),
        cpu_share: (cpu_threads as f64 * wall - blocked) / wall,
        work_vs_alone: done / (rate_alone * wall),
    }
}

fn check_cost() -> (f64, f64) {
    const N: u64 = 200_000_000;
    let flag = AtomicBool::new(false);
    let t = Instant::now();
    for _ in 0..N {
        if black_box(&flag).load(Ordering::Relaxed) {
            black_box(());
        }
    }
    let base = t.elapsed().as_nanos() as f64 / N as f64;
    let gil = Gil::new();
    let g = gil.acquire();
    let t = Instant::now();
    for _ in 0..N {
        black_box(&g).check();
    }
    let check = t.elapsed().as_nanos() as f64 / N as f64;
    (base, check)
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    println!(
        "gil_report: switch interval {INTERVAL:?}, {} CPUs",
        thread::available_parallelism().map_or(0, |n| n.get())
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (base, check) = check_cost();
    println!();
    println!("| metric | value | done criterion |");
    println!("|---|---|---|");
    println!(
        "| check() uncontended vs relaxed AtomicBool load | {check:.2} ns vs {base:.2} ns ({:.2}×) | ≤ 2× |",
        check / base
    );

    let pysync = Gil::with_switch_interval(INTERVAL);
    let cpython = CPythonGil::new(INTERVAL);
    let f2 = fairness(&pysync, 2, Duration::from_secs(2));
    let f4 = fairness(&pysync, 4, Duration::from_secs(2));
    let c2 = fairness(&cpython, 2, Duration::from_secs(1));
    let c4 = fairness(&cpython, 4, Duration::from_secs(2));
    let pct = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{:.1}%", x * 100.0))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    println!(
        "| switches/s, 2 CPU threads (1/interval = {:.0}) | {:.0} (CPython-style: {:.0}) | ±50 % of 1/interval |",
        1.0 / INTERVAL.as_secs_f64(),
        f2.switches_per_s,
        c2.switches_per_s
    );
    println!(
        "| work shares, 2 CPU threads, 2 s | {} (Jain {:.4}) | each 40–60 %, Jain ≥ 0.99 |",
        pct(&f2.shares),
        f2.jain
    );
    println!(
        "| work shares, 4 CPU threads, 2 s | {} (Jain {:.4}) | |",
        pct(&f4.shares),
        f4.jain
    );
    println!(
        "| CPython-style work shares, 2 CPU threads, 1 s | {} (Jain {:.4}) | (reference) |",
        pct(&c2.shares),
        c2.jain
    );

    println!(
        "| CPython-style work shares, 4 CPU threads, 2 s | {} (Jain {:.4}) | (reference) |",
        pct(&c4.shares),
        c4.jain
    );
    println!();
    println!(
        "Convoy: an I/O thread loops allow_threads(|| 1-byte socket round trip), next to N CPU-bound threads (1.5 s each)"
    );
    println!();
    println!(
        "| design | CPU threads | GIL regain median | p99 | I/O ops/s | CPU threads' share of wall time in work (not waiting for the GIL) |"
    );
    println!("|---|---|---|---|---|---|");
    let mut res = Vec::new();
    for n in [0usize, 1, 3] {
        let rate = calibrate();
        let a = convoy(&pysync, n, Duration::from_millis(1500), rate);
        let b = convoy(&cpython, n, Duration::from_millis(1500), rate);
        for (name, c) in [(Gil::NAME, &a), (CPythonGil::NAME, &b)] {
            let share = if n == 0 {
                "—".to_string()
            } else {
                format!(
                    "{:.0} % (work: {:.0} % of solo rate)",
                    c.cpu_share * 100.0,
                    c.work_vs_alone * 100.0
                )
            };
            println!(
                "| {name} | {n} | {} | {} | {:.0} | {share} |",
                us(c.median),
                us(c.p99),
                c.io_per_s
            );
        }
        res.push((n, a, b));
    }
    let (_, a, b) = &res[1];
    println!();
    println!("Done criteria (1 CPU-bound thread):");
    println!(
        "  p99 regain latency {:.1}× lower than CPython-style (≥ 10×): {}",
        b.p99.as_secs_f64() / a.p99.as_secs_f64(),
        ok(b.p99.as_secs_f64() / a.p99.as_secs_f64() >= 10.0)
    );
    println!(
        "  I/O throughput {:.1}× CPython-style's (≥ 10×): {}",
        a.io_per_s / b.io_per_s,
        ok(a.io_per_s / b.io_per_s >= 10.0)
    );
    println!(
        "  CPU thread's share {:.0} % (≥ 50 %): {}",
        a.cpu_share * 100.0,
        ok(a.cpu_share >= 0.5)
    );
    println!(
        "  check() {:.2}× a relaxed load (≤ 2×): {}",
        check / base,
        ok(check / base <= 2.0)
    );
    let sw = f2.switches_per_s * INTERVAL.as_secs_f64();
    println!(
        "  switches/s {:.2}× 1/interval (0.5–1.5): {}",
        sw,
        ok((0.5..=1.5).contains(&sw))
    );
    println!(
        "  2-thread shares in 40–60 %, Jain {:.4} (≥ 0.99): {}",
        f2.jain,
        ok(f2.jain >= 0.99 && f2.shares.iter().all(|s| (0.4..=0.6).contains(s)))
    );
}

fn ok(b: bool) -> &'static str {
    if b { "yes" } else { "NO" }
}
