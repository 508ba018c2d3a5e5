#!/usr/bin/env bash
# tests/compat/run.sh - the compat suite: is zinc's ZooKeeper TCP port (zincd [mgmt] zk_port)
# ZooKeeper, as seen by ZooKeeper's own clients? (issue 10; docs/compatibility.md "Conformance
# results")
#
# One Apache ZooKeeper 3.8 ensemble (perf/zk-ensemble, Debian's `zookeeper`, 3 nodes on loopback)
# and one zinc cluster (tools/lab --mode loopback, 3 zincd with zk_port) are started side by side
# for the whole run, then:
#   1. conformance.py (raw jute, every opcode) twice against ZooKeeper: the two transcripts must be
#      identical - that proves the normalization (zxids, sessions, times) hides only what varies
#      (up to 4 runs are made to find two consecutive identical ones: a loaded machine can stall
#      a JVM long enough to abort one run);
#   2. conformance.py against zinc, diffed with ZooKeeper's transcript;
#   3. zkcli.py (zkCli batch mode, one JVM) against both, diffed;
#   4. recipes.py (kazoo lock/election/barrier/counter/party/queue, 4 concurrent clients) against
#      ZooKeeper (shows the checks are sound) and against zinc.
# A zinc-vs-ZooKeeper diff must be empty, or equal to tests/compat/expected/<part>.diff - each
# hunk of which is justified in docs/compatibility.md. Transcripts of a failed run are kept.
#
# Exit 77 (skip) only when java is missing (no ZooKeeper can run); everything else tools/deps.sh
# installs, so its absence is a failure. Environment: ZINCD (meson sets it), COMPAT_KEEP=1 keeps
# the folder, COMPAT_PARTS="conformance zkcli recipes" picks parts.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
: "${ZINCD:=$ROOT/build/node/zincd}"
export ZINCD
PY=/usr/bin/python3 # Debian's python3, where python3-kazoo lives
ENSEMBLE="$ROOT/perf/zk-ensemble"
LAB="$ROOT/tools/lab"
PARTS=${COMPAT_PARTS:-conformance zkcli recipes}

say() { echo "compat: $*"; }
command -v java >/dev/null || {
    say "SKIP: no java (default-jre-headless), so no Apache ZooKeeper to compare with"
    exit 77
}
for f in /usr/share/java/zookeeper.jar /usr/share/zookeeper/bin/zkCli.sh "$ZINCD"; do
    [ -e "$f" ] || { say "FAILED: $f missing (make deps / make build)"; exit 1; }
done
$PY -c 'import kazoo' 2>/dev/null || { say "FAILED: python3-kazoo missing (make deps)"; exit 1; }

DIR=$(mktemp -d /tmp/zn-compat-XXXXXX)
FAILS=0
START=$SECONDS
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -f "$DIR/zk/ensemble.env" ] && "$ENSEMBLE" stop --dir "$DIR/zk" >/dev/null 2>&1
    [ -f "$DIR/lab/lab.env" ] && "$LAB" down --dir "$DIR/lab" >/dev/null 2>&1
    if [ "$rc" != 0 ] || [ -n "${COMPAT_KEEP:-}" ]; then
        say "transcripts and logs kept in $DIR"
    else
        rm -rf "$DIR"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'say interrupted; exit 124' INT TERM

port_free() { ! ss -Hltnu "sport = :$1" 2>/dev/null | grep -q .; }
ports_free() {
    local p
    for p in "$@"; do port_free "$p" || return 1; done
}

# ---- ZooKeeper and zinc, started side by side ---------------------------------------------------
start_zk() { # the JVM start-up is the slow part: it runs while zinc starts
    local try base
    for try in 1 2 3 4 5; do
        base=$((28000 + (RANDOM % 400) * 10)) # ports below the ephemeral range (32768)
        ports_free $((base + 1)) $((base + 2)) $((base + 3)) $((base + 101)) $((base + 102)) \
            $((base + 103)) $((base + 201)) $((base + 202)) $((base + 203)) || continue
        # TTL nodes need ZooKeeper's extended types; containers are reaped every second
        # (default: every minute) so the container/TTL checks finish in bounded time
        if JAVA_TOOL_OPTIONS="-Dzookeeper.extendedTypesEnabled=true -Dznode.container.checkIntervalMs=1000" \
            "$ENSEMBLE" start --dir "$DIR/zk" --base-port "$base" --heap-mb 256 --timeout 90 \
            >"$DIR/zk-start.log" 2>&1; then
            sed -n 's/^ZK_CONNECT=//p' "$DIR/zk-start.log" >"$DIR/zk.connect"
            return 0
        fi
        grep -q 'is in use' "$DIR/zk-start.log" || break
        rm -rf "$DIR/zk"
    done
    return 1
}

