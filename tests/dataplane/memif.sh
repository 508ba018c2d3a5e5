#!/bin/bash
# Two dataplane instances in two processes over a net_memif pair (socket in a private folder,
# not the abstract namespace: memif pitfall 5): the echo peer is the memif server and starts
# first; the client exchanges every test size and verifies every byte.
set -u
PEER=$1
dir=$(mktemp -d /tmp/zn-memif.XXXXXX)
echo_pid=
cleanup() {
    [ -n "$echo_pid" ] && kill "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap "exit 1" TERM INT HUP
sock="$dir/l.sock"
"$PEER" echo --vdev "net_memif0,role=server,socket=$sock,socket-abstract=no" \
    --ip 10.99.2.2 --port 7000 --timeout-s 50 --ready "$dir/ready" --prefix zn-memif-s \
    >"$dir/echo.log" 2>&1 &
echo_pid=$!
for _ in $(seq 100); do [ -e "$dir/ready" ] && break; sleep 0.05; done
[ -e "$dir/ready" ] || { echo "echo peer did not start"; cat "$dir/echo.log"; exit 1; }
rc=0
"$PEER" client --vdev "net_memif0,role=client,socket=$sock,socket-abstract=no" \
    --ip 10.99.2.1 --port 7000 --peer-ip 10.99.2.2 --peer-port 7000 --rounds 3 \
    --timeout-s 30 --prefix zn-memif-c || rc=1
kill "$echo_pid"; wait "$echo_pid"; echo_pid=
cat "$dir/echo.log"
[ $rc -eq 0 ] && echo "memif: exchange verified" || echo "memif: FAILED"
exit $rc
