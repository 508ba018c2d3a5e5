#!/bin/sh
# tests/node/netns.sh - zincd on the DPDK transport: three network namespaces with veth pairs
# into a bridge, each node on net_af_packet (--no-huge), clients in the root namespace through
# the kernel (zn-tcli). Checks: a leader is elected, create/get/set through different nodes,
# SIGKILL of the leader, the data is still there and writable through the survivors.
# Needs root (af_packet, namespaces); exits 77 (skipped) otherwise. Cleans up on every exit.
# Usage: netns.sh ZINCD ZN_TCLI
set -u
ZINCD=$1
TCLI=$2
[ "$(id -u)" = 0 ] || { echo "netns: not root, skipped"; exit 77; }
command -v ip >/dev/null 2>&1 || { echo "netns: no ip(8), skipped"; exit 77; }
T=$$
BR=znb$T
DIR=$(mktemp -d /tmp/zn-node-netns-XXXXXX)
PIDS=""
cleanup() {
  for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
  for i in 1 2 3; do ip netns del zn$T-$i 2>/dev/null; ip link del znv$T$i 2>/dev/null; done
  ip link del "$BR" 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
fail() { echo "netns: FAIL: $*"; for i in 1 2 3; do echo "--- node $i"; tail -n 8 "$DIR/n$i.log"; done; exit 1; }
NET=10.$((T % 200 + 20)).$((T / 200 % 250)).
ip link add "$BR" type bridge || fail "bridge"
ip addr add ${NET}254/24 dev "$BR"
ip link set "$BR" up
for i in 1 2 3; do
  ip netns add zn$T-$i || fail "netns"
  ip link add znv$T$i type veth peer name znp$T$i || fail "veth"
  ip link set znv$T$i master "$BR"
  ip link set znv$T$i up
  ip link set znp$T$i netns zn$T-$i
  ip -n zn$T-$i link set znp$T$i up
  # af_packet hands the stack the root side's datagrams with the UDP checksum left to offload
  # (docs/operations.md): compute checksums in software on the root side.
  ethtool -K znv$T$i tx off >/dev/null 2>&1
done
ethtool -K "$BR" tx off >/dev/null 2>&1
MEMBERS="1@${NET}1:7001, 2@${NET}2:7001, 3@${NET}3:7001"
for i in 1 2 3; do
  cat > "$DIR/n$i.ini" <<EOC
[node]
id = $i
data_dir = $DIR/n$i
[cluster]
members = $MEMBERS
[net]
transport = dpdk
listen_host = ${NET}$i
listen_port = 7001
idle = lab
[dpdk]
eal_args = --no-huge -m 128 --lcores 0@(0,1) --log-level error
port_devargs = net_af_packet0,iface=znp$T$i,qdisc_bypass=1
EOC
  ip netns exec zn$T-$i "$ZINCD" -c "$DIR/n$i.ini" > "$DIR/n$i.log" 2>&1 &
  PIDS="$PIDS $!"
done
leader() { grep -h -o '"leader": [0-9]' "$DIR"/n*/status.json 2>/dev/null | sort -u; }
for t in $(seq 1 150); do
  [ "$(leader | wc -l)" = 1 ] && [ -n "$(leader | grep -v ': 0')" ] && \
    [ "$(grep -l '"ready": true' "$DIR"/n*/status.json 2>/dev/null | wc -l)" = 3 ] && break
  sleep 0.1
done
L=$(leader | grep -o '[0-9]$')
[ -n "$L" ] && [ "$L" != 0 ] || fail "no leader within 15 s"
echo "netns: node $L elected leader over DPDK net_af_packet"
ALL=${NET}1:7001,${NET}2:7001,${NET}3:7001
timeout 20 "$TCLI" "${NET}1:7001" create /dp hello | grep -q ok || fail "create through node 1"
timeout 20 "$TCLI" "${NET}2:7001" set /dp world | grep -q ok || fail "set through node 2"
timeout 20 "$TCLI" "${NET}3:7001" get /dp | grep -q 'ok world' || fail "get through node 3"
P=$(echo $PIDS | cut -d' ' -f"$L")
kill -9 "$P"
echo "netns: leader $L killed"
timeout 20 "$TCLI" "$ALL" get /dp | grep -q 'ok world' || fail "get after the kill"
timeout 20 "$TCLI" "$ALL" create /dp2 after | grep -q ok || fail "create after the kill"
timeout 20 "$TCLI" "$ALL" get /dp2 | grep -q 'ok after' || fail "get of the new node"
echo "netns: PASS: DPDK transport elects, serves kernel clients, fails over with no write lost"
