#!/usr/bin/env bash
# zk_mem_smoke.sh ZK_MEM - smoke test of perf/store/zk-mem.sh (suite perf): bad arguments exit 2
# before anything starts; a 5000-znode run against a real standalone ZooKeeper exits 0, prints
# every line of the report, measures a live-heap growth in a sane range (a parse or baseline
# error gives 0 or thousands) with exactly one DataNode and one StatPersisted per znode, and
# leaves neither its server nor its temp folder behind. No timing asserted. Skips (77) when
# java, the zookeeper package or python3-kazoo is missing.
set -u
ZKMEM=${1:?usage: zk_mem_smoke.sh PATH_TO_zk-mem.sh}
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

for args in "0" "abc" "5000 6" "--bogus" "--heap-mb 10" "--batch" "--port 80"; do
    # shellcheck disable=SC2086
    err=$("$ZKMEM" $args 2>&1 >/dev/null)
    rc=$?
    [ $rc -eq 2 ] || fail "'$args' exited $rc, expected 2: $err"
    echo "checked: '$args' exits 2: $err"
done
"$ZKMEM" --help | grep -q '^usage: zk-mem.sh' || fail "--help prints no usage"

if ! command -v java >/dev/null || [ ! -f /usr/share/java/zookeeper.jar ] ||
    ! /usr/bin/python3 -c 'import kazoo' 2>/dev/null; then
    echo "SKIP: java, zookeeper or python3-kazoo missing (tools/debian-packages.txt)"
    [ $fails -eq 0 ] && exit 77
    exit 1
fi

before=$(ls -d /tmp/zk-mem.* 2>/dev/null | sort)
out=$(timeout 200 "$ZKMEM" 5000 --heap-mb 256 2>/tmp/zk_mem_smoke.$$.err)
rc=$?
err=$(cat /tmp/zk_mem_smoke.$$.err)
rm -f /tmp/zk_mem_smoke.$$.err
if [ $rc -ne 0 ]; then
    fail "zk-mem.sh 5000 exited $rc; stderr: $err; stdout: $out"
else
    echo "$out"
    for want in 'Apache ZooKeeper 3.' 'JVM flags: -Xms64m -Xmx256m' 'mntr: zk_znode_count' \
        'heap used after the full GC' 'RSS (VmRSS)' 'live heap growth by class'; do
        grep -qF -- "$want" <<<"$out" || fail "report lacks '$want'"
    done
    live=$(sed -n 's/^live heap (GC.class_histogram.*: *\([0-9.]*\) B\/znode$/\1/p' <<<"$out")
    if [ -z "$live" ]; then
        fail "no live-heap B/znode in the report"
    elif ! awk -v v="$live" 'BEGIN { exit !(v >= 200 && v <= 800) }'; then
        fail "live heap growth $live B/znode outside the sane range 200..800"
    else
        echo "checked: live heap growth $live B/znode (sane range 200..800)"
    fi
    for cls in org.apache.zookeeper.server.DataNode org.apache.zookeeper.data.StatPersisted; do
        per=$(awk -v c="$cls" '$NF == c { print $3 }' <<<"$out")
        if awk -v v="$per" 'BEGIN { exit !(v != "" && v >= 0.99 && v <= 1.01) }'; then
            echo "checked: $per $cls per znode"
        else
            fail "expected 1.00 $cls per znode, got '${per}'"
        fi
    done
    grep -qF 'load checked: 10 multis ok, /b numChildren 5000' <<<"$err" ||
        fail "stderr lacks the load check: $err"
fi
after=$(ls -d /tmp/zk-mem.* 2>/dev/null | sort)
[ "$before" = "$after" ] || fail "temp folders left behind: $(comm -13 <(echo "$before") <(echo "$after"))"
if pgrep -f "QuorumPeerMain /tmp/zk-mem\." >/dev/null; then
    # report only: another zk-mem run may be going on; ours is checked by the folder above
    echo "note: a zk-mem ZooKeeper is running (pids $(pgrep -f 'QuorumPeerMain /tmp/zk-mem\.' | tr '\n' ' '))"
fi

if [ $fails -ne 0 ]; then
    echo "zk-mem smoke: $fails failure(s)"
    exit 1
fi
echo "zk-mem smoke: ok"
