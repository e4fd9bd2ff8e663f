//! Tails and counts, which criterion does not report: for every ping-pong
//! (Condition, Event, Semaphore, Barrier; pysync, std, parking_lot; all CPUs
//! and pinned to one) the mean, median, p99 and max of one round trip and
//! the context switches per round trip; for the bounded queue
//! (`benches/queue.rs`'s workload) the time per item and the context
//! switches per item; for the contended lock (`benches/lock.rs`'s
//! `lock_contended` workload: T threads, a short critical section) the
//! same per acquisition (`lock_ops/<impl>/<T>`).
//!
//! ```text
//! cargo bench --bench latency                      # everything, 3 interleaved runs each
//! cargo bench --bench latency -- ping_pong_1cpu    # only names containing a filter
//! cargo bench --bench latency -- --reps 5 --rounds 50000 --items 20000
//! scripts/busy_neighbour.sh cargo bench --bench latency   # beside a spinning process
//! ```
//!
//! Runs are interleaved (every case once, then every case again, ...) so
//! that a change in the machine's load hits all cases alike. Round-trip
//! figures pool the round trips of all runs; the queue's time is the median
//! of the runs. Context switches come from `getrusage(RUSAGE_THREAD)` of
//! the measured threads: voluntary = the thread blocked (futex sleep),
//! involuntary = it was preempted (or yielded the CPU with `sched_yield`
//! while another thread could run).
//!
//! Results go to stdout and to `<target>/pysync-latency/latency<suffix>.json`
//! (suffix `_busy` etc. from `PYSYNC_BENCH_STATE`), which
//! `scripts/bench_report.py` turns into the tail table of
//! `docs/benchmarks.md`.

mod common;
use common::{cpu, pingpong, queue, state_suffix};
use std::fmt::Write as _;
use std::time::Duration;

struct Options {
    filters: Vec<String>,
    reps: usize,
    rounds: u64,
    items: u64,
    save: bool,
    warm_up: bool,
}

fn options() -> Options {
    let mut o = Options {
        filters: Vec::new(),
        reps: 3,
        rounds: 20_000,
        items: 20_000,
        save: true,
        warm_up: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{what} needs a number"))
        };
        match a.as_str() {
            "--reps" => o.reps = num("--reps").max(1) as usize,
            "--rounds" => o.rounds = num("--rounds").max(100),
            "--items" => o.items = num("--items").max(10),
            "--no-save" => o.save = false,
            // For counting syscalls per case with `perf stat` (see
            // scripts/count_syscalls.py): only the measured runs.
            "--no-warm-up" => o.warm_up = false,
            // cargo bench passes --bench; criterion-style flags are ignored.
            s if s.starts_with("--") => {}
            s => o.filters.push(s.to_string()),
        }
    }
    o
}

/// One measured case: a name for the report and how to run it once.
struct Case {
    name: String,
    kind: Kind,
}

enum Kind {
    PingPong {
        primitive: &'static str,
        imp: &'static str,
        pinned: bool,
    },
    Queue {
        imp: &'static str,
        t: usize,
        pinned: bool,
    },
    Lock {
        imp: &'static str,
        t: usize,
        pinned: bool,
    },
}

