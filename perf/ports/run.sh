#!/usr/bin/env bash
# perf/ports/run.sh - the three labs side by side in one run: loopback (kernel UDP), netns
# (DPDK af_packet on veths, root only) and memif (DPDK memif link per node pair, clients through
# each node's kernel-UDP listener). For each: CPU used by the three idle zincd over 10 s (from
# /proc/<pid>/stat utime+stime), then zn-node-bench (one libzinc session, closed loop: setData,
# getData, linearizable getData) with the session on the leader and on a follower.
#
#   perf/ports/run.sh [BUILD_DIR] [N] [MODES...]     (default: build 2000 loopback netns memif)
#   SYNC=memory perf/ports/run.sh ...                  ([wal] sync for every lab; default fsync)
#
# Never asserted by a test; on a shared machine compare the modes within one run only.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$ROOT/build}
N=${2:-2000}
shift 2 2>/dev/null || shift $#
MODES=("$@")
[ ${#MODES[@]} -gt 0 ] || MODES=(loopback netns memif)
BENCH=$BUILD/perf/node/zn-node-bench
export ZINCD=$BUILD/node/zincd
DIR=$(mktemp -d /tmp/zn-ports-bench-XXXXXX)
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
        # fields 14 and 15 after the command name (which is in parentheses)
        s=$((s + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
    done
    echo "$s"
}

for mode in "${MODES[@]}"; do
    if [ "$mode" = netns ] && [ "$(id -u)" != 0 ]; then
        echo "== $mode: skipped (needs root)"
        continue
    fi
    "$ROOT/tools/lab" up --mode "$mode" --dir "$DIR" --prefix zpb --subnet 10.79.0 \
        --port $((24000 + $$ % 1000 * 4)) --set "wal.sync=${SYNC:-fsync}" >/dev/null || { echo "== $mode: lab up failed"; continue; }
    L=$("$ROOT/tools/lab" wait --dir "$DIR" --timeout 30) || { "$ROOT/tools/lab" down --dir "$DIR"; continue; }
    PIDS=$(cat "$DIR"/n1.pid "$DIR"/n2.pid "$DIR"/n3.pid)
    sleep 2 # let the election settle into heartbeats only
    # shellcheck disable=SC2086
    T0=$(cpu_ticks $PIDS)
    sleep 10
    # shellcheck disable=SC2086
    T1=$(cpu_ticks $PIDS)
    echo "== $mode: 3 idle zincd used $(awk -v t=$((T1 - T0)) -v hz="$HZ" 'BEGIN {printf "%.1f", t / hz / 10 * 100}')% of one core over 10 s (all three together)"
    HOSTS=$("$ROOT/tools/lab" hosts --dir "$DIR")
    F=$((L % 3 + 1))
    HL=$(echo "$HOSTS" | cut -d, -f"$L")
    HF=$(echo "$HOSTS" | cut -d, -f"$F")
    echo "== $mode (wal.sync=${SYNC:-fsync}): session on the leader (node $L, $HL), N=$N"
    "$BENCH" "$HL" "$N" 16 2>/dev/null
    echo "== $mode (wal.sync=${SYNC:-fsync}): session on a follower (node $F, $HF), N=$N"
    "$BENCH" "$HF" "$N" 16 2>/dev/null
    "$ROOT/tools/lab" down --dir "$DIR" >/dev/null
done
