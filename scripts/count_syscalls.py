#!/usr/bin/env python3
"""Count syscalls and context switches per round trip / per item, case by case.

    python3 scripts/count_syscalls.py                         # every case of the latency bench
    python3 scripts/count_syscalls.py condition_queue_1cpu    # cases whose name contains a filter
    python3 scripts/count_syscalls.py --rounds 20000 --items 20000 --reps 3 condition_ping_pong

Runs `cargo bench --bench latency` (built first, once) under `perf stat` once
per case (one run of that case, no warm-up) and divides the counts by the
case's units (round trips; items moved: T producers x items; lock
acquisitions: T threads x 20 x items):

  futex_wait   FUTEX_WAIT / FUTEX_WAIT_BITSET calls (private), sleeping or not
  futex_wake   FUTEX_WAKE calls (private)
  yield        sched_yield calls (what parking_lot_core's SpinWait does after
               its first three spins)
  cs           context switches of the process (perf's software event)
  vcsw, icsw   voluntary / involuntary context switches of the measured
               threads (getrusage, from the bench itself)

Counts are robust to a loaded machine where timings are not. The time column
is the bench's own (an indication only). perf (Debian: linux-perf) must be
allowed to read syscall tracepoints (root, or perf_event_paranoid <= -1).
Python 3 standard library only.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

EVENTS = [
    ("futex_wait", "syscalls:sys_enter_futex", "op == 128 || op == 137"),
    ("futex_wake", "syscalls:sys_enter_futex", "op == 129 || op == 138"),
    ("yield", "syscalls:sys_enter_sched_yield", None),
    ("cs", "context-switches", None),
]


def bench_binary():
    out = subprocess.run(
        ["cargo", "bench", "--bench", "latency", "--no-run", "--message-format", "json"],
        check=True, capture_output=True, text=True,
    ).stdout
    for line in out.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("target", {}).get("name") == "latency":
            if msg.get("executable"):
                return msg["executable"]
    sys.exit("could not find the latency bench binary")


def case_names(filters):
    """The latency bench's case names, built as benches/latency.rs builds them."""
    names = []
    prims = {"condition": ["pysync_condition_lock", "std", "parking_lot"]}
    for p in ["condition", "event", "semaphore", "barrier"]:
        for pin in ["", "_1cpu"]:
            for imp in prims.get(p, ["pysync", "std", "parking_lot"]):
                names.append(f"{p}_ping_pong{pin}/{imp}")
    for pin in ["", "_1cpu"]:
        for t in [1, 2, 4]:
            for imp in ["pysync", "std", "parking_lot"]:
                names.append(f"condition_queue{pin}/{imp}/{t}")
    for pin in ["", "_1cpu"]:
        for t in [2, 4]:
            for imp in ["pysync", "parking_lot", "std"]:
                names.append(f"lock_ops{pin}/{imp}/{t}")
    suffix = os.environ.get("PYSYNC_BENCH_STATE")
    if suffix:
        names = [re.sub(r"^([^/]+)", r"\1_" + suffix, n) for n in names]
    return [n for n in names if not filters or any(f in n for f in filters)]


def count(binary, name, rounds, items):
    cmd = ["perf", "stat", "-x", ","]
    for _, ev, flt in EVENTS:
        cmd += ["-e", ev] + (["--filter", flt] if flt else [])
    with tempfile.TemporaryDirectory() as d:
        out_json = Path(d)
        env = dict(os.environ, CARGO_TARGET_DIR=str(out_json))
        cmd += ["--", binary, "--reps", "1", "--no-warm-up", "--rounds", str(rounds), "--items", str(items), name]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if p.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr}")
        counts = []
        for line in p.stderr.splitlines():
            fields = line.split(",")
            if len(fields) > 3 and fields[2] in {ev for _, ev, _ in EVENTS}:
                counts.append(float(fields[0]) if fields[0] not in ("", "<not counted>") else float("nan"))
        files = list(out_json.rglob("latency*.json"))
        results = json.loads(files[0].read_text())["results"] if files else []
    res = next((r for r in results if r["name"] == name), None)
    if res is None or len(counts) != len(EVENTS):
        sys.exit(f"no result for {name}:\n{p.stdout}\n{p.stderr}")
    m = re.search(r"/(\d+)$", name)
    units = rounds if res["kind"] == "round_trip" else int(m.group(1)) * items
    if name.startswith("lock_ops"):
        units *= 20  # benches/latency.rs: 20 acquisitions per queue item
    return res, [c / units for c in counts]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("filters", nargs="*")
    ap.add_argument("--rounds", type=int, default=10000, help="round trips per ping-pong run")
    ap.add_argument("--items", type=int, default=5000, help="items per producer per queue run")
    ap.add_argument("--reps", type=int, default=1, help="runs per case (each printed)")
    args = ap.parse_args()
    binary = bench_binary()
    names = case_names(args.filters)
    print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")
    head = f"{'case':<44} {'time/unit':>10} " + " ".join(f"{n:>10}" for n, _, _ in EVENTS) + f" {'vcsw':>8} {'icsw':>8}"
    print(head)
    for name in names:
        for _ in range(args.reps):
            res, per = count(binary, name, args.rounds, args.items)
            t = res["mean_ns"]
            ts = f"{t / 1000:.2f} µs" if t >= 1000 else f"{t:.0f} ns"
            print(
                f"{name:<44} {ts:>10} " + " ".join(f"{c:>10.3f}" for c in per)
                + f" {res['voluntary_per_unit']:>8.3f} {res['involuntary_per_unit']:>8.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
