#!/usr/bin/env python3
"""Turn criterion's saved results into docs/benchmarks.md and docs/benchmarks.svg.

    python3 scripts/bench_report.py            # report on what target/criterion holds
    python3 scripts/bench_report.py --run      # run `cargo bench` first
    python3 scripts/bench_report.py --run --bench lock -- --warm-up-time 0.2 --measurement-time 0.5

Python 3 standard library only.

Where the numbers come from
---------------------------
criterion 0.8 saves, for every benchmark, <criterion dir>/<bench path>/new/
  benchmark.json  {"group_id", "function_id", "value_str", "throughput", "full_id", ...}
  estimates.json  {"mean": {"point_estimate": ns, ...}, "median": {...}, ...}
The estimates are the time of one criterion iteration, in nanoseconds. Where a
benchmark declares a throughput of N elements, the report also shows time/N.

Naming convention (how measurements are paired)
-----------------------------------------------
A benchmark is  <group>/<impl>[/<parameter>]  (criterion's group, function
and parameter, e.g. `lock_contended/parking_lot/4`):
  * <group>     what is measured, `<primitive>_<case>` (`lock_uncontended`),
  * <impl>      whose implementation: a name starting with `pysync` is ours
                (`pysync`, `pysync_guard`, `pysync_mutex`); anything else is a
                peer (`std`, `parking_lot`, `handrolled`, ...),
  * <parameter> thread count, depth, ... (optional).
Every pysync measurement is compared with every peer measurement that has the
same group and parameter; ratio = pysync time / peer time (below 1: pysync is
faster). That is the whole rule.

Tails: criterion reports the mean and median of batches, which hide a slow
round trip now and then. `cargo bench --bench latency` (benches/latency.rs)
measures every round trip of the ping-pongs and the queue's counts, and saves
<target>/pysync-latency/latency[_<state>].json; when such files exist, the
report adds their mean / p50 / p99 / max per round trip and context switches
per round trip or item, with pysync's p99 over each peer's.

Machine states: benches run under scripts/busy_neighbour.sh (one other
process spinning) carry a `_busy` suffix on their group names, so they pair
among themselves and sit beside the quiet run's rows.

Tolerance: a benchmark without a function id (`c.bench_function("x", ..)`
outside a group) is split at its last `/` or `_` into group and impl when the
impl part is a known name (`pysync...`, `std`, `parking_lot`, `handrolled`,
`hand_rolled`); anything that still finds no partner is listed, with its time,
under "Unpaired measurements" rather than dropped.
"""

import argparse
import datetime
import html
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

KNOWN_PEERS = ["std", "parking_lot", "handrolled", "hand_rolled"]
MAX_SPAN = 3  # the chart's axis ends at 2**±MAX_SPAN
SUSPECT_NS_PER_OP = 1.0  # less than this per element is not a real measurement


def is_ours(impl):
    return impl.startswith("pysync")


def peer_order(impl):
    """Known peers first, in a fixed order; then the rest alphabetically."""
    return (KNOWN_PEERS.index(impl), "") if impl in KNOWN_PEERS else (len(KNOWN_PEERS), impl)


def split_id(group, function, value):
    """(group, impl, parameter) of one benchmark; impl is None if unknown."""
    if function:
        return group, function, value or ""
    for sep in ("/", "_"):
        head, _, tail = group.rpartition(sep)
        if head and (is_ours(tail) or tail in KNOWN_PEERS):
            return head, tail, value or ""
        # `lock_uncontended_parking_lot`: a known peer with `_` inside it.
        for peer in KNOWN_PEERS:
            if group.endswith(sep + peer):
                return group[: -len(sep + peer)], peer, value or ""
    return group, None, value or ""