#[derive(Default)]
struct Acc {
    round_trips: Vec<u64>,
    elapsed: Vec<Duration>,
    voluntary: u64,
    involuntary: u64,
    units: u64,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn main() {
    let o = options();
    let suffix = state_suffix();
    let mut cases = Vec::new();
    for primitive in pingpong::PRIMITIVES {
        for pinned in [false, true] {
            for imp in pingpong::impls(primitive) {
                let p = if pinned { "_1cpu" } else { "" };
                cases.push(Case {
                    name: format!("{primitive}_ping_pong{p}{suffix}/{imp}"),
                    kind: Kind::PingPong {
                        primitive,
                        imp,
                        pinned,
                    },
                });
            }
        }
    }
    for pinned in [false, true] {
        for t in [1usize, 2, 4] {
            for imp in queue::IMPLS {
                let p = if pinned { "_1cpu" } else { "" };
                cases.push(Case {
                    name: format!("condition_queue{p}{suffix}/{imp}/{t}"),
                    kind: Kind::Queue { imp, t, pinned },
                });
            }
        }
    }
    for pinned in [false, true] {
        for t in [2usize, 4] {
            for imp in ["pysync", "parking_lot", "std"] {
                let p = if pinned { "_1cpu" } else { "" };
                cases.push(Case {
                    name: format!("lock_ops{p}{suffix}/{imp}/{t}"),
                    kind: Kind::Lock { imp, t, pinned },
                });
            }
        }
    }
    cases.retain(|c| o.filters.is_empty() || o.filters.iter().any(|f| c.name.contains(f.as_str())));
    if cases.is_empty() {
        eprintln!("no case matches {:?}", o.filters);
        return;
    }

    let mut accs: Vec<Acc> = cases.iter().map(|_| Acc::default()).collect();
    // Warm-up: every case once, briefly, unrecorded.
    for c in cases.iter().filter(|_| o.warm_up) {
        run_once(c, (o.rounds / 10).max(100), (o.items / 10).max(10), false);
    }
    for rep in 0..o.reps {
        eprintln!("run {}/{} ({} cases)", rep + 1, o.reps, cases.len());
        for (c, acc) in cases.iter().zip(&mut accs) {
            let (elapsed, rts, v, i, units) = run_once(c, o.rounds, o.items, true);
            acc.elapsed.push(elapsed);
            acc.round_trips.extend(rts);
            acc.voluntary += v;
            acc.involuntary += i;
            acc.units += units;
        }
    }

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let mut json = String::from("{\n");
    let _ = writeln!(
        json,
        "  \"cpus\": {}, \"loadavg\": \"{load}\", \"reps\": {}, \"rounds\": {}, \"items\": {},\n  \"results\": [",
        cpu::allowed().len(),
        o.reps,
        o.rounds,
        o.items
    );
    println!("load average after the runs: {load}");
    println!(
        "\n{:<44} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "ping-pong (one round trip)", "mean", "p50", "p99", "max", "vcsw/rt", "icsw/rt"
    );
    let mut first = true;
    let mut queue_header = false;
    for (c, acc) in cases.iter().zip(&mut accs) {
        let units = acc.units.max(1) as f64;
        let v = acc.voluntary as f64 / units;
        let i = acc.involuntary as f64 / units;
        let entry = match c.kind {
            Kind::PingPong { .. } => {
                acc.round_trips.sort_unstable();
                let total: u64 = acc.round_trips.iter().sum();
                let mean = total as f64 / acc.round_trips.len().max(1) as f64;
                let (p50, p99, max) = (
                    percentile(&acc.round_trips, 0.50),
                    percentile(&acc.round_trips, 0.99),
                    *acc.round_trips.last().unwrap_or(&0),
                );
                println!(
                    "{:<44} {:>10} {:>10} {:>10} {:>10} {:>8.2} {:>8.2}",
                    c.name,
                    fmt_ns(mean),
                    fmt_ns(p50 as f64),
                    fmt_ns(p99 as f64),
                    fmt_ns(max as f64),
                    v,
                    i
                );
                format!(
                    "{{\"name\": \"{}\", \"kind\": \"round_trip\", \"mean_ns\": {mean:.1}, \"p50_ns\": {p50}, \"p99_ns\": {p99}, \"max_ns\": {max}, \"voluntary_per_unit\": {v:.4}, \"involuntary_per_unit\": {i:.4}}}",
                    c.name
                )
            }
            Kind::Queue { t, .. } | Kind::Lock { t, .. } => {
                if !queue_header {
                    queue_header = true;
                    println!(
                        "\n{:<44} {:>10} {:>14} {:>10} {:>10}",
                        "queue (per item), lock (per acquisition)",
                        "time/item",
                        "20k/producer",
                        "vcsw/item",
                        "icsw/item"
                    );
                }
                acc.elapsed.sort_unstable();
                let median = acc.elapsed[acc.elapsed.len() / 2];
                let units_per_run = acc.units as f64 / acc.elapsed.len() as f64;
                let per_item = median.as_nanos() as f64 / units_per_run;
                let per_20k = per_item * t as f64 * 20_000.0;
                println!(
                    "{:<44} {:>10} {:>14} {:>10.3} {:>10.3}",
                    c.name,
                    fmt_ns(per_item),
                    fmt_ns(per_20k),
                    v,
                    i
                );
                format!(
                    "{{\"name\": \"{}\", \"kind\": \"queue_item\", \"mean_ns\": {per_item:.1}, \"per_20k_ns\": {per_20k:.0}, \"voluntary_per_unit\": {v:.4}, \"involuntary_per_unit\": {i:.4}}}",
                    c.name
                )
            }
        };
        let _ = write!(json, "{}\n    {entry}", if first { "" } else { "," });
        first = false;
    }
    json.push_str("\n  ]\n}\n");
    if o.save {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        let dir = std::path::Path::new(&target).join("pysync-latency");
        std::fs::create_dir_all(&dir).expect("create the results folder");
        let path = dir.join(format!("latency{suffix}.json"));
        std::fs::write(&path, json).expect("write the results");
        println!("\nsaved {}", path.display());
    }
}

/// Runs `case` once: (elapsed, round trips, voluntary, involuntary, units),
/// where units are round trips or items moved.
fn run_once(
    case: &Case,
    rounds: u64,
    items: u64,
    record: bool,
) -> (Duration, Vec<u64>, u64, u64, u64) {
    match case.kind {
        Kind::PingPong {
            primitive,
            imp,
            pinned,
        } => {
            let r = cpu::maybe_one_cpu(pinned, || {
                pingpong::run_named(primitive, imp, rounds, record)
            });
            (r.elapsed, r.round_trips, r.voluntary, r.involuntary, rounds)
        }
        Kind::Lock { imp, t, pinned } => {
            // 20 acquisitions per queue item: the lock's are ~100x cheaper.
            let ops = items * 20;
            let (elapsed, v, i) = cpu::maybe_one_cpu(pinned, || lock_ops(imp, t, ops));
            (elapsed, Vec::new(), v, i, t as u64 * ops)
        }
        Kind::Queue { imp, t, pinned } => {
            let r = cpu::maybe_one_cpu(pinned, || queue::run_named(imp, t, items));
            (
                r.elapsed,
                Vec::new(),
                r.voluntary,
                r.involuntary,
                t as u64 * items,
            )
        }
    }
}

/// `t` threads each take the lock `ops` times around a short critical
/// section (`benches/lock.rs`'s `work`): (elapsed, voluntary, involuntary).
fn lock_ops(imp: &str, t: usize, ops: u64) -> (Duration, u64, u64) {
    fn work(x: &mut u64) {
        for _ in 0..4 {
            *x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
        }
    }
    let pysync_m = pysync::Mutex::new(0u64);
    let pl_m = parking_lot::Mutex::new(0u64);
    let std_m = std::sync::Mutex::new(0u64);
    let gate = std::sync::Barrier::new(t + 1);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..t)
            .map(|_| {
                s.spawn(|| {
                    gate.wait();
                    let cs = common::thread_context_switches();
                    for _ in 0..ops {
                        match imp {
                            "pysync" => work(&mut pysync_m.lock()),
                            "parking_lot" => work(&mut pl_m.lock()),
                            _ => work(&mut std_m.lock().unwrap()),
                        }
                    }
                    let end = common::thread_context_switches();
                    (end.0 - cs.0, end.1 - cs.1)
                })
            })
            .collect();
        gate.wait();
        let start = std::time::Instant::now();
        let (mut v, mut i) = (0, 0);
        for h in hs {
            let (a, b) = h.join().unwrap();
            v += a;
            i += b;
        }
        (start.elapsed(), v, i)
    })
}
