#!/usr/bin/env bash
# zk-mem.sh - Apache ZooKeeper's memory per znode on bench_store's tree, one command.
#
# Starts a standalone Apache ZooKeeper 3.8 (Debian 12's `zookeeper` package, started the way
# perf/zk-ensemble starts it: the JVM directly with zookeeper.jar and log4j) on 127.0.0.1 and a
# free port, in a fresh temp folder; zk_mem.py (next to this script) takes an empty-server
# baseline after forced full GCs, loads /b with N children /b/nodeNNNNNNNN holding 32-byte values
# in multi batches (kazoo), checks the count, measures again and prints bytes per znode by live
# heap, heap used after GC and RSS growth, with a per-class breakdown. The server and the folder
# are removed on exit, error or signal (only the pid this script started is signalled).
set -euo pipefail

PROG=zk-mem.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ZK_JAR=/usr/share/java/zookeeper.jar
PY=/usr/bin/python3 # Debian's python3 has python3-kazoo; a pyenv python3 on PATH may not

usage() {
    cat <<EOF
usage: $PROG [N] [--heap-mb M] [--jvm-opt OPT]... [--port P] [--batch B] [--timeout S]
          [--keep-dir]

Measures Apache ZooKeeper's bytes per znode for N znodes (default 1000000; 1..5000000) with
32-byte values under one parent, the tree perf/store/bench_store builds, so the figures compare
with bench_store's "memory for N znodes" line.
  --heap-mb M   JVM maximum heap, -Xmx (default 2048; 256..16384)
  --jvm-opt OPT  one more JVM option, appended (repeatable); e.g. -XX:MinHeapFreeRatio=5 and
                -XX:MaxHeapFreeRatio=10 show RSS with the heap shrunk near the live data
  --port P      client port on 127.0.0.1 (default: a free port chosen by the kernel)
  --batch B     creates per multi (default 500; 1..2000)
  --timeout S   bound on the load phase in seconds (default 1200); startup waits at most 90 s
  --keep-dir    keep the temp folder (zoo.cfg, zookeeper.log, gc.log) and print its path
JVM flags: -Xms64m -Xmx<M>m -XX:+UseG1GC (HotSpot's choice on this machine anyway; named so the
figures do not depend on the machine), -Djute.maxbuffer=8388608 (as zk-ensemble), unified GC log
to gc.log; compressed oops are on (heap < 32 GiB), as in any normal ZooKeeper deployment.
ZooKeeper: standalone, tickTime 2000, forceSync=no (the load is a memory measurement; disk
durability does not change the in-memory tree), snapshots and txn logs in the temp folder.
Needs: java (default-jre-headless), zookeeper, python3-kazoo (all in tools/debian-packages.txt);
no JDK tools (the diagnostic commands use HotSpot's attach socket directly).
Exit: 0 measured, 1 failed, 2 bad arguments, 130 interrupted.
EOF
}

die() {
    echo "$PROG: $*" >&2
    exit 1
}
bad() {
    echo "$PROG: $* (see --help)" >&2
    exit 2
}

N=1000000
HEAP=2048
PORT=
BATCH=500
TIMEOUT=1200
KEEP=0
EXTRA=()
npos=0
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help) usage; exit 0 ;;
    --heap-mb) [ $# -ge 2 ] || bad "--heap-mb needs a value"; HEAP=$2; shift 2 ;;
    --jvm-opt) [ $# -ge 2 ] || bad "--jvm-opt needs a value"; EXTRA+=("$2"); shift 2 ;;
    --port) [ $# -ge 2 ] || bad "--port needs a value"; PORT=$2; shift 2 ;;
    --batch) [ $# -ge 2 ] || bad "--batch needs a value"; BATCH=$2; shift 2 ;;
    --timeout) [ $# -ge 2 ] || bad "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
    --keep-dir) KEEP=1; shift ;;
    -*) bad "unknown option '$1'" ;;
    *)
        [ $npos -eq 0 ] || bad "unexpected argument '$1'"
        N=$1
        npos=1
        shift
        ;;
    esac
