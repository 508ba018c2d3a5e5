#!/bin/bash
# Dataplane RTT benchmark driver (never part of a timed test). Usage, as root from the repo:
#   perf/dataplane/run.sh [build-dir] [count] [sections]
# sections: "all" (default), or a comma list of pingpong, kudp, fanout, idle.
# Prints RESULT lines: RTT p50/p99/p99.9 in us for
#   memif and af_packet/veth: bare DPDK ping-pong (raw) beside the stack (framed messages),
#     64 B and 1 KiB, both processes busy polling; the stack with its default UDP transmit
#     checksum (0 without offload) and, on memif, computed in software;
#   CPU per round trip of raw and stack with both ends in one thread (bench mode cpu);
#   fan-out: one instance sends to two (3 processes, 2 cores, lab idle policy), beside the
#     two-process lab ping-pong floor measured in the same run;
#   fan-out again with the lcores pinned (--cpus): the sender alone on CPU 0 and both receivers
#     on CPU 1, then the sender sharing CPU 0 with one receiver;
#   idle CPU of a lab-policy instance from /proc/<pid>/stat, the RTT cost of waking it (memif:
#     timed sleeps; kernel UDP: woken by its socket, beside timed sleeps), and the machine's own
#     nanosleep overshoot (sleepfloor: the platform's part of that cost).
set -u
BUILD=${1:-build}
COUNT=${2:-20000}
SECTIONS=${3:-all}
want() { [ "$SECTIONS" = all ] || [[ ",$SECTIONS," == *",$1,"* ]]; }
BENCH=$BUILD/perf/dataplane/zn_dp_bench
[ -x "$BENCH" ] || { echo "build first: $BENCH missing"; exit 1; }
dir=$(mktemp -d /tmp/zn-dpbench.XXXXXX)
pids=()
NSA=zn-bna-$$
NSB=zn-bnb-$$
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    ip netns del "$NSA" 2>/dev/null
    ip netns del "$NSB" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap "exit 1" TERM INT HUP

start_pong() { # name, then bench args; waits for the ready file
    local name=$1; shift
    rm -f "$dir/$name.ready"
    "$@" --ready "$dir/$name.ready" --prefix "zb-$name" --timeout-s 300 2>"$dir/$name.log" &
    pids+=($!)
    for _ in $(seq 200); do [ -e "$dir/$name.ready" ] && return 0; sleep 0.05; done
    echo "pong $name did not start"; cat "$dir/$name.log"; return 1
}
stop_pongs() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    pids=()
}

memif() { # role sock
    echo "net_memif$3,role=$1,socket=$dir/$2.sock,socket-abstract=no"
}

echo "# machine: $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
if want pingpong; then
echo "## memif pair, busy polling"
for mode in raw stack; do
    flag=""; [ $mode = raw ] && flag="--raw"
    for size in 64 1024; do
        start_pong m "$BENCH" pong --vdev "$(memif server m1 0)" --ip 10.99.3.2 $flag --idle busy || exit 1
        "$BENCH" ping --vdev "$(memif client m1 0)" --ip 10.99.3.1 --peer-ip 10.99.3.2 $flag \
            --size $size --count "$COUNT" --idle busy --label "memif-$mode" --prefix zb-mc
        stop_pongs
    done
done
for size in 64 1024; do # the stack computing UDP checksums in software (udp_tx_checksum)
    start_pong m "$BENCH" pong --vdev "$(memif server m1 0)" --ip 10.99.3.2 --idle busy \
        --udp-cksum offload-or-software || exit 1
    "$BENCH" ping --vdev "$(memif client m1 0)" --ip 10.99.3.1 --peer-ip 10.99.3.2 \
        --udp-cksum offload-or-software --size $size --count "$COUNT" --idle busy \
        --label "memif-stack-swcksum" --prefix zb-mc
    stop_pongs
done
echo "## CPU per round trip, both ends in one thread over net_ring (no waiting, no copies)"
for size in 64 1024; do
    "$BENCH" cpu --raw --size $size --count $((COUNT * 10)) --label cpu-raw
    "$BENCH" cpu --size $size --count $((COUNT * 10)) --label cpu-stack
    "$BENCH" cpu --size $size --count $((COUNT * 10)) --udp-cksum offload-or-software \
        --label cpu-stack-swcksum
done

if [ "$(id -u)" = 0 ]; then
    echo "## af_packet on a veth pair between two namespaces, busy polling"
    ip netns add "$NSA"; ip netns add "$NSB"
    ip link add zba$$ type veth peer name zbb$$
    ip link set zba$$ netns "$NSA"; ip link set zbb$$ netns "$NSB"
    ip -n "$NSA" link set zba$$ up; ip -n "$NSB" link set zbb$$ up
    for mode in raw stack; do
        flag=""; [ $mode = raw ] && flag="--raw"
        for size in 64 1024; do
            start_pong a ip netns exec "$NSA" "$BENCH" pong \
                --vdev "net_af_packet0,iface=zba$$,qdisc_bypass=1" --ip 10.99.3.2 $flag --idle busy || exit 1
            ip netns exec "$NSB" "$BENCH" ping --vdev "net_af_packet0,iface=zbb$$,qdisc_bypass=1" \
                --ip 10.99.3.1 --peer-ip 10.99.3.2 $flag --size $size --count "$COUNT" --idle busy \
                --label "afpacket-$mode" --prefix zb-ac
            stop_pongs
        done
    done
