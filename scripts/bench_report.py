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


def markdown(pairs, unpaired, stat, results):
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
    if unpaired:
        lines += ["", "## Unpaired measurements", "", "| benchmark | time |", "|---|---|"]
        lines += [f"| {r['id']} | {fmt_time(r)} |" for r in unpaired]
    return "\n".join(lines) + "\n"


def svg(pairs):
    """Horizontal bars of log2(ratio) around 1 (green: pysync faster)."""
    row, top, left, bar_w, right = 24, 70, 360, 440, 90
    width = left + bar_w + right
    height = top + row * max(len(pairs), 1) + 40
    logs = [math.log2(o["ns"] / p["ns"]) for o, p in pairs]
    # Axis from 1/2× to 2× at least, 1/8× to 8× at most: a wilder ratio (a
    # broken measurement, usually) is drawn clipped, with its true value.
    span = min(MAX_SPAN, math.ceil(max([1.0] + [abs(x) for x in logs])))
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
    for i, ((o, p), lg) in enumerate(zip(pairs, logs)):
        y = top + i * row
        clipped = abs(lg) > span
        w = min(abs(lg), span) * scale
        x = x0 if lg >= 0 else x0 - w
        color = "#3a9d5d" if lg <= 0 else "#e08a2c"
        ratio = o["ns"] / p["ns"]
        if suspect(o) or suspect(p):
            color, clipped = "#aaaaaa", True  # see the ⚠ note in the table
        out.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{e(label(o, p))}</text>')
        out.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 7}" fill="{color}"/>')
        tx = x0 + w + 4 if lg >= 0 else x0 - w - 4
        anchor = "start" if lg >= 0 else "end"
        # Keep the value label inside the picture.
        if lg < 0 and tx < left + 110:
            tx, anchor = x0 + 4, "start"
        value = f"{ratio:.3g}×" + (" ⚠ implausible" if suspect(o) or suspect(p) else " (clipped)" if clipped else "")
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

    crit = args.criterion_dir or Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"
    if not crit.is_dir():
        sys.exit(f"no criterion results in {crit} (run `cargo bench` or pass --run)")
    results = load(crit, args.stat)
    pairs, unpaired = pair(results)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "benchmarks.md").write_text(markdown(pairs, unpaired, args.stat, results))
    (args.out_dir / "benchmarks.svg").write_text(svg(pairs))
    print(
        f"{len(results)} measurements, {len(pairs)} comparisons, {len(unpaired)} unpaired -> "
        f"{args.out_dir / 'benchmarks.md'}, {args.out_dir / 'benchmarks.svg'}"
    )


if __name__ == "__main__":
    main()
