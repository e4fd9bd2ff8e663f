//! `cargo run --release --example gil_report [-- --runs N]`: measures
//! `pysync::Gil` against a CPython-style GIL (written below: `Mutex` +
//! `Condvar` timed wait of one switch interval, a drop-request flag,
//! FORCE_SWITCHING), side by side in one run, and prints tables:
//!
//! * the cost of `check()` against a relaxed `AtomicBool` load,
//! * forced switches per second with 2 CPU-bound threads (≈ 1/interval),
//! * CPU-share fairness (Jain's index) with 2 and 4 CPU-bound threads,
//! * the convoy effect: an I/O thread loops `allow_threads(|| one-byte
//!   socket echo)` plus ~1 µs of work under the GIL, alone and beside 1 or
//!   3 CPU-bound threads (~1 µs of work between `check()`s): how long it
//!   takes to get the GIL back (median, p99), its iterations/s alone and
//!   beside (and the ratio), and the share of wall time each CPU-bound
//!   thread spends working (not waiting for the GIL).
//!
//! Every convoy figure is the median over `--runs` runs (default 3; each
//! run measures both designs, alone and beside, 1 s each); the load
//! average is printed before and after. Runs in about 10 s per run.

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
    /// The design's own counters, if it keeps any.
    fn stats_line(&self) -> Option<String> {
        None
    }
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
    fn stats_line(&self) -> Option<String> {
        let s = self.stats();
        Some(format!(
            "{} acquisitions, {} voluntary releases, {} forced switches, {} preemptions for I/O returns; \
             I/O returns waited {} times, {:.1} µs on average (max {:.0} µs); others waited {:.1} ms in all; \
             hand-offs to a spinning / sleeping waiter: {} / {}",
            s.acquisitions,
            s.voluntary_releases,
            s.forced_switches,
            s.priority_switches,
            s.io_waits,
            s.io_wait.as_secs_f64() * 1e6 / s.io_waits.max(1) as f64,
            s.io_max_wait.as_secs_f64() * 1e6,
            s.cpu_wait().as_secs_f64() * 1e3,
            s.handoffs_to_spinning,
            s.handoffs_to_sleeping
        ))
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

/// Iterations of the xorshift step that make one unit of "bytecode" last
/// about 1 µs on this machine (set once by `calibrate_unit`).
static UNIT_ITERS: AtomicU64 = AtomicU64::new(256);

/// One unit of "bytecode": about 1 µs of integer work.
#[inline]
fn work_unit(x: &mut u64) {
    for _ in 0..UNIT_ITERS.load(Ordering::Relaxed) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
    }
    black_box(*x);
}

/// Sizes `work_unit` to about 1 µs.
fn calibrate_unit() -> f64 {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        work_unit(&mut x);
    }
    let per = t.elapsed().as_secs_f64() / n as f64;
    let iters = (UNIT_ITERS.load(Ordering::Relaxed) as f64 * 1e-6 / per).max(1.0) as u64;
    UNIT_ITERS.store(iters, Ordering::Relaxed);
    let t = Instant::now();
    for _ in 0..n {
        work_unit(&mut x);
    }
    t.elapsed().as_secs_f64() / n as f64
}

/// A check that takes longer than this was a switch (the thread waited).
const BLOCKED: Duration = Duration::from_nanos(250);

/// What one CPU-bound thread did.
#[derive(Clone, Copy, Default)]
struct CpuResult {
    units: u64,
    /// Nanoseconds spent waiting for the GIL (first acquire, and checks
    /// that switched).
    blocked_ns: u64,
}