fi
fi

if want kudp; then
echo "## kernel-UDP transport on loopback (same framed messages, no DPDK)"
for policy in busy lab; do
    start_pong k "$BENCH" pong --udp --ip 127.0.0.1 --idle $policy || exit 1
    "$BENCH" ping --udp --ip 127.0.0.1 --peer-ip 127.0.0.1 --size 64 --count "$COUNT" \
        --idle $policy --label "kudp-loopback-$policy"
    stop_pongs
done
fi

if want fanout; then
echo "## lab idle policy (3 processes on 2 cores): two-process floor, then fan-out to two"
# cpus: sender, receiver 1, receiver 2 ("0,1" = floating, the lab default)
fanout() { # label cpus-sender cpus-r1 cpus-r2
    start_pong f1 "$BENCH" pong --vdev "$(memif server g1 0)" --ip 10.99.3.2 --idle lab --cpus "$3" || exit 1
    start_pong f2 "$BENCH" pong --vdev "$(memif server g2 0)" --ip 10.99.4.2 --idle lab --cpus "$4" || exit 1
    "$BENCH" ping --vdev "$(memif client g1 0)" --vdev "$(memif client g2 1)" --ip 10.99.3.1 \
        --peer-ip 10.99.3.2 --peer-ip 10.99.4.2 --size 64 --count "$COUNT" --idle lab \
        --label "$1" --prefix zb-gc --cpus "$2"
    stop_pongs
}
start_pong f "$BENCH" pong --vdev "$(memif server f1 0)" --ip 10.99.3.2 --idle lab || exit 1
"$BENCH" ping --vdev "$(memif client f1 0)" --ip 10.99.3.1 --peer-ip 10.99.3.2 --size 64 \
    --count "$COUNT" --idle lab --label "lab-pair-floor" --prefix zb-fc
stop_pongs
fanout lab-fanout-both 0,1 0,1 0,1
fanout lab-fanout-pinned-sender-alone 0 1 1
fanout lab-fanout-pinned-sender-shares 0 0 1
fi

if want idle; then
echo "## idle CPU and wake-up cost (lab policy)"
cpu_pct() { # pid seconds -> % of one core from /proc/<pid>/stat utime+stime
    local pid=$1 s=$2 hz t0 t1
    hz=$(getconf CLK_TCK)
    t0=$(awk '{print $14+$15}' /proc/"$pid"/stat)
    sleep "$s"
    t1=$(awk '{print $14+$15}' /proc/"$pid"/stat)
    awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$s" 'BEGIN{printf "%.1f", 100*(b-a)/hz/s}'
}
for policy in lab busy; do
    start_pong i "$BENCH" pong --vdev "$(memif server i1 0)" --ip 10.99.3.2 --idle $policy || exit 1
    sleep 1
    echo "IDLE_CPU policy=$policy pct_of_one_core=$(cpu_pct "${pids[0]}" 5)"
    stop_pongs
done
start_pong w "$BENCH" pong --vdev "$(memif server w1 0)" --ip 10.99.3.2 --idle lab || exit 1
"$BENCH" ping --vdev "$(memif client w1 0)" --ip 10.99.3.1 --peer-ip 10.99.3.2 --size 64 \
    --count 2000 --warmup 10 --idle lab --label "wake-back-to-back" --prefix zb-w0
"$BENCH" ping --vdev "$(memif client w1 0)" --ip 10.99.3.1 --peer-ip 10.99.3.2 --size 64 \
    --count 500 --warmup 10 --interval-us 1000 --idle lab --label "wake-after-1ms-idle" --prefix zb-w1
"$BENCH" ping --vdev "$(memif client w1 0)" --ip 10.99.3.1 --peer-ip 10.99.3.2 --size 64 \
    --count 200 --warmup 5 --interval-us 20000 --idle lab --label "wake-after-20ms-idle" --prefix zb-w2
stop_pongs
echo "## wake-up cost on the kernel-UDP transport: sleeping in ppoll on the socket vs a timed sleep"
for wake in fd timer; do
    flag=""; [ $wake = timer ] && flag="--no-wake-fd"
    start_pong u "$BENCH" pong --udp --ip 127.0.0.1 --idle lab $flag || exit 1
    "$BENCH" ping --udp --ip 127.0.0.1 --peer-ip 127.0.0.1 --size 64 --count 2000 --warmup 10 \
        --idle lab --label "kudp-wake-$wake-back-to-back"
    "$BENCH" ping --udp --ip 127.0.0.1 --peer-ip 127.0.0.1 --size 64 --count 500 --warmup 10 \
        --interval-us 1000 --idle lab --label "kudp-wake-$wake-after-1ms-idle"
    "$BENCH" ping --udp --ip 127.0.0.1 --peer-ip 127.0.0.1 --size 64 --count 200 --warmup 5 \
        --interval-us 20000 --idle lab --label "kudp-wake-$wake-after-20ms-idle"
    stop_pongs
    echo "  $(tail -1 "$dir/u.log")"
done
echo "## the machine's nanosleep overshoot with 1 ns timer slack (no DPDK, no peer)"
"$BENCH" sleepfloor --sleep-us 50 --count 10000
"$BENCH" sleepfloor --sleep-us 1000 --count 1000
fi
