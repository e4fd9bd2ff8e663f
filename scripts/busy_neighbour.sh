#!/usr/bin/env bash
# Runs a command beside one busy neighbour: another process that spins on
# the CPU the whole time (the third machine state of the queue and
# ping-pong benches: "2 CPUs, one other busy process").
#
#   scripts/busy_neighbour.sh cargo bench --bench queue
#   scripts/busy_neighbour.sh --pin 0 cargo bench --bench latency
#   BUSY_STATE=busy0 scripts/busy_neighbour.sh --pin 0 cargo bench --bench pingpong
#
# --pin CPU   pin the neighbour to that CPU (default: unpinned, the kernel
#             places it).
# The command runs with PYSYNC_BENCH_STATE=busy (or $BUSY_STATE), which the
# benches append to their group names (`condition_queue_busy/...`), so the
# results sit beside, not over, those of a quiet run. The neighbour starts
# after the build: build first (`cargo bench --no-run`) so it is not timed
# against the compiler.
set -euo pipefail

pin=""
if [[ "${1:-}" == "--pin" ]]; then
    pin="$2"
    shift 2
fi
if [[ $# -eq 0 ]]; then
    sed -n '2,18p' "$0"
    exit 2
fi

if [[ -n "$pin" ]]; then
    taskset -c "$pin" sh -c 'while :; do :; done' &
else
    sh -c 'while :; do :; done' &
fi
neighbour=$!
trap 'kill "$neighbour" 2>/dev/null || true' EXIT
echo "busy neighbour: pid $neighbour${pin:+ on CPU $pin}" >&2

PYSYNC_BENCH_STATE="${BUSY_STATE:-busy}" "$@"