done
inrange() { [[ $2 =~ ^[0-9]+$ ]] && [ ${#2} -le 9 ] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] ||
    bad "$1 must be an integer in $3..$4, got '$2'"; }
inrange N "$N" 1 5000000
inrange --heap-mb "$HEAP" 256 16384
inrange --batch "$BATCH" 1 2000
inrange --timeout "$TIMEOUT" 1 86400
[ -z "$PORT" ] || inrange --port "$PORT" 1024 65535

command -v java >/dev/null || die "java not found (apt-get install default-jre-headless)"
[ -f "$ZK_JAR" ] || die "$ZK_JAR not found (apt-get install zookeeper)"
"$PY" -c 'import kazoo' 2>/dev/null || die "$PY cannot import kazoo (apt-get install python3-kazoo)"

if [ -z "$PORT" ]; then
    PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
if ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q .; then
    die "port $PORT is in use (choose another --port)"
fi

DIR=$(mktemp -d /tmp/zk-mem.XXXXXX)
ZKPID=
PYPID=
# True if pid $1 is alive and is the QuorumPeerMain started with our zoo.cfg.
is_ours() {
    [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "QuorumPeerMain $DIR/zoo.cfg"
}
# True while pid $1 is our child and not yet reaped: the server, before or after its exec (the
# pid cannot be reused until this shell waits for it).
is_child() {
    [ "$(awk '{print $4}' "/proc/$1/stat" 2>/dev/null)" = "$$" ] && alive "$1"
}
# True unless pid $1 is gone or a zombie.
alive() {
    local state
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    if [ -n "$PYPID" ] && kill -0 "$PYPID" 2>/dev/null; then
        kill -TERM "$PYPID" 2>/dev/null || true
        wait "$PYPID" 2>/dev/null || true
    fi
    if [ -n "$ZKPID" ] && is_child "$ZKPID"; then
        kill -TERM "$ZKPID" 2>/dev/null || true
        for i in $(seq 100); do is_child "$ZKPID" || break; sleep 0.1; done
        if is_child "$ZKPID"; then
            echo "$PROG: ZooKeeper (pid $ZKPID) ignored SIGTERM; SIGKILL" >&2
            kill -KILL "$ZKPID" 2>/dev/null || true
        fi
    fi
    if [ "$KEEP" -eq 1 ]; then
        echo "$PROG: kept $DIR (zoo.cfg, zookeeper.log, gc.log)" >&2
    else
        rm -rf -- "$DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$DIR/conf" "$DIR/data" "$DIR/datalog"
cat >"$DIR/conf/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n
EOF
cat >"$DIR/zoo.cfg" <<EOF
# generated by zk-mem.sh (standalone)
tickTime=2000
dataDir=$DIR/data
dataLogDir=$DIR/datalog
clientPort=$PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=no
admin.enableServer=false
4lw.commands.whitelist=srvr,mntr,ruok
autopurge.purgeInterval=0
EOF

JVM_FLAGS=(-Xms64m "-Xmx${HEAP}m" -XX:+UseG1GC -Djute.maxbuffer=8388608
    -Dzookeeper.jmx.log4j.disable=true "-Xlog:gc*:file=$DIR/gc.log:uptime" ${EXTRA[@]+"${EXTRA[@]}"})
CP="$DIR/conf:$ZK_JAR"
for j in /usr/share/java/slf4j-log4j12.jar /usr/share/java/log4j-1.2.jar; do
    [ -f "$j" ] && CP+=":$j"
done
# The JVM's working directory is the temp folder (the attach trigger file goes there). setsid
# does not fork here (the child is no group leader), so $! is the JVM's pid once it has exec'd.
(cd "$DIR" && exec setsid java "${JVM_FLAGS[@]}" "-Dzookeeper.log.dir=$DIR" \
    -Dzookeeper.root.logger=INFO,CONSOLE -cp "$CP" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$DIR/zoo.cfg" \
    >>"$DIR/zookeeper.log" 2>&1 </dev/null) &
ZKPID=$!
echo "$PROG: started ZooKeeper (pid $ZKPID) on 127.0.0.1:$PORT in $DIR" >&2

for _ in $(seq 200); do # until the child has exec'd the JVM (or died)
    if is_ours "$ZKPID" || ! is_child "$ZKPID"; then break; fi
    sleep 0.05
done
deadline=$((SECONDS + 90))
while :; do
    if ! is_ours "$ZKPID"; then
        tail -n 20 "$DIR/zookeeper.log" >&2 || true
        die "ZooKeeper exited during startup (log above)"
    fi
    mode=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && printf srvr >&3 && cat <&3" \
        2>/dev/null | sed -n 's/^Mode: //p' || true)
    [ "$mode" = standalone ] && break
    [ $SECONDS -lt $deadline ] || {
        tail -n 20 "$DIR/zookeeper.log" >&2 || true
        die "ZooKeeper not serving after 90 s (last srvr mode: '${mode}')"
    }
    sleep 0.5
done
echo "$PROG: serving; measuring $N znodes (heap -Xmx${HEAP}m, batches of $BATCH)" >&2

# In the background with `wait`, so that a signal to this script is handled at once.
"$PY" "$HERE/zk_mem.py" --pid "$ZKPID" --port "$PORT" --znodes "$N" --batch "$BATCH" \
    --timeout "$TIMEOUT" --jvm-flags "${JVM_FLAGS[*]}" &
PYPID=$!
wait "$PYPID"
