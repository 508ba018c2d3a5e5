#!/bin/bash
# Wake-from-idle at cluster level (never part of a timed test). Usage, from the repository:
#   perf/dataplane/wake-cluster.sh [build-dir] [other-build-dir] [rounds] [targets] [wal-sync]
# Three zincd on 127.0.0.1 (kernel UDP, idle = lab, wal.sync = memory by default), then zinc-perf (target
# zinc, open loop, 50 ops/s, 250 requests) getData and setData with the session on the leader
# and on a follower: at 20 ms between requests every node is in its deep sleep when a request
# arrives, so the figures show what waking costs. With a second build dir (e.g. one built from
# an older commit) both are measured alternately, `rounds` times each, with the zinc-perf of the
# first build. Each line also gives how the measured node's lcore woke during it
# (zinc_lcore_wakes_total grown by reason: a WAL completion or a ZooKeeper-port request that ends
# a sleep is a `kick`, as are control messages). targets: "zinc" (default: the native protocol over kernel UDP), "zookeeper"
# (the ZooKeeper TCP port, [mgmt] zk_port: its requests reach the lcore through the port
# thread's ring, zkwake) or both ("zinc zookeeper"). wal-sync: "memory" (default) or "fsync":
# every write's WAL batch is really fdatasynced (data directories under ${TMPDIR:-/tmp}, which
# must be a real disk, not tmpfs), so a setData waits for a sync that ends while the lcore
# sleeps (walwake: the syncer's completion wakes it).
set -u
B1=${1:-build}
B2=${2:-}
ROUNDS=${3:-2}
TARGETS=${4:-zinc}
WAL_SYNC=${5:-memory}
case "$WAL_SYNC" in memory | fsync) ;; *) echo "wal-sync: memory or fsync"; exit 1 ;; esac
ZP=$B1/perf/zinc-perf/zinc-perf
[ -x "$ZP" ] || { echo "build first: $ZP missing"; exit 1; }
# The node's zinc_lcore_wakes_total by reason ("timer=N kick=N fd=N cancelled=N"), from /metrics.
wakes() { # metrics port
    curl -s "http://127.0.0.1:$1/metrics" | sed -n \
        's/^zinc_lcore_wakes_total{.*reason="\([a-z]*\)".*} \([0-9]*\).*/\1=\2/p' | tr '\n' ' '
}
wake_diff() { # before after: how each reason grew during the measurement ("kick+N ...")
    local kv r out=""
    for kv in $2; do
        r=${kv%%=*}
        out="$out $r+$((${kv#*=} - $(echo "$1" | tr ' ' '\n' | sed -n "s/^$r=//p" | head -1)))"
    done
    echo "${out# }"
}
run() { # build-dir
    local build=$1 d base pids=() t leader follower
    d=$(mktemp -d "${TMPDIR:-/tmp}/zn-wakec.XXXXXX")
    base=$((27000 + RANDOM % 1000 * 3))
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
sync = $WAL_SYNC
[mgmt]
zk_port = $((base + 10 + i))
metrics_port = $((base + 20 + i))
EOC
        "$build/node/zincd" -c "$d/n$i.ini" >"$d/n$i.log" 2>&1 &
        pids+=($!)
    done
    for t in $(seq 1 300); do # a leader every node agrees on (30 s at most)
        if grep -qs '"ready": true' "$d"/n1/status.json "$d"/n2/status.json "$d"/n3/status.json &&
            [ "$(grep -h -o '"leader": [0-9]' "$d"/n*/status.json | sort -u | wc -l)" = 1 ]; then
            break
        fi
        sleep 0.1
    done
    leader=$(grep -h -o '"leader": [0-9]' "$d/n1/status.json" | grep -o '[0-9]')
    if [ -z "$leader" ] || [ "$leader" = 0 ]; then
        echo "no leader in 30 s"; tail -3 "$d"/n*.log
    else
        follower=$((leader % 3 + 1))
        for tg in $TARGETS; do
            for w in get set; do
                for who in leader follower; do
                    n=$leader; [ $who = follower ] && n=$follower
                    port=$((base + n)); [ "$tg" = zookeeper ] && port=$((base + 10 + n))
                    before=$(wakes $((base + 20 + n)))
                    echo "WAKE_CLUSTER build=$build wal=$WAL_SYNC target=$tg op=$w session=$who $("$ZP" -t "$tg" \
                        -s 127.0.0.1:$port -w $w -r 50 -n 250 -d 6s --warmup-ops 10 2>/dev/null |
                        awk '/^(get|set) /{printf "p50=%s p90=%s p99=%s p999=%s us", $5, $6, $7, $8}')" \
                        "node-wakes $(wake_diff "$before" "$(wakes $((base + 20 + n)))")"
                done
            done
        done
    fi
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$d"
}
echo "# machine: $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg); wal.sync = $WAL_SYNC; data: $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2{print $2}')"
for r in $(seq "$ROUNDS"); do
    run "$B1"
    [ -n "$B2" ] && run "$B2"
done
