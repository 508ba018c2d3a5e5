#!/bin/bash
# af_packet over a veth pair between two network namespaces this test creates (and deletes on
# every exit path, trap): a dataplane echo instance in namespace A (10.99.1.1) is
#  1. pinged by the kernel of namespace B (ICMP echo, kernel ARP resolution of our address),
#  2. exchanged with by the kernel-UDP transport from namespace B (10.99.1.2): the replies carry
#     UDP checksum 0 (the stack's default without offload), so this also proves a Linux UDP
#     socket accepts them, and the kernel's checksummed datagrams are verified on our side,
#  3. exchanged with by a second dataplane instance on af_packet in namespace B (10.99.1.3):
#     dynamic ARP in both directions, every message size verified byte for byte.
set -u
PEER=$1
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root (network namespaces, veth, af_packet)"
    exit 77
fi
for tool in ip ping; do
    command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
NSA=zn-dpa-$$
NSB=zn-dpb-$$
VA=zda$$
VB=zdb$$
dir=$(mktemp -d /tmp/zn-netns.XXXXXX)
echo_pid=
cleanup() {
    if [ -n "$echo_pid" ]; then
        kill "$echo_pid" 2>/dev/null
        wait "$echo_pid" 2>/dev/null
    fi
    ip netns del "$NSA" 2>/dev/null
    ip netns del "$NSB" 2>/dev/null
    ip link del "$VA" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap "exit 1" TERM INT HUP
set -e
ip netns add "$NSA"
ip netns add "$NSB"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$NSA"
ip link set "$VB" netns "$NSB"
for ns in "$NSA" "$NSB"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip -n "$NSA" link set "$VA" up
ip -n "$NSB" link set "$VB" up
ip -n "$NSB" addr add 10.99.1.2/24 dev "$VB"
# The kernel side computes checksums in software: af_packet sees frames before any NIC would.
if command -v ethtool >/dev/null; then
    ip netns exec "$NSB" ethtool -K "$VB" tx off >/dev/null
    ip netns exec "$NSA" ethtool -K "$VA" tx off >/dev/null
fi
set +e
ip netns exec "$NSA" "$PEER" echo --vdev "net_af_packet0,iface=$VA,qdisc_bypass=1" \
    --ip 10.99.1.1 --port 7000 --timeout-s 80 --ready "$dir/ready" --prefix zn-ns-a \
    >"$dir/echo.log" 2>&1 &
echo_pid=$!
for _ in $(seq 100); do [ -e "$dir/ready" ] && break; sleep 0.05; done
[ -e "$dir/ready" ] || { echo "echo peer did not start"; cat "$dir/echo.log"; exit 1; }
rc=0
echo "== kernel ping from $NSB to the dataplane address 10.99.1.1"
ip netns exec "$NSB" ping -c 3 -i 0.2 -W 2 10.99.1.1 || { echo "ping FAILED"; rc=1; }
echo "== kernel-UDP transport from $NSB"
ip netns exec "$NSB" "$PEER" client --udp --ip 10.99.1.2 --port 7001 --peer-ip 10.99.1.1 \
    --peer-port 7000 --rounds 2 --timeout-s 20 || { echo "kernel-UDP exchange FAILED"; rc=1; }
echo "== dataplane (af_packet) from $NSB"
ip netns exec "$NSB" "$PEER" client --vdev "net_af_packet0,iface=$VB,qdisc_bypass=1" \
    --ip 10.99.1.3 --port 7000 --peer-ip 10.99.1.1 --peer-port 7000 --rounds 2 --timeout-s 20 \
    --prefix zn-ns-b || { echo "af_packet exchange FAILED"; rc=1; }
kill "$echo_pid"
wait "$echo_pid"
echo_pid=
echo "== echo instance ($NSA) counters"
cat "$dir/echo.log"
grep -Eq '^icmp_echo +[3-9]' "$dir/echo.log" || { echo "ICMP echo counter wrong"; rc=1; }
grep -Eq '^arp_req_in +[1-9]' "$dir/echo.log" || { echo "no ARP request answered"; rc=1; }
if grep -E '^drop_(udp_cksum|ip_cksum)' "$dir/echo.log"; then
    echo "checksum drops on well-formed traffic"
    rc=1
fi
[ $rc -eq 0 ] && echo "netns: ping, kernel-UDP and af_packet exchanges verified" || echo "netns: FAILED"
exit $rc
