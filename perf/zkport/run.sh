#!/usr/bin/env bash
# perf/zkport/run.sh - the same ZooKeeper client (zinc-perf --target zookeeper, libzookeeper-mt)
# against zinc's ZooKeeper TCP port (three zincd on 127.0.0.1) and, with --zookeeper, against a
# three-node Apache ZooKeeper ensemble (perf/zk-ensemble), in one run, side by side.
#
#   perf/zkport/run.sh [--build DIR] [--zookeeper] [--duration T] [--sync fsync|memory]
#
# Workloads: set and get with 16-byte values, 1 session at concurrency 1 (latency) and
# 4 sessions at concurrency 32 (throughput). Prints zinc-perf's summary line of each run.
# Everything is started in a temp folder and stopped (by recorded pid) at exit. Numbers taken
# on a machine shared with other jobs are noisy: compare ratios from the same run only.
set -euo pipefail
BUILD=build
WITH_ZK=0
DURATION=5s
SYNC=fsync
while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --zookeeper) WITH_ZK=1; shift ;;
    --duration) DURATION=$2; shift 2 ;;
    --sync) SYNC=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ZINCD=$ROOT/$BUILD/node/zincd
PERF=$ROOT/$BUILD/perf/zinc-perf/zinc-perf
DIR=$(mktemp -d /tmp/zn-zkport-perf-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "$WITH_ZK" = 1 ]; then "$ROOT/perf/zk-ensemble" stop --dir "$DIR/zk" >/dev/null 2>&1 || true; fi
    rm -rf "$DIR"
}
trap cleanup EXIT
BASE=$((26000 + ($$ % 500) * 8))
SERVERS=""
for i in 1 2 3; do
    cat > "$DIR/n$i.ini" <<EOT
[node]
id = $i
data_dir = $DIR/n$i
[cluster]
members = 1@127.0.0.1:$((BASE + 1)), 2@127.0.0.1:$((BASE + 2)), 3@127.0.0.1:$((BASE + 3))
[net]
listen_port = $((BASE + i))
idle = lab
[wal]
sync = $SYNC
[mgmt]
zk_port = $((BASE + 4 + i))
EOT
    "$ZINCD" -c "$DIR/n$i.ini" > "$DIR/n$i.log" 2>&1 &
    PIDS+=($!)
    SERVERS+="${SERVERS:+,}127.0.0.1:$((BASE + 4 + i))"
done
# Wait (bounded) for a fresh ready status on every node.
for _ in $(seq 1 200); do
    ok=0
    for i in 1 2 3; do grep -q '"ready": true' "$DIR/n$i/status.json" 2>/dev/null && ok=$((ok + 1)); done
    [ $ok = 3 ] && break
    sleep 0.1
done
[ $ok = 3 ] || { echo "run.sh: zinc not ready"; tail -5 "$DIR"/n*.log; exit 1; }

run() { # label servers args...
    local label=$1 servers=$2
    shift 2
    "$PERF" run -t zookeeper -s "$servers" --label "$label" -d "$DURATION" -n 10M \
        --warmup 1s "$@" 2>&1 | grep -E "^(set|get) " | sed "s|^|$label  |"
}
echo "== zinc ZooKeeper port (wal.sync = $SYNC), servers $SERVERS"
run zinc-zkport-set-c1 "$SERVERS" -w set --sessions 1 -c 1
run zinc-zkport-get-c1 "$SERVERS" -w get --sessions 1 -c 1
run zinc-zkport-set-c32 "$SERVERS" -w set --sessions 4 -c 32
run zinc-zkport-get-c32 "$SERVERS" -w get --sessions 4 -c 32
if [ "$WITH_ZK" = 1 ]; then
    "$ROOT/perf/zk-ensemble" start --dir "$DIR/zk" --base-port $((BASE + 100)) >/dev/null
    ZK=$(for n in 1 2 3; do printf '127.0.0.1:%d,' $((BASE + 100 + n)); done)
    ZK=${ZK%,}
    echo "== Apache ZooKeeper 3.8 ensemble, servers $ZK"
    run zookeeper-set-c1 "$ZK" -w set --sessions 1 -c 1
    run zookeeper-get-c1 "$ZK" -w get --sessions 1 -c 1
    run zookeeper-set-c32 "$ZK" -w set --sessions 4 -c 32
    run zookeeper-get-c32 "$ZK" -w get --sessions 4 -c 32
fi
