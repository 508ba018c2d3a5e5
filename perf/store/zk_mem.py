#!/usr/bin/python3
"""zk_mem.py - measure an Apache ZooKeeper server's memory per znode (driven by zk-mem.sh).

Against a running ZooKeeper JVM (pid and client port given), on bench_store's tree shape:
/b (no data) with N persistent children /b/nodeNNNNNNNN, each holding a 32-byte value, ACL
world:anyone with all permissions (kazoo's default OPEN_ACL_UNSAFE, bench_store's ACL 31).

  1. connect (kazoo), create /b, flush the committed-proposal log (see flush_committed_log),
     force full GCs, take the baseline;
  2. load the N children in multi() batches (--batch creates each, --inflight batches in
     flight), progress on stderr once a second, bounded by --timeout seconds;
  3. check the load: every multi result, /b's Stat numChildren, mntr's zk_znode_count;
  4. flush the committed-proposal log again, force full GCs, measure again, print the
     difference per znode.

Measurements (each taken twice after forced full GCs; the second one is kept):
  - live heap: the total of `GC.class_histogram` (a full GC, then the bytes of every live
    object), per class as well, so the growth per znode can be broken down by class;
  - heap used / committed from `GC.heap_info` right after;
  - RSS (VmRSS of /proc/PID/status).
The diagnostic commands go through HotSpot's attach mechanism directly (the UNIX socket
/tmp/.java_pidPID, started by an .attach_pidPID file and SIGQUIT; the protocol jcmd speaks),
so only a JRE is needed, no JDK tools. Exit status: 0 measured, 1 failed, 2 bad arguments.
"""

import argparse
import os
import re
import signal
import socket
import sys
import time

VALUE = b"0123456789abcdef0123456789abcdef"  # bench_store's 32-byte value


def log(msg):
    print("zk-mem: " + msg, file=sys.stderr, flush=True)


class AttachError(Exception):
    pass


