#!/usr/bin/env bash
# perf/muxframes/run.sh - the memif lab (tools/lab --mode memif: zincd with one DPDK memif port
# per peer joined by node/ports_mux, clients through each node's kernel-UDP listener) with an OLD
# zincd (the mux encodes-then-copies) and a NEW one (send_frames passed through to the memif
# stacks), alternately in one run: OLD NEW OLD NEW ... For each: zn-node-bench (one libzinc
# session on the leader, closed loop: setData, getData, linearizable getData) and the CPU the
# three zincd used per request over the bench (utime+stime from /proc, all three together).
# Then the in-process mux bench (zn_muxframes_bench) of the NEW build.
#
#   perf/muxframes/run.sh OLD_BUILD NEW_BUILD [N] [ROUNDS] [VALUE_BYTES...]
#        (default N=2000, ROUNDS=2, values 16 4096; [wal] sync = memory: the fsync of the
#         setData would hide the dataplane)
#
# Never asserted by a test; on a shared machine compare OLD and NEW within one run only.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ $# -ge 2 ] || {
    echo "usage: $0 OLD_BUILD NEW_BUILD [N] [ROUNDS] [VALUE_BYTES...]" >&2
    exit 2
}
OLD=$1
NEW=$2
N=${3:-2000}
ROUNDS=${4:-2}
shift 4 2>/dev/null || shift $#
VALUES=("$@")
[ ${#VALUES[@]} -gt 0 ] || VALUES=(16 4096)
BENCH=$NEW/perf/node/zn-node-bench
for b in "$OLD/node/zincd" "$NEW/node/zincd" "$BENCH"; do
    [ -x "$b" ] || {
        echo "$b not built" >&2
        exit 1
    }
done
DIR=$(mktemp -d /tmp/zn-muxframes-bench-XXXXXX)
cleanup() {
    "$ROOT/tools/lab" down --dir "$DIR" >/dev/null 2>&1
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
HZ=$(getconf CLK_TCK)

cpu_ticks() { # pids -> summed utime+stime
    local s=0 p
    for p in "$@"; do
        s=$((s + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
    done
    echo "$s"
}

echo "== memif lab, 3 zincd, wal.sync=memory, N=$N per operation kind, $ROUNDS rounds of OLD then NEW"
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
    for which in OLD NEW; do
        if [ "$which" = OLD ]; then export ZINCD=$OLD/node/zincd; else export ZINCD=$NEW/node/zincd; fi
        "$ROOT/tools/lab" up --mode memif --dir "$DIR" --prefix zmf --subnet 10.78.0 \
            --port $((25000 + $$ % 1000 * 4)) --set "wal.sync=memory" >/dev/null || {
            echo "== round $r $which: lab up failed"
            continue
        }
        L=$("$ROOT/tools/lab" wait --dir "$DIR" --timeout 30) || {
            echo "== round $r $which: no leader"
            "$ROOT/tools/lab" down --dir "$DIR" >/dev/null
            continue
        }
        PIDS=$(cat "$DIR"/n1.pid "$DIR"/n2.pid "$DIR"/n3.pid)
        HL=$("$ROOT/tools/lab" hosts --dir "$DIR" | cut -d, -f"$L")
        sleep 1
        for v in "${VALUES[@]}"; do
            # shellcheck disable=SC2086
            T0=$(cpu_ticks $PIDS)
            OUT=$("$BENCH" "$HL" "$N" "$v" 2>&1)
            # shellcheck disable=SC2086
            T1=$(cpu_ticks $PIDS)
            echo "$OUT" | sed "s/^/round $r $which ${v}B  /"
            echo "round $r $which ${v}B  zincd cpu $(awk -v t=$((T1 - T0)) -v hz="$HZ" -v n="$N" \
                'BEGIN {printf "%.1f", t / hz * 1e6 / (3 * n)}') us per request (3 nodes together)"
        done
        "$ROOT/tools/lab" down --dir "$DIR" >/dev/null
    done
done
if [ -x "$NEW/perf/muxframes/zn_muxframes_bench" ]; then
    echo "== in-process mux over 2 net_ring stacks (NEW build)"
    "$NEW/perf/muxframes/zn_muxframes_bench" 20000
fi
