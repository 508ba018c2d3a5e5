#!/bin/sh
# perf/node/run.sh - start a 3-node zincd cluster on 127.0.0.1 (kernel UDP, lab idle policy), run
# zn-node-bench through libzinc against it, stop it; once with [wal] sync = fsync and once with
# sync = memory, side by side. Usage: perf/node/run.sh [BUILD_DIR] [N]
set -eu
BUILD=${1:-build}
N=${2:-2000}
ZINCD=$BUILD/node/zincd
BENCH=$BUILD/perf/node/zn-node-bench
DIR=$(mktemp -d /tmp/zn-node-bench-XXXXXX)
PIDS=""
cleanup() { for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM
BASE=$((23000 + $$ % 1000 * 3))
HOSTS=127.0.0.1:$((BASE+1)),127.0.0.1:$((BASE+2)),127.0.0.1:$((BASE+3))
for mode in fsync memory; do
  PIDS=""
  for i in 1 2 3; do
    cat > "$DIR/n$i.ini" <<EOC
[node]
id = $i
data_dir = $DIR/$mode-n$i
[cluster]
members = 1@127.0.0.1:$((BASE+1)), 2@127.0.0.1:$((BASE+2)), 3@127.0.0.1:$((BASE+3))
[net]
listen_port = $((BASE+i))
idle = lab
[wal]
sync = $mode
EOC
    "$ZINCD" -c "$DIR/n$i.ini" > "$DIR/$mode-n$i.log" 2>&1 &
    PIDS="$PIDS $!"
  done
  # wait for a leader every node agrees on
  for t in $(seq 1 100); do
    if grep -qs '"ready": true' "$DIR/$mode-n1/status.json" "$DIR/$mode-n2/status.json" \
         "$DIR/$mode-n3/status.json" && [ "$(grep -h -o '"leader": [0-9]' "$DIR"/$mode-n*/status.json | sort -u | wc -l)" = 1 ]; then
      break
    fi
    sleep 0.1
  done
  L=$(grep -h -o '"leader": [0-9]' "$DIR/$mode-n1/status.json" | grep -o '[0-9]')
  F=$((L % 3 + 1))
  echo "== wal.sync = $mode: session on the leader (node $L), N=$N"
  "$BENCH" "127.0.0.1:$((BASE+L))" "$N" 16 2>/dev/null
  echo "== wal.sync = $mode: session on a follower (node $F), N=$N"
  "$BENCH" "127.0.0.1:$((BASE+F))" "$N" 16 2>/dev/null
  for p in $PIDS; do kill "$p"; done
  wait $PIDS 2>/dev/null || true
done