/// A CPU-bound thread: holds the GIL, runs work units, polls `check`.
fn cpu_thread<G: GilApi>(gil: &G, stop: &AtomicBool) -> CpuResult {
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
        if d > BLOCKED {
            waited += d;
        }
    }
    drop(g);
    CpuResult {
        units: n,
        blocked_ns: waited.as_nanos() as u64,
    }
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
    let sw0 = gil.switches();
    let t = Instant::now();
    let results: Vec<CpuResult> = thread::scope(|s| {
        let hs: Vec<_> = (0..n).map(|_| s.spawn(|| cpu_thread(gil, &stop))).collect();
        thread::sleep(dur);
        stop.store(true, Ordering::Relaxed);
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = t.elapsed().as_secs_f64();
    let xs: Vec<f64> = results.iter().map(|r| r.units as f64).collect();
    let total: f64 = xs.iter().sum();
    Fairness {
        shares: xs.iter().map(|x| x / total).collect(),
        jain: jain(&xs),
        switches_per_s: (gil.switches() - sw0) as f64 / secs,
    }
}

/// One convoy run: the I/O loop beside `cpu_threads` CPU-bound threads.
struct Convoy {
    median: Duration,
    p99: Duration,
    io_per_s: f64,
    /// Per CPU thread: share of wall time not spent waiting for the GIL.
    cpu_shares: Vec<f64>,
}

fn convoy<G: GilApi>(gil: &G, cpu_threads: usize, dur: Duration) -> Convoy {
    let stop = AtomicBool::new(false);
    let (mut req_w, mut req_r) = UnixStream::pair().unwrap();
    let (mut resp_w, mut resp_r) = UnixStream::pair().unwrap();
    let mut lat = Vec::with_capacity(1 << 16);
    let mut ops = 0u64;
    let mut io_time = Duration::ZERO;
    let t = Instant::now();
    let results: Vec<CpuResult> = thread::scope(|s| {
        // The "device": answers every request byte at once.
        s.spawn(move || {
            let mut b = [0u8];
            while req_r.read_exact(&mut b).is_ok() {
                if resp_w.write_all(&b).is_err() {
                    break;
                }
            }
        });
        let hs: Vec<_> = (0..cpu_threads)
            .map(|_| s.spawn(|| cpu_thread(gil, &stop)))
            .collect();
        // Let the CPU threads get going.
        thread::sleep(Duration::from_millis(20));
        let mut g = gil.acquire();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let start = Instant::now();
        let end = start + dur;
        while Instant::now() < end {
            let io_done = G::allow_threads(&mut g, || {
                let mut b = [7u8];
                req_w.write_all(&b).unwrap();
                resp_r.read_exact(&mut b).unwrap();
                Instant::now()
            });
            lat.push(io_done.elapsed());
            ops += 1;
            // ~1 µs of work under the GIL, then the poll.
            work_unit(&mut x);
            G::check(&mut g);
        }
        io_time = start.elapsed();
        drop(g);
        stop.store(true, Ordering::Relaxed);
        drop(req_w);
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = t.elapsed().as_secs_f64();
    lat.sort();
    let pick = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize];
    Convoy {
        median: pick(0.5),
        p99: pick(0.99),
        io_per_s: ops as f64 / io_time.as_secs_f64(),
        cpu_shares: results
            .iter()
            .map(|r| (wall - r.blocked_ns as f64 / 1e9) / wall)
            .collect(),
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

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn us(secs: f64) -> String {
    if secs >= 1e-3 {
        format!("{:.2} ms", secs * 1e3)
    } else {
        format!("{:.1} µs", secs * 1e6)
    }
}

fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The medians over runs of one design with `n` CPU-bound threads.
struct Row {
    /// The design's counters after its last run.
    stats: Option<String>,
    design: &'static str,
    n: usize,
    median: f64,
    p99: f64,
    alone: f64,
    /// Slowest and fastest run alone (the figure is bimodal).
    alone_range: (f64, f64),
    beside: f64,
    /// Median share of each CPU thread (sorted by thread index).
    shares: Vec<f64>,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.beside / self.alone
    }

    /// (max − min) / max of the CPU threads' shares.
    fn spread(&self) -> f64 {
        let max = self.shares.iter().cloned().fold(f64::MIN, f64::max);
        let min = self.shares.iter().cloned().fold(f64::MAX, f64::min);
        (max - min) / max
    }
}

fn rows<G: GilApi>(make: &dyn Fn() -> G, runs: usize, dur: Duration) -> Vec<Row> {
    let mut alone = Vec::new();
    let mut beside: Vec<Vec<Convoy>> = vec![Vec::new(), Vec::new()];
    let mut stats = vec![None, None];
    for _ in 0..runs {
        alone.push(convoy(&make(), 0, dur).io_per_s);
        for (i, n) in [1usize, 3].into_iter().enumerate() {
            let gil = make();
            beside[i].push(convoy(&gil, n, dur));
            stats[i] = gil.stats_line();
        }
    }
    let alone_range = (
        alone.iter().cloned().fold(f64::MAX, f64::min),
        alone.iter().cloned().fold(f64::MIN, f64::max),
    );
    let alone = median(alone);
    [1usize, 3]
        .into_iter()
        .zip(beside)
        .zip(stats)
        .map(|((n, cs), stats)| Row {
            stats,
            design: G::NAME,
            n,
            median: median(cs.iter().map(|c| c.median.as_secs_f64()).collect()),
            p99: median(cs.iter().map(|c| c.p99.as_secs_f64()).collect()),
            alone,
            alone_range,
            beside: median(cs.iter().map(|c| c.io_per_s).collect()),
            shares: (0..n)
                .map(|i| median(cs.iter().map(|c| c.cpu_shares[i]).collect()))
                .collect(),
        })
        .collect()
}

fn main() {
    let runs = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    let unit = calibrate_unit();
    println!(
        "gil_report: switch interval {INTERVAL:?}, {} CPUs, work unit {:.2} µs, {runs} runs",
        thread::available_parallelism().map_or(0, |n| n.get()),
        unit * 1e6
    );
    println!("load average at start: {}", load_average());
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
    let c4 = fairness(&cpython, 4, Duration::from_secs(1));
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
        "| CPython-style work shares, 4 CPU threads, 1 s | {} (Jain {:.4}) | (reference) |",
        pct(&c4.shares),
        c4.jain
    );

    let dur = Duration::from_secs(1);
    let mut table = rows(&|| Gil::with_switch_interval(INTERVAL), runs, dur);
    table.extend(rows(&|| CPythonGil::new(INTERVAL), runs, dur));
    table.sort_by_key(|r| (r.n, r.design != Gil::NAME));
    println!();
    println!(
        "Convoy: an I/O thread loops allow_threads(|| 1-byte socket echo) + ~1 µs of work, beside N CPU-bound threads (~1 µs between check()s); medians of {runs} runs of 1 s"
    );
    println!();
    println!(
        "| design | CPU threads | GIL regain median | p99 | I/O it/s alone (slowest–fastest run) | beside | beside/alone | each CPU thread's share of wall time working |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in &table {
        println!(
            "| {} | {} | {} | {} | {:.0} ({:.0}–{:.0}) | {:.0} | {:.0} % | {} |",
            r.design,
            r.n,
            us(r.median),
            us(r.p99),
            r.alone,
            r.alone_range.0,
            r.alone_range.1,
            r.beside,
            r.ratio() * 100.0,
            pct(&r.shares)
        );
    }
    println!();
    for r in table.iter().filter(|r| r.stats.is_some()) {
        println!(
            "{} counters, last run with {} CPU thread(s): {}",
            r.design,
            r.n,
            r.stats.as_deref().unwrap_or_default()
        );
    }
    let find = |name: &str, n: usize| {
        table
            .iter()
            .find(|r| r.design == name && r.n == n)
            .expect("every design and N is measured")
    };
    let (p1, p3) = (find(Gil::NAME, 1), find(Gil::NAME, 3));
    let (c1, _) = (find(CPythonGil::NAME, 1), find(CPythonGil::NAME, 3));
    println!();
    println!("Done criteria (pysync::Gil):");
    println!(
        "  1 CPU thread: I/O keeps {:.0} % of its alone rate (≥ 50 %; CPython-style {:.0} %): {}",
        p1.ratio() * 100.0,
        c1.ratio() * 100.0,
        ok(p1.ratio() >= 0.5)
    );
    println!(
        "  1 CPU thread: it works {:.0} % of the wall time (≥ 75 %): {}",
        p1.shares[0] * 100.0,
        ok(p1.shares[0] >= 0.75)
    );
    println!(
        "  3 CPU threads: I/O keeps {:.0} % (≥ 33 %): {}",
        p3.ratio() * 100.0,
        ok(p3.ratio() >= 0.33)
    );
    println!(
        "  3 CPU threads: shares {} differ by {:.1} % (≤ 10 %): {}",
        pct(&p3.shares),
        p3.spread() * 100.0,
        ok(p3.spread() <= 0.10)
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
    println!();
    println!("load average at end: {}", load_average());
}

fn ok(b: bool) -> &'static str {
    if b { "yes" } else { "NO" }
}
