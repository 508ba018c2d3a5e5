#!/usr/bin/env bash
# tests/cluster/bigval.sh SCENARIO - large values end to end on a loopback lab (tools/lab --mode
# loopback: three zincd on kernel UDP, 127.0.0.1:PORT+i; no root needed). Driven by zn-bigval
# (tests/cluster/bigval.c): sizes 0, 1, 64 KiB, 256 KiB, 512 KiB, 1 MiB - 1 and 1 MiB created and
# set through a follower and through the leader, one byte over the limit refused (by libzinc and,
# with the client limit raised, by the node), and read back byte-exact through every node.
#
#   log       one follower is down during the writes and catches up from the log afterwards
#             (AppendEntries carrying 1 MiB entries); then 80 x 1 MiB setData in a row with the
#             default snapshot interval (more than the consensus core's 64 MiB byte window:
#             only a snapshot triggered by log bytes keeps proposals going)
#   snapshot  the same follower comes back after the leader compacted its log past it: it
#             catches up by a snapshot transfer that holds the large values
#   window    values above 1 MiB ([limits] data_bytes_max = 2M): 34 x 2 MiB setData in a row
#             through the leader (68 MiB, more than the consensus core's 64 MiB byte window;
#             proposals stop at half), then a new session and a small write. A compaction keeps
#             at most 16 MiB (7 of these entries) and the window fills again 10 entries later,
#             before the 16 applied entries the byte rule waits for: before the fix the leader
#             refused every proposal from then on (set 7 timed out, and so did every session
#             open: createSession is a log entry); now a snapshot starts while proposals are
#             refused (node/node_snapshot.c "refusing")
#
# Every wait is bounded (lab wait, applied index polled for 30 s) and fresh (status.json
# `time_ms` must advance past the moment we started waiting). Everything it made is removed on
# every exit path. Environment (set by meson): ZINCD, BIGVAL, LABC. ZN_CLUSTER_KEEP=1 keeps DIR.
set -u
SCEN=${1:?scenario}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_TOOL="$ROOT/tools/lab"
: "${ZINCD:=$ROOT/build/node/zincd}" "${BIGVAL:=$ROOT/build/tests/cluster/zn-bigval}"
: "${LABC:=$ROOT/build/tools/zn-labc}"
export ZINCD
for p in "$ZINCD" "$BIGVAL" "$LABC"; do
    [ -e "$p" ] || { echo "bigval/$SCEN: $p not built"; exit 1; }
done
DIR=$(mktemp -d "/tmp/zn-bigval-$SCEN-XXXXXX")
PORT=$((24000 + ($$ % 3000) * 10))
START=$(date +%s)

lab() { "$LAB_TOOL" "$@" --dir "$DIR"; }
bigval() { "$BIGVAL" "$@" 2> >(grep -v ' INFO  \[client\]' >&2); }
host() { echo "127.0.0.1:$((PORT + $1))"; }
field() { sed -n "s/.*\"$2\": \"\{0,1\}\([^\",}]*\)\"\{0,1\}[,}].*/\1/p" "$DIR/n$1/status.json" 2>/dev/null | head -1; }
fail() {
    echo "bigval/$SCEN: FAILED: $*"
    exit 1
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ $rc != 0 ] && [ -d "$DIR" ]; then
        echo "bigval/$SCEN: exit $rc; last log lines:"
        for i in 1 2 3; do [ -f "$DIR/n$i.log" ] && tail -4 "$DIR/n$i.log" | sed "s/^/  n$i: /"; done
        lab status 2>/dev/null | sed 's/^/  /'
    fi
    lab down >/dev/null 2>&1
    lab down >/dev/null 2>&1
    if [ -z "${ZN_CLUSTER_KEEP:-}" ]; then rm -rf "$DIR"; else echo "kept $DIR"; fi
    exit $rc
}
trap cleanup EXIT
trap 'echo "bigval/$SCEN: interrupted"; exit 124' INT TERM

# until node $2's applied index reaches node $1's commit, read from a status.json written after
# we started waiting (time_ms is the writer's realtime clock in ms)
wait_applied() {
    local l=$1 i=$2 since target t=0
    since=$(($(date +%s%3N)))
    until [ "$(field "$l" time_ms)" -gt "$since" ] 2>/dev/null; do
        t=$((t + 1))
        [ $t -lt 300 ] || fail "no fresh status.json from node $l"
        sleep 0.1
    done
    target=$(field "$l" commit)
    t=0
    until [ "$(field "$i" time_ms)" -gt "$since" ] 2>/dev/null &&
        [ "$(field "$i" applied)" -ge "$target" ] 2>/dev/null; do
        t=$((t + 1))
        [ $t -lt 300 ] || fail "node $i did not catch up to $target (at '$(field "$i" applied)')"
        sleep 0.1
    done
    echo "node $i caught up: applied $(field "$i" applied) >= node $l's commit $target"
}

