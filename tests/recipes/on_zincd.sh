#!/usr/bin/env bash
# Runs the recipes tests against a real three-node zincd cluster on 127.0.0.1 (kernel UDP
# transport, lab idle policy, fsync on): the cluster is started here in a temp folder, on free
# ports, and stopped and removed on every exit path.
#   on_zincd.sh ZINCD recipes TEST_ELECTION TEST_COORD TEST_PROCS ZN_MASTER_SLAVE
#   on_zincd.sh ZINCD kill TEST_KILL "ELECTION SIZES"   (participants as processes, kill -9/SIGSTOP)
set -uo pipefail
zincd=$1 mode=$2
dir=$(mktemp -d /tmp/zn-recipes-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# Three consecutive free UDP ports.
base=$(python3 - <<'PY'
import random, socket
for _ in range(200):
    b = random.randrange(10000, 32000)  # below the ephemeral range (32768+)
    socks = []
    try:
        for p in range(b, b + 3):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", p)); socks.append(s)
        print(b); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
)
[ -n "$base" ] || { echo "no free ports"; exit 1; }
members="1@127.0.0.1:$base, 2@127.0.0.1:$((base + 1)), 3@127.0.0.1:$((base + 2))"
for i in 1 2 3; do
    cat > "$dir/n$i.ini" <<INI
[node]
id = $i
data_dir = $dir/n$i
[cluster]
members = $members
[net]
listen_port = $((base + i - 1))
idle = lab
INI
    "$zincd" -c "$dir/n$i.ini" > "$dir/n$i.log" 2>&1 &
    pids+=($!)
done
# A leader, and every node ready, within 30 s.
for _ in $(seq 300); do
    n=$(cat "$dir"/n*/status.json 2>/dev/null | grep -c '"ready": *true')
    grep -q '"role": *"leader"' "$dir"/n*/status.json 2>/dev/null && [ "$n" = 3 ] && break
    sleep 0.1
done
grep -q '"role": *"leader"' "$dir"/n*/status.json 2>/dev/null || { echo "no leader"; tail -5 "$dir"/n*.log; exit 1; }
export ZN_TEST_CONNECT="127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
export ZN_TEST_CLUSTER_ID=1
export ZN_TEST_ZINCD_PIDS=$(IFS=,; echo "${pids[*]}")
echo "cluster: $ZN_TEST_CONNECT"
failed=0 passed=0
run() {
    if timeout 120 "$@" > "$dir/out" 2>&1; then
        passed=$((passed + 1)); echo "ok   $(basename "$1") ${*:2}"
        [ "$mode" = kill ] && grep -vE ' INFO | WARN ' "$dir/out"
    else
        failed=$((failed + 1)); echo "FAIL $(basename "$1") ${*:2}"; grep -vE ' INFO | WARN ' "$dir/out" | tail -20
    fi
}
if [ "$mode" = recipes ]; then
    election=$3 coord=$4 procs=$5 master_slave=$6
    for st in ring bully; do for n in 3 10 50; do run "$election" "$st" "$n"; done; done
    run "$election" bully-race 20
    for t in lock lockpause rwlock barrier queue group config; do run "$coord" "$t"; done
    run "$procs" "$master_slave"
else
    kill_exe=$3 sizes=$4
    for t in lock queue group barrier suspend; do run "$kill_exe" "$t"; done
    for st in ring bully; do for n in $sizes; do run "$kill_exe" election "$st" "$n"; done; done
fi
echo "recipes ($mode) on zincd: $passed passed, $failed failed"
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || { echo "a zincd died during the run"; tail -20 "$dir"/n*.log; failed=$((failed + 1)); break; }; done
[ "$failed" -eq 0 ]