start_zinc() {
    local try udp zp
    for try in 1 2 3 4 5; do
        udp=$((20000 + (RANDOM % 700) * 10))
        zp=$((2700 + RANDOM % 100)) # zk ports ${zp}1..${zp}3: 27001..27993
        ports_free $((udp + 1)) $((udp + 2)) $((udp + 3)) "${zp}1" "${zp}2" "${zp}3" || continue
        # the same session timeout bounds as the ensemble (2 and 20 ticks of 2000 ms), and the
        # same container/TTL check interval (znode.container.checkIntervalMs=1000)
        "$LAB" up --mode loopback --dir "$DIR/lab" --port "$udp" --set "mgmt.zk_port=${zp}{id}" \
            --set session.timeout_min_ms=4000 --set session.timeout_max_ms=40000 \
            --set znode.container_check_interval_ms=1000 \
            >"$DIR/lab-start.log" 2>&1 || return 1
        echo "127.0.0.1:${zp}1,127.0.0.1:${zp}2,127.0.0.1:${zp}3" >"$DIR/zinc.connect"
        "$LAB" wait --dir "$DIR/lab" --timeout 60 >>"$DIR/lab-start.log" 2>&1 || return 1
        return 0
    done
    return 1
}

# True once every node of a connection string completes a ZooKeeper handshake (a fresh session
# each time, closed at once), bounded by $2 seconds.
wait_handshake() {
    $PY -c '
import sys, time
sys.path.insert(0, sys.argv[3])
import zkwire
hosts, bound = sys.argv[1].split(","), float(sys.argv[2])
deadline = time.monotonic() + bound
last = {}
for h in hosts:
    host, port = h.rsplit(":", 1)
    while True:
        try:
            c = zkwire.Conn(host, int(port), io_timeout_s=5.0)
            if c.session_id == 0:
                raise zkwire.ConnClosed("handshake refused (session 0)")
            c.call("closeSession")
            break
        except (OSError, zkwire.ConnClosed) as e:
            last[h] = str(e)
            if time.monotonic() > deadline:
                print("no ZooKeeper handshake from %s within %.0f s: %s" % (h, bound, last[h]))
                sys.exit(1)
            time.sleep(0.5)
' "$1" "$2" "$HERE"
}

start_zk &
ZK_PID=$!
start_zinc
ZINC_RC=$?
wait $ZK_PID
ZK_RC=$?
if [ $ZK_RC != 0 ]; then
    say "FAILED: the ZooKeeper ensemble did not start:"
    tail -n 20 "$DIR/zk-start.log"
    exit 1
fi
ZK=$(cat "$DIR/zk.connect")
say "ZooKeeper 3.8 ensemble at $ZK ($((SECONDS - START)) s after start)"
if [ $ZINC_RC != 0 ]; then
    say "FAILED: the zinc cluster did not start or elect a leader:"
    tail -n 20 "$DIR/lab-start.log"
    for i in 1 2 3; do tail -n 5 "$DIR/lab/n$i.log" 2>/dev/null | sed "s/^/  n$i: /"; done
    exit 1
fi
ZN=$(cat "$DIR/zinc.connect")
if ! wait_handshake "$ZN" 30; then
    say "FAILED: zincd does not answer the ZooKeeper protocol on [mgmt] zk_port ($ZN)"
    for i in 1 2 3; do tail -n 5 "$DIR/lab/n$i.log" 2>/dev/null | sed "s/^/  n$i: /"; done
    exit 1
fi
say "zinc cluster (3 zincd, loopback) with zk_port at $ZN"