case "$SCEN" in
log) SETS=() ;;
snapshot) SETS=(--set snapshot.interval_entries=32 --set snapshot.keep_entries=8) ;;
window) SETS=(--set limits.data_bytes_max=2M --set raft.election_timeout_ms=500 --set session.timeout_min_ms=1000) ;;
*) fail "unknown scenario" ;;
esac
if [ "$SCEN" = window ]; then
    # the 500 ms election timeout keeps a loaded machine from electing in the middle of 2 MiB
    # entries (perf/compare's lab does the same); the stall does not depend on it
    lab up --mode loopback --port "$PORT" "${SETS[@]}" >/dev/null || fail "lab up"
    L=$(lab wait --timeout 30) || fail "no leader after start"
    echo "lab up (loopback, data_bytes_max 2 MiB): leader node $L"
    others=""
    for i in 1 2 3; do [ "$i" = "$L" ] || others="$others,$(host "$i")"; done
    bigval "$(host "$L")$others" stream /window 34 2097152 ||
        fail "34 x 2 MiB in a row (the leader's log window never got room again?)"
    grep -h "log window full\|to free the log window" "$DIR"/n*.log | tail -2
    bigval "$(host "$L")$others" stream /after 3 16 || fail "a new session and a write after the stream"
    L2=$(lab wait --timeout 30) || fail "no leader after the stream"
    for i in 1 2 3; do [ "$i" = "$L2" ] || wait_applied "$L2" "$i"; done
    echo "bigval/$SCEN: 34 x 2 MiB set and read back, then a new session wrote ($(($(date +%s) - START)) s)"
    exit 0
fi
lab up --mode loopback --port "$PORT" "${SETS[@]}" >/dev/null || fail "lab up"
L=$(lab wait --timeout 30) || fail "no leader after start"
F=$((L % 3 + 1))
D=$(((L + 1) % 3 + 1))
echo "lab up (loopback): $(host 1),$(host 2),$(host 3), leader node $L"

lab kill "$D" || fail "kill node $D"
echo "node $D (follower) is down during the writes"
L=$(lab wait --timeout 30 --except "$D") || fail "no leader with node $D down"
for i in 1 2 3; do [ "$i" = "$L" ] || [ "$i" = "$D" ] || F=$i; done
bigval "$(host "$F")" write /via-follower || fail "writes through follower node $F"
bigval "$(host "$L")" write /via-leader || fail "writes through leader node $L"
if [ "$SCEN" = snapshot ]; then
    # enough small writes for the leader to compact its log past node $D
    "$LABC" "$(host "$L"),$(host "$F")" load /pad 80 30 "$DIR/acked" >/dev/null 2>&1 ||
        fail "padding writes"
    sleep 0.5 # status.json every 200 ms
    FIRST=$(field "$L" first_index)
    echo "leader node $L keeps log entries from index $FIRST; node $D stopped at $(field "$D" last_index)"
    [ "$FIRST" -gt $(($(field "$D" last_index) + 1)) ] 2>/dev/null ||
        fail "the leader's log was not compacted past node $D"
fi
for p in /via-follower /via-leader; do
    bigval "$(host "$L"),$(host "$F")" verify $p || fail "read back $p"
done
lab start "$D" || fail "restart node $D"
L2=$(lab wait --timeout 30) || fail "no leader after the restart"
wait_applied "$L2" "$D"
if [ "$SCEN" = snapshot ]; then
    grep -q "receiving snapshot" "$DIR/n$D.log" || fail "node $D caught up without a snapshot transfer"
    grep -h "receiving snapshot\|installed" "$DIR/n$D.log" | tail -2
fi
for p in /via-follower /via-leader; do
    bigval "$(host 1),$(host 2),$(host 3)" verify $p || fail "read back $p after the catch-up"
done
if [ "$SCEN" = log ]; then
    bigval "$(host "$F"),$(host "$L")" stream /stream 80 || fail "80 x 1 MiB in a row"
    grep -h "snapshot .* is durable" "$DIR"/n*.log | tail -1
    L3=$(lab wait --timeout 30) || fail "no leader after the stream"
    for i in 1 2 3; do [ "$i" = "$L3" ] || wait_applied "$L3" "$i"; done
fi
echo "bigval/$SCEN: 2 x 7 values up to 1 MiB (+1 refused) written via follower and leader," \
    "read byte-exact from all 3 nodes after node $D's catch-up ($(($(date +%s) - START)) s)"
