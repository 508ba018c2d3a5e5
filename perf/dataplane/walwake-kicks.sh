#!/bin/bash
# How the leader's lcore woke during 250 setData with a WAL that really syncs (never part of a
# timed test). Usage, from the repository (after a build): perf/dataplane/walwake-kicks.sh [build]
# Three zincd on 127.0.0.1 (kernel UDP, idle = lab, wal.sync = fsync, data under ${TMPDIR:-/tmp}:
# a real disk), zinc-perf (of ./build) setData on the leader at 50 ops/s, and the leader's
# zinc_lcore_wakes_total{reason} scraped before and after: with walwake, a WAL completion that
# ends while the lcore sleeps is a `kick` (control messages are kicks too: compare with an old
# build, alternately). Prints the setData p50 and the counters.
set -u
build=${1:-build}
d=$(mktemp -d "${TMPDIR:-/tmp}/zn-wwk.XXXXXX")
base=$((29000 + RANDOM % 300 * 3))
pids=()
for i in 1 2 3; do
cat >"$d/n$i.ini" <<EOC
[node]
id = $i
data_dir = $d/n$i
[cluster]
members = 1@127.0.0.1:$((base + 1)), 2@127.0.0.1:$((base + 2)), 3@127.0.0.1:$((base + 3))
[net]
listen_port = $((base + i))
idle = lab
[wal]
sync = fsync
[mgmt]
metrics_port = $((base + 20 + i))
EOC
"$build/node/zincd" -c "$d/n$i.ini" >"$d/n$i.log" 2>&1 & pids+=($!)
done
for t in $(seq 1 300); do
  if grep -qs '"ready": true' "$d"/n1/status.json "$d"/n2/status.json "$d"/n3/status.json &&
     [ "$(grep -h -o '"leader": [0-9]' "$d"/n*/status.json | sort -u | wc -l)" = 1 ]; then break; fi; sleep 0.1; done
leader=$(grep -h -o '"leader": [0-9]' "$d/n1/status.json" | grep -o '[0-9]')
if [ -z "$leader" ] || [ "$leader" = 0 ]; then
    echo "no leader in 30 s"; tail -3 "$d"/n*.log
    for p in "${pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null; done; rm -rf "$d"; exit 1
fi
m() { curl -s "http://127.0.0.1:$((base + 20 + $1))/metrics" | grep '^zinc_lcore_wakes_total' | sed 's/^zinc_lcore_wakes_total{.*reason="\([a-z]*\)".*} /\1=/' | tr '\n' ' '; }
echo "build=$build leader=$leader wakes before: $(m $leader)"
build/perf/zinc-perf/zinc-perf -t zinc -s 127.0.0.1:$((base + leader)) -w set -r 50 -n 250 -d 6s --warmup-ops 10 2>/dev/null | awk '/^set /{print "set p50=" $5 " us"}'
echo "build=$build leader=$leader wakes after:  $(m $leader)"
for p in "${pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null; done; rm -rf "$d"