# Compares zinc's transcript with ZooKeeper's: the diff must be empty or the documented one.
compare() { # part zk-file zinc-file
    local part=$1 expected="$HERE/expected/$1.diff" n
    if [ ! -s "$2" ] || [ ! -s "$3" ]; then
        say "$part: FAILED: no transcript to compare ($2 or $3 is missing or empty)"
        FAILS=$((FAILS + 1))
        return
    fi
    diff "$2" "$3" >"$DIR/$part.diff"
    n=$(grep -c '^[<>]' "$DIR/$part.diff")
    if [ ! -s "$DIR/$part.diff" ]; then
        say "$part: zinc = ZooKeeper ($(wc -l <"$2") transcript lines, 0 differences)"
    elif [ -f "$expected" ] && cmp -s "$expected" "$DIR/$part.diff"; then
        say "$part: zinc = ZooKeeper but for the $n documented line(s) of" \
            "tests/compat/expected/$part.diff ($(wc -l <"$2") transcript lines)"
    else
        say "$part: FAILED: zinc differs from ZooKeeper in $n line(s) (< ZooKeeper, > zinc):"
        head -n 80 "$DIR/$part.diff"
        if [ -f "$expected" ]; then
            say "$part: and that is not the documented difference (diff against expected):"
            diff "$expected" "$DIR/$part.diff" | head -n 40
        fi
        FAILS=$((FAILS + 1))
    fi
}

for part in $PARTS; do
    case $part in
    conformance)
        # ZooKeeper's reference: two consecutive runs with identical transcripts. A loaded
        # machine can stall the JVMs for many seconds (seen: a getChildren unanswered for 10 s
        # at load 12), which aborts one run; up to ZK_RUNS runs are made to find two that agree.
        # zinc itself runs once and is compared with that reference.
        ZK_RUNS=4
        zk_ref=""
        $PY "$HERE/conformance.py" "$ZK" "$DIR/conformance.zk1" || true
        for k in $(seq 2 $ZK_RUNS); do
            $PY "$HERE/conformance.py" "$ZK" "$DIR/conformance.zk$k" || true
            if diff "$DIR/conformance.zk$((k - 1))" "$DIR/conformance.zk$k" \
                >"$DIR/conformance.zkzk.diff"; then
                zk_ref="$DIR/conformance.zk$k"
                break
            fi
            say "conformance: ZooKeeper runs $((k - 1)) and $k differ (a stalled ZooKeeper" \
                "or broken normalization); diff:"
            head -n 12 "$DIR/conformance.zkzk.diff"
        done
        if [ -n "$zk_ref" ] && ! grep -q '^RUN ABORTED' "$zk_ref"; then
            say "conformance: two ZooKeeper runs give identical transcripts (normalization holds)"
        else
            say "conformance: FAILED: no two consecutive ZooKeeper runs of $ZK_RUNS agree" \
                "(normalization broken, or ZooKeeper keeps failing: see $DIR/zk)"
            FAILS=$((FAILS + 1))
            zk_ref="$DIR/conformance.zk1"
        fi
        $PY "$HERE/conformance.py" "$ZN" "$DIR/conformance.zinc" || FAILS=$((FAILS + 1))
        compare conformance "$zk_ref" "$DIR/conformance.zinc"
        ;;
    zkcli)
        $PY "$HERE/zkcli.py" "$ZN" "$DIR/zkcli.zinc" || FAILS=$((FAILS + 1))
        # ZooKeeper is the reference: one more run of it when the first did not complete or
        # differs from zinc's (a JVM stalled by a loaded machine); zinc runs once
        if ! $PY "$HERE/zkcli.py" "$ZK" "$DIR/zkcli.zk" ||
            ! cmp -s "$DIR/zkcli.zk" "$DIR/zkcli.zinc"; then
            say "zkcli: ZooKeeper's transcript did not complete or differs from zinc's: ZooKeeper again"
            mv "$DIR/zkcli.zk" "$DIR/zkcli.zk-first" 2>/dev/null
            $PY "$HERE/zkcli.py" "$ZK" "$DIR/zkcli.zk" || FAILS=$((FAILS + 1))
        fi
        compare zkcli "$DIR/zkcli.zk" "$DIR/zkcli.zinc"
        ;;
    recipes)
        say "recipes against ZooKeeper:"
        if ! timeout 300 $PY "$HERE/recipes.py" "$ZK"; then
            say "recipes against ZooKeeper failed once (a stalled JVM?): ZooKeeper again"
            timeout 300 $PY "$HERE/recipes.py" "$ZK" || FAILS=$((FAILS + 1))
        fi
        say "recipes against zinc:"
        timeout 300 $PY "$HERE/recipes.py" "$ZN" || FAILS=$((FAILS + 1))
        ;;
    *)
        say "unknown part '$part'"
        FAILS=$((FAILS + 1))
        ;;
    esac
done

say "$FAILS failure(s), $((SECONDS - START)) s"
[ "$FAILS" = 0 ]