def load(criterion_dir, stat):
    """Every benchmark under criterion_dir with its `stat` estimate (ns)."""
    results = []
    for bench_json in sorted(criterion_dir.rglob("new/benchmark.json")):
        estimates = bench_json.with_name("estimates.json")
        try:
            meta = json.loads(bench_json.read_text())
            est = json.loads(estimates.read_text())
            ns = float(est[stat]["point_estimate"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"skipping {bench_json.parent}: {e}", file=sys.stderr)
            continue
        group, impl, param = split_id(
            meta.get("group_id") or "", meta.get("function_id"), meta.get("value_str")
        )
        elements = None
        tp = meta.get("throughput") or {}
        if isinstance(tp, dict):
            elements = tp.get("Elements") or tp.get("ElementsAndBytes", {}).get("elements")
        results.append(
            {
                "id": meta.get("full_id") or str(bench_json.parent.parent.relative_to(criterion_dir)),
                "group": group,
                "impl": impl,
                "param": param,
                "ns": ns,
                "elements": elements,
                "mtime": estimates.stat().st_mtime,
            }
        )
    return results


def pair(results):
    """(pairs, unpaired): pairs are (ours, peer) with equal group and parameter."""
    cells = {}
    for r in results:
        if r["impl"] is not None:
            cells.setdefault((r["group"], r["param"]), []).append(r)
    pairs, paired_ids = [], set()
    for (group, param), rs in cells.items():
        ours = sorted((r for r in rs if is_ours(r["impl"])), key=lambda r: r["impl"])
        peers = sorted((r for r in rs if not is_ours(r["impl"])), key=lambda r: peer_order(r["impl"]))
        for o in ours:
            for p in peers:
                pairs.append((o, p))
                paired_ids.update((o["id"], p["id"]))
    pairs.sort(key=lambda op: (op[0]["group"], param_key(op[0]["param"]), op[0]["impl"], peer_order(op[1]["impl"])))
    unpaired = sorted((r for r in results if r["id"] not in paired_ids), key=lambda r: r["id"])
    return pairs, unpaired


def param_key(p):
    """Numeric parameters in numeric order (2, 4, 8, 16), others after."""
    try:
        return (0, float(p), "")
    except ValueError:
        return (1, 0.0, p)


def fmt_ns(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def suspect(r):
    return bool(r["elements"]) and r["ns"] / r["elements"] < SUSPECT_NS_PER_OP


def fmt_time(r):
    s = fmt_ns(r["ns"])
    if r["elements"]:
        s += f" ({fmt_ns(r['ns'] / r['elements'])}/op)"
    if suspect(r):
        s += " ⚠"
    return s


# Advance widths of DejaVu Sans (the usual fallback for `sans-serif`), in ems;
# a browser's Arial/Helvetica is narrower, so sizing by these never cuts text.
NARROW = set("ijl.,:;'|!()[]")
SEMI = set("frt -/")


def text_width(text, size=13):
    """Rendered width of `text` in px, generously estimated."""
    em = 0.0
    for ch in text:
        if ch in NARROW:
            em += 0.32
        elif ch in SEMI:
            em += 0.45
        elif ch in "mwMW×⚠":
            em += 0.98
        elif ch.isupper():
            em += 0.75
        else:
            em += 0.64
    return em * size


def label(o, p):
    param = f"/{o['param']}" if o["param"] else ""
    return f"{o['group']}{param}: {o['impl']} vs {p['impl']}"


def machine():
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    try:
        rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rustc = "rustc (unknown version)"
    return f"{os.cpu_count()} logical cores, {model}; {platform.system()} {platform.release()}; {rustc}"


def load_latency(target):
    """Entries of every <target>/pysync-latency/latency*.json, with the run's
    conditions: (runs, entries)."""
    runs, entries = [], []
    for f in sorted((target / "pysync-latency").glob("latency*.json")):
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            print(f"skipping {f}: {e}", file=sys.stderr)
            continue
        when = datetime.datetime.fromtimestamp(f.stat().st_mtime, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        runs.append(
            f"`{f.name}`: {when}, {data.get('cpus')} CPUs allowed, load average {data.get('loadavg')}, "
            f"{data.get('reps')} interleaved runs of {data.get('rounds')} round trips / {data.get('items')} items per producer"
        )
        entries += data.get("results", [])
    return runs, entries


def tails_markdown(runs, entries):
    """The round-trip tail table and the queue's per-item table."""
    if not entries:
        return []
    lines = [
        "",
        "## Tails and counts (`cargo bench --bench latency`)",
        "",
        "Every round trip of each ping-pong is timed (pooled over the runs); the queue's",
        "time per item is the median run's. Context switches per round trip or item are",
        "the measured threads' own (`getrusage`): voluntary = blocked in the kernel (a futex",
        "sleep), involuntary = preempted or gave the CPU away (`sched_yield` while another",
        "thread could run). Counts do not depend on the machine's load; times do.",
        "",
    ]
    lines += [f"- {r}" for r in runs]
    by_group = {}
    for e in entries:
        group, _, impl = e["name"].partition("/")
        by_group.setdefault(group, []).append((impl, e))
    rt = [(g, rows) for g, rows in by_group.items() if rows[0][1]["kind"] == "round_trip"]
    if rt:
        lines += [
            "",
            "| ping-pong | impl | mean | p50 | p99 | max | vcsw/rt | icsw/rt | p99 / peer's p99 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for group, rows in rt:
            peers = [(i, e) for i, e in rows if not is_ours(i)]
            for impl, e in rows:
                ratios = ""
                if is_ours(impl):
                    ratios = ", ".join(f"{e['p99_ns'] / max(pe['p99_ns'], 1):.2f} ({pi})" for pi, pe in peers)
                lines.append(
                    f"| {group} | {impl} | {fmt_ns(e['mean_ns'])} | {fmt_ns(e['p50_ns'])} | "
                    f"**{fmt_ns(e['p99_ns'])}** | {fmt_ns(e['max_ns'])} | {e['voluntary_per_unit']:.2f} | "
                    f"{e['involuntary_per_unit']:.2f} | {ratios} |"
                )
    q = [(g, rows) for g, rows in by_group.items() if rows[0][1]["kind"] == "queue_item"]
    if q:
        lines += [
            "",
            "| queue | impl | T | time/item | 20,000 items/producer | vcsw/item | icsw/item | time / peer's |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for group, rows in q:
            cells = {}
            for impl_t, e in rows:
                impl, _, t = impl_t.rpartition("/")
                cells.setdefault(t, []).append((impl, e))
            for t in sorted(cells, key=param_key):
                peers = [(i, e) for i, e in cells[t] if not is_ours(i)]
                for impl, e in cells[t]:
                    ratios = ""
                    if is_ours(impl):
                        ratios = ", ".join(f"{e['mean_ns'] / max(pe['mean_ns'], 1e-9):.2f} ({pi})" for pi, pe in peers)
                    lines.append(
                        f"| {group} | {impl} | {t} | {fmt_ns(e['mean_ns'])} | {fmt_ns(e['per_20k_ns'])} | "
                        f"{e['voluntary_per_unit']:.3f} | {e['involuntary_per_unit']:.3f} | {ratios} |"
                    )
    return lines


def loadavg():
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def markdown(pairs, unpaired, stat, results, tails=()):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `scripts/bench_report.py` on {now}.",
        "",
        f"- Machine: {machine()}",
    ]
    if results:
        t0 = min(r["mtime"] for r in results)
        t1 = max(r["mtime"] for r in results)
        day = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        lines.append(f"- Measurements taken between {day(t0)} and {day(t1)} (criterion's saved `new` results).")
    lines += [
        f"- Statistic: criterion's {stat} estimate of one iteration; `/op` divides by the",
        "  benchmark's declared throughput (elements per iteration).",
        "- Ratio = pysync time / peer time: **below 1, pysync is faster**.",
        "  Contended benchmarks at more threads than cores measure oversubscription.",
        "- Machine states: `<group>_1cpu` runs every thread of the benchmark pinned to one",
        "  CPU (`sched_setaffinity`, as a one-CPU container); `<group>_busy` ran beside one",
        "  other process spinning on a CPU (`scripts/busy_neighbour.sh`).",
        f"- Load average when this report was written: {loadavg()} (1, 5, 15 min). On a",
        "  shared machine, trust the context-switch counts below more than the times.",
        "- Where the time goes in the queue pattern and the one-CPU ping-pongs, and what",
        "  changed: [fast-where-users-are.md](fast-where-users-are.md).",
        "",
        "![ratios](benchmarks.svg)",
        "",
    ]
    if pairs:
        lines += [
            "| benchmark | parameter | pysync | time | peer | time | ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for o, p in pairs:
            ratio = o["ns"] / p["ns"]
            lines.append(
                f"| {o['group']} | {o['param'] or '–'} | {o['impl']} | {fmt_time(o)} "
                f"| {p['impl']} | {fmt_time(p)} | {ratio:.2f} |"
            )
    else:
        lines.append("No pysync measurement has a peer to compare with (see the naming convention in the script).")
    flagged = sorted({r["id"] for r in results if suspect(r)})
    if flagged:
        lines += [
            "",
            f"⚠ Implausible (under {SUSPECT_NS_PER_OP:g} ns per element, faster than one atomic operation): "
            + ", ".join(f"`{i}`" for i in flagged)
            + ". The benchmark's timing is probably broken (e.g. the clock started after the",
            "threads had already done the work); do not trust these rows.",
        ]
    lines += list(tails)
    if unpaired:
        lines += ["", "## Unpaired measurements", "", "| benchmark | time |", "|---|---|"]
        lines += [f"| {r['id']} | {fmt_time(r)} |" for r in unpaired]
    lines += hand_written_sections()
    return "\n".join(lines) + "\n"


# Sections measured by hand (runs across processes, reports of examples) live
# in docs/benchmarks.d/*.md and are appended verbatim, in file-name order, so a
# regenerated report never drops them.
SECTIONS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.d"


def hand_written_sections():
    out = []
    for f in sorted(SECTIONS.glob("*.md")):
        out += ["", f"<!-- from docs/benchmarks.d/{f.name}: edit it there -->", ""]
        out += f.read_text().rstrip("\n").split("\n")
    return out


def value_text(o, p, lg, span):
    """The ratio written beside a bar."""
    ratio = o["ns"] / p["ns"]
    if suspect(o) or suspect(p):
        return f"{ratio:.3g}× ⚠ implausible"
    return f"{ratio:.3g}×" + (" (clipped)" if abs(lg) > span else "")


def svg(pairs):
    """Horizontal bars of log2(ratio) around 1 (green: pysync faster)."""
    row, top, bar_w = 24, 70, 440
    logs = [math.log2(o["ns"] / p["ns"]) for o, p in pairs]
    # Axis from 1/2× to 2× at least, 1/8× to 8× at most: a wilder ratio (a
    # broken measurement, usually) is drawn clipped, with its true value.
    span = min(MAX_SPAN, math.ceil(max([1.0] + [abs(x) for x in logs])))
    values = [value_text(o, p, lg, span) for (o, p), lg in zip(pairs, logs)]
    # The label column fits the longest label; the right margin the longest
    # value written beside a bar that reaches the right edge.
    left = 16 + math.ceil(max([120.0] + [text_width(label(o, p)) for o, p in pairs]))
    right = 16 + math.ceil(max([80.0] + [text_width(v) for v in values]))
    width = left + bar_w + right
    height = top + row * max(len(pairs), 1) + 40
    x0 = left + bar_w / 2
    scale = (bar_w / 2) / span
    e = html.escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">'
        "pysync time / peer time (log scale)</text>",
        f'<text x="{width / 2}" y="42" text-anchor="middle" fill="#555">'
        "left of 1×: pysync faster (green); right: pysync slower (orange)</text>",
    ]
    # Grid at powers of two.
    for k in range(-span, span + 1):
        x = x0 + k * scale
        tick = f"{2 ** k:g}×" if k >= 0 else f"1/{2 ** -k}×"
        out.append(
            f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{height - 30}" '
            f'stroke="{"#333" if k == 0 else "#ddd"}" stroke-width="{1.5 if k == 0 else 1}"/>'
        )
        out.append(f'<text x="{x:.1f}" y="{height - 14}" text-anchor="middle" fill="#555">{tick}</text>')
    for i, ((o, p), lg, value) in enumerate(zip(pairs, logs, values)):
        y = top + i * row
        w = min(abs(lg), span) * scale
        x = x0 if lg >= 0 else x0 - w
        color = "#3a9d5d" if lg <= 0 else "#e08a2c"
        if suspect(o) or suspect(p):
            color = "#aaaaaa"  # see the ⚠ note in the table
        out.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{e(label(o, p))}</text>')
        out.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 7}" fill="{color}"/>')
        tx = x0 + w + 4 if lg >= 0 else x0 - w - 4
        anchor = "start" if lg >= 0 else "end"
        # Keep the value label inside the picture, off the label column.
        if lg < 0 and tx - text_width(value) < left:
            tx, anchor = x0 + 4, "start"
        out.append(f'<text x="{tx:.1f}" y="{y + 15}" text-anchor="{anchor}">{e(value)}</text>')
    if not pairs:
        out.append(f'<text x="{width / 2}" y="{top + 15}" text-anchor="middle">no paired measurements</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", action="store_true", help="run `cargo bench` first")
    ap.add_argument("--bench", action="append", default=[], help="with --run: only this bench target (repeatable)")
    ap.add_argument("--stat", choices=["median", "mean"], default="median", help="which estimate (default: median)")
    ap.add_argument("--criterion-dir", type=Path, help="default: $CARGO_TARGET_DIR/criterion or target/criterion")
    ap.add_argument("--out-dir", type=Path, default=Path("docs"), help="where to write benchmarks.md/.svg")
    ap.add_argument("criterion_args", nargs="*", help="after `--`: passed to criterion with --run")
    args = ap.parse_args()

    if args.run:
        cmd = ["cargo", "bench"] + [a for b in args.bench for a in ("--bench", b)]
        if args.criterion_args:
            cmd += ["--"] + args.criterion_args
        print("+", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True)

    target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
    crit = args.criterion_dir or target / "criterion"
    if not crit.is_dir():
        sys.exit(f"no criterion results in {crit} (run `cargo bench` or pass --run)")
    results = load(crit, args.stat)
    pairs, unpaired = pair(results)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    tails = tails_markdown(*load_latency(target))
    (args.out_dir / "benchmarks.md").write_text(markdown(pairs, unpaired, args.stat, results, tails))
    (args.out_dir / "benchmarks.svg").write_text(svg(pairs))
    print(
        f"{len(results)} measurements, {len(pairs)} comparisons, {len(unpaired)} unpaired -> "
        f"{args.out_dir / 'benchmarks.md'}, {args.out_dir / 'benchmarks.svg'}"
    )


if __name__ == "__main__":
    main()