def _ours(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"java" in f.read()
    except OSError:
        return False


def attach_cmd(pid, command, timeout=60.0):
    """Runs a jcmd diagnostic command in JVM `pid` through the attach socket; returns its text."""
    sock_path = "/proc/%d/root/tmp/.java_pid%d" % (pid, pid)
    if not os.path.exists(sock_path):
        # Ask the JVM to start its attach listener: an .attach_pid file in its working directory
        # (or /tmp), then SIGQUIT; it checks for the file when the signal arrives.
        trigger = "/proc/%d/cwd/.attach_pid%d" % (pid, pid)
        try:
            open(trigger, "w").close()
        except OSError:
            trigger = "/tmp/.attach_pid%d" % pid
            open(trigger, "w").close()
        try:
            if not _ours(pid):
                raise AttachError("pid %d is not a java process" % pid)
            os.kill(pid, signal.SIGQUIT)
            deadline = time.monotonic() + 20
            while not os.path.exists(sock_path):
                if time.monotonic() > deadline:
                    raise AttachError("JVM %d did not open %s within 20 s" % (pid, sock_path))
                time.sleep(0.05)
        finally:
            try:
                os.unlink(trigger)
            except OSError:
                pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        # protocol version 1, operation "jcmd", then 3 arguments, each NUL-terminated
        s.sendall(b"1\0jcmd\0" + command.encode() + b"\0\0\0")
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    except OSError as e:
        raise AttachError("attach to %d failed: %s" % (pid, e))
    finally:
        s.close()
    text = b"".join(chunks).decode(errors="replace")
    code, _, out = text.partition("\n")
    if code.strip() != "0":
        raise AttachError("'%s' returned %s: %s" % (command, code.strip(), out.strip()[:500]))
    return out


HIST_ROW = re.compile(r"^\s*\d+:\s+(\d+)\s+(\d+)\s+(\S+)")
HIST_TOTAL = re.compile(r"^Total\s+(\d+)\s+(\d+)")


def class_histogram(pid):
    """Full GC + live objects: ({class: (instances, bytes)}, total_instances, total_bytes)."""
    out = attach_cmd(pid, "GC.class_histogram")
    classes, total = {}, None
    for line in out.splitlines():
        m = HIST_ROW.match(line)
        if m:
            n, b, name = int(m.group(1)), int(m.group(2)), m.group(3)
            pi, pb = classes.get(name, (0, 0))
            classes[name] = (pi + n, pb + b)
            continue
        m = HIST_TOTAL.match(line)
        if m:
            total = (int(m.group(1)), int(m.group(2)))
    if total is None or not classes:
        raise AttachError("no class histogram in the answer: %r" % out[:500])
    return classes, total[0], total[1]


HEAP_RE = re.compile(r"heap\s+total (?:reserved \d+K, committed )?(\d+)K, used (\d+)K")


def heap_info(pid):
    """(committed_bytes, used_bytes) of the Java heap, from GC.heap_info."""
    out = attach_cmd(pid, "GC.heap_info")
    m = HEAP_RE.search(out)
    if not m:
        raise AttachError("cannot parse GC.heap_info: %r" % out[:500])
    return int(m.group(1)) * 1024, int(m.group(2)) * 1024


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AttachError("no VmRSS for pid %d" % pid)


def stable_rss(pid, max_s=15.0):
    """RSS once G1 has returned shrunk regions (JDK 17 uncommits concurrently after the GC):
    read every 0.5 s until two reads in a row differ by less than 1 MB, at most max_s."""
    prev = rss_bytes(pid)
    steady = 0
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        time.sleep(0.5)
        cur = rss_bytes(pid)
        steady = steady + 1 if abs(cur - prev) < (1 << 20) else 0
        prev = cur
        if steady >= 2:
            break
    return prev


def measure(pid, label):
    """Two rounds of (full GC + histogram, heap info, RSS); the second round is kept."""
    snap = None
    for _ in range(2):
        classes, objs, live = class_histogram(pid)
        committed, used = heap_info(pid)
        snap = dict(classes=classes, objects=objs, live=live, committed=committed, used=used,
                    rss=stable_rss(pid))
    log("%s: live heap %.1f MB in %d objects, heap used %.1f MB of %.1f MB committed, "
        "RSS %.1f MB" % (label, snap["live"] / 1e6, snap["objects"], snap["used"] / 1e6,
                         snap["committed"] / 1e6, snap["rss"] / 1e6))
    return snap


def fourlw(port, word, timeout=5.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


def load(zk, n, batch, inflight, timeout):
    """Creates /b/node00000000.. /b/node{n-1} in multi batches; returns (seconds, created)."""
    t0 = time.monotonic()
    last = t0
    pending = []  # (async_result, count)
    created = 0
    issued = 0

    def reap(res, count):
        results = res.get(timeout=max(1.0, timeout - (time.monotonic() - t0)))
        if len(results) != count:
            raise RuntimeError("multi returned %d results for %d creates" % (len(results),
                                                                              count))
        for r in results:
            if isinstance(r, Exception):
                raise RuntimeError("create in a multi failed: %r" % (r,))
        return count

    while issued < n or pending:
        while issued < n and len(pending) < inflight:
            t = zk.transaction()
            k = min(batch, n - issued)
            for i in range(issued, issued + k):
                t.create("/b/node%08d" % i, VALUE)
            pending.append((t.commit_async(), k))
            issued += k
        res, k = pending.pop(0)
        created += reap(res, k)
        now = time.monotonic()
        if now - t0 > timeout:
            raise RuntimeError("load not finished after %.0f s (%d of %d created); raise "
                               "--timeout or lower N" % (timeout, created, n))
        if now - last >= 1.0 or created == n:
            log("loaded %d/%d znodes (%.0f/s)" % (created, n, created / (now - t0)))
            last = now
    return time.monotonic() - t0, created


def flush_committed_log(zk, writes):
    """ZKDatabase keeps the last zookeeper.commitLogCount (default 500) committed proposals in
    memory to sync followers; a multi of B creates is one proposal, so after a batched load the
    log would hold up to 500 x B create txns and count them as tree memory. `writes` small
    setData on /b (empty value, as before) replace them; both measurements are taken in that
    state, so their difference is the tree."""
    pending = [zk.set_async("/b", b"") for _ in range(writes)]
    for p in pending:
        p.get(timeout=60)


def mntr_value(port, key):
    for line in fourlw(port, "mntr").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[0] == key:
            return parts[1]
    return None


def main():
    ap = argparse.ArgumentParser(description="ZooKeeper bytes per znode (see zk-mem.sh)")
    ap.add_argument("--pid", type=int, required=True, help="the ZooKeeper JVM")
    ap.add_argument("--port", type=int, required=True, help="its client port on 127.0.0.1")
    ap.add_argument("--znodes", type=int, required=True)
    ap.add_argument("--batch", type=int, default=500, help="creates per multi (default 500)")
    ap.add_argument("--inflight", type=int, default=4, help="multis in flight (default 4)")
    ap.add_argument("--timeout", type=float, default=1200, help="load bound, seconds")
    ap.add_argument("--flush", type=int, default=600,
                    help="setData on /b before each measurement, to replace the committed-"
                    "proposal log (default 600 > zookeeper.commitLogCount 500)")
    ap.add_argument("--jvm-flags", default="", help="printed in the report")
    ap.add_argument("--top", type=int, default=8, help="classes shown in the breakdown")
    a = ap.parse_args()
    if a.znodes < 1 or a.batch < 1 or a.inflight < 1 or a.timeout <= 0 or a.flush < 0:
        ap.error("--znodes, --batch, --inflight and --timeout must be positive")
    if not _ours(a.pid):
        log("pid %d is not a running java process" % a.pid)
        return 1

    from kazoo.client import KazooClient  # Debian's python3-kazoo

    zk = KazooClient(hosts="127.0.0.1:%d" % a.port, timeout=30.0)
    zk.start(timeout=30)
    try:
        srvr = fourlw(a.port, "srvr")
        version = re.search(r"Zookeeper version: ([^,\n]+)", srvr)
        version = version.group(1).strip() if version else "unknown"
        version = re.sub(r"-\$\{[^}]*\}", "", version)  # Debian's unexpanded "-${mvngit...}"
        zk.create("/b", b"")
        count0 = mntr_value(a.port, "zk_znode_count")
        if count0 is None:
            raise RuntimeError("mntr gives no zk_znode_count")
        flush_committed_log(zk, a.flush)
        base = measure(a.pid, "baseline (empty server, one session, /b)")
        secs, created = load(zk, a.znodes, a.batch, a.inflight, a.timeout)
        stat = zk.exists("/b")
        count = mntr_value(a.port, "zk_znode_count")
        approx_data = mntr_value(a.port, "zk_approximate_data_size")
        if stat is None or stat.numChildren != a.znodes:
            raise RuntimeError("/b has %s children, expected %d" %
                               (stat.numChildren if stat else "no", a.znodes))
        # the baseline count (/b, /zookeeper..., the root, which 3.8 maps under "" and "/") + N
        if count is None or int(count) != int(count0) + a.znodes:
            raise RuntimeError("mntr zk_znode_count %s, expected %s + %d" %
                               (count, count0, a.znodes))
        log("load checked: %d multis ok, /b numChildren %d, mntr zk_znode_count %s -> %s "
            "(%.1f s, %.0f creates/s)" % ((a.znodes + a.batch - 1) // a.batch,
                                          stat.numChildren, count0, count, secs,
                                          created / secs))
        flush_committed_log(zk, a.flush)
        after = measure(a.pid, "after the load")
    finally:
        zk.stop()
        zk.close()

    n = a.znodes
    print("Apache ZooKeeper %s, standalone, 127.0.0.1:%d" % (version, a.port))
    print("JVM flags: %s" % a.jvm_flags)
    print("tree: /b with %d children /b/nodeNNNNNNNN, 32-byte values, world:anyone ACL "
          "(bench_store's shape); loaded with %d-create multis in %.1f s (%.0f creates/s)"
          % (n, a.batch, secs, n / secs))
    print("before each measurement: %d setData on /b (the in-memory committed-proposal log, "
          "500 proposals by default, then holds small txns in both)" % a.flush)
    print("mntr: zk_znode_count %s before, %s after; zk_approximate_data_size %s after" %
          (count0, count, approx_data))
    rows = [("live heap (GC.class_histogram after a full GC)", "live"),
            ("heap used after the full GC (GC.heap_info)", "used"),
            ("heap committed (GC.heap_info)", "committed"),
            ("RSS (VmRSS)", "rss")]
    for title, key in rows:
        print("%-50s baseline %9.1f MB, after %9.1f MB: %7.1f B/znode" %
              (title, base[key] / 1e6, after[key] / 1e6, (after[key] - base[key]) / n))
    print("live objects: +%.2f per znode" % ((after["objects"] - base["objects"]) / n))
    growth = []
    for name, (inst, b) in after["classes"].items():
        bi, bb = base["classes"].get(name, (0, 0))
        growth.append((b - bb, inst - bi, name))
    growth.sort(reverse=True)
    print("live heap growth by class (per znode):")
    for b, inst, name in growth[:a.top]:
        print("  %8.1f B  %6.2f objects  %s" % (b / n, inst / n, name))
    rest = sum(g[0] for g in growth[a.top:])
    print("  %8.1f B  (all other classes)" % (rest / n))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (AttachError, RuntimeError) as e:
        log("failed: %s" % e)
        sys.exit(1)
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
    except Exception as e:  # kazoo's connection loss, timeouts, ZooKeeper errors
        log("failed: %s: %s" % (type(e).__name__, e))
        sys.exit(1)
