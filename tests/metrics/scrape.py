#!/usr/bin/python3
"""tests/metrics/scrape.py - the metrics suite against a real three-node zincd cluster.

A loopback lab (tools/lab --mode loopback: kernel UDP on 127.0.0.1, no root needed) with
GET /metrics on 127.0.0.1:<base>+i. Checks, printing what it saw:
  1. every node's scrape is valid Prometheus text: parsed by python3-prometheus-client AND by a
     strict line checker (HELP then TYPE before any sample of a family, one HELP/TYPE per family,
     names zinc_*, counters *_total, label syntax and escaping, no duplicate series, histogram
     buckets cumulative and +Inf == _count), with every family of the expected list present;
  2. values move after writes: commit/applied index, znode count, proposals, WAL fsyncs and bytes,
     raft APPEND messages, port packets, lcore busy iterations, each read fresh (polled until the
     scrape shows the new state or 30 s pass);
  3. the leader shows replication lag and match index per follower, the followers do not;
  4. bad paths give 404, POST gives 405, / gives 200;
  5. a bounded scrape storm (4 threads hammering all nodes) during a write load loses no
     acknowledged write (zn-labc verify through every node) and every storm scrape parses.
With the argument `netns` (root; exit 77 otherwise): the same format checks on the DPDK lab
(af_packet in network namespaces; each node's endpoint is reached inside its namespace), the
DPDK-only families (rte_eth_stats port counters, stack drops) present and moving after writes.
Environment: ZINCD, LABC (set by meson). Exit 0 pass, 1 fail.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, "tools", "lab")
LABC = os.environ.get("LABC", os.path.join(ROOT, "build", "tools", "zn-labc"))
ZINCD = os.environ.get("ZINCD", os.path.join(ROOT, "build", "node", "zincd"))
PID = os.getpid()
PORT = 20000 + (PID % 400) * 10  # native ports PORT+i
MPORT = 26000 + (PID % 400) * 10  # metrics ports MPORT+i
WAIT_S = 30.0
STORM_SCRAPES_MAX = 1500

EXPECTED = """zinc_node_info zinc_raft_role zinc_raft_members zinc_outstanding_requests
zinc_wal_fsync_duration_seconds zinc_snapshot_last_duration_seconds zinc_elections_total
zinc_election_duration_seconds
zinc_last_election_timestamp_seconds zinc_frames_dropped_total zinc_messages_total
zinc_frames_total zinc_stack_drops_total zinc_stack_events_total zinc_transport_dropped_total
zinc_port_packets_total zinc_port_bytes_total zinc_port_errors_total zinc_lcore_iterations_total
zinc_lcore_idle_actions_total zinc_lcore_work_items_total zinc_raft_messages_total
zinc_raft_follower_match_index zinc_raft_follower_lag_entries zinc_peer_last_heard_seconds
zinc_metrics_snapshot_timestamp_seconds zinc_request_latency_seconds
zinc_request_latency_untracked_total zinc_raft_term zinc_raft_leader_id zinc_raft_commit_index
zinc_raft_applied_index zinc_raft_first_index zinc_raft_last_index zinc_raft_durable_index
zinc_raft_snapshot_index zinc_node_ready zinc_node_draining zinc_sessions zinc_znode_count
zinc_znode_data_bytes zinc_watch_count zinc_parked_reads zinc_held_requests zinc_delayed_replies
zinc_watch_events_unacked zinc_release_queue_items zinc_wal_segments zinc_wal_write_bytes_total
zinc_wal_writes_total zinc_wal_fsyncs_total zinc_wal_fsync_errors_total zinc_wal_dir_fsyncs_total
zinc_snapshots_taken_total zinc_snapshots_failed_total zinc_snapshot_bytes_total
zinc_snapshot_last_bytes zinc_snapshots_installed_total zinc_leader_elected_total
zinc_requests_forwarded_total zinc_forward_nacks_total zinc_proposals_total
zinc_requests_early_total zinc_requests_behind_total zinc_client_dropped_total
zinc_msg_tx_backpressure_total zinc_transport_backpressure_total""".split()

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE = re.compile(
    r"^(" + NAME + r")(\{(?:" + LABEL + r")(?:," + LABEL + r")*\})? "
    r"([-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|Inf|NaN))$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

checks = 0


def fail(msg):
    print(f"metrics/scrape: FAILED: {msg}")
    sys.exit(1)


def check(cond, msg):
    global checks
    checks += 1
    if not cond:
        fail(msg)


NETNS = None  # netns mode: the namespace prefix (node i's endpoint is inside NETNS<i>)


def get(url, method="GET"):
    if NETNS:
        i = int(url.split(":")[2].split("/")[0]) - MPORT
        r = subprocess.run(["ip", "netns", "exec", f"{NETNS}{i}", "/usr/bin/python3",
                            os.path.abspath(__file__), "--fetch", url, method],
                           capture_output=True, text=True, timeout=20)
        status, ctype, body = r.stdout.split("\n", 2)
        return int(status), ctype, body
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def murl(i, path="/metrics"):
    return f"http://127.0.0.1:{MPORT + i}{path}"


def strict_parse(text):
    """The exposition format, checked line by line. Returns {(name, labels): value}."""
    helps, types, series = {}, {}, {}
    current = None
    check(text.endswith("\n"), "scrape does not end with a newline")
    for ln, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {ln}: {line!r}"
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            check(re.fullmatch(NAME, name) is not None, f"bad HELP name, {where}")
            check(name not in helps, f"second HELP for {name}, {where}")
            helps[name] = True
            current = name
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            check(len(parts) == 4, f"bad TYPE line, {where}")
            name, typ = parts[2], parts[3]
            check(name == current and name not in types, f"TYPE not right after HELP, {where}")
            check(typ in ("counter", "gauge", "histogram"), f"bad type, {where}")
            check(name.startswith("zinc_"), f"name without zinc_ prefix, {where}")
            check((typ == "counter") == name.endswith("_total"), f"counter naming, {where}")
            types[name] = typ
            continue
        check(not line.startswith("#") and line != "", f"unexpected line, {where}")
        m = SAMPLE.match(line)
        check(m is not None, f"sample does not parse, {where}")
        sname, labels, value = m.group(1), m.group(2) or "", m.group(3)
        fam = current
        check(fam is not None and fam in types, f"sample before HELP/TYPE, {where}")
        if types[fam] == "histogram":
            check(sname in (fam + "_bucket", fam + "_sum", fam + "_count"),
                  f"histogram sample name, {where}")
        else:
            check(sname == fam, f"sample of another family, {where}")
        lab = tuple(LABEL_RE.findall(labels))
        check(len({k for k, _ in lab}) == len(lab), f"repeated label, {where}")
        key = (sname, lab)
        check(key not in series, f"duplicate series, {where}")
        series[key] = float(value.replace("Inf", "inf"))
        if types[fam] == "counter":
            check(series[key] >= 0, f"negative counter, {where}")
    # histograms: cumulative buckets, +Inf == _count
    for fam, typ in types.items():
        if typ != "histogram":
            continue
        groups = {}
        for (sname, lab), v in series.items():
            if sname == fam + "_bucket":
                rest = tuple(x for x in lab if x[0] != "le")
                le = dict(lab)["le"]
                groups.setdefault(rest, []).append((float(le.replace("Inf", "inf")), v))
        for rest, buckets in groups.items():
            buckets.sort()
            check(buckets[-1][0] == float("inf"), f"{fam}: no +Inf bucket")
            for a, b in zip(buckets, buckets[1:]):
                check(b[1] >= a[1], f"{fam}: buckets not cumulative")
            check(series.get((fam + "_count", rest)) == buckets[-1][1], f"{fam}: +Inf != _count")
    return types, series


def scrape(i):
    status, ctype, text = get(murl(i))
    check(status == 200, f"node {i}: GET /metrics gave {status}")
    check(ctype.startswith("text/plain; version=0.0.4"), f"node {i}: content type {ctype!r}")
    fams = {f.name for f in text_string_to_metric_families(text)}  # the reference parser
    types, series = strict_parse(text)
    return fams, types, series


def value(series, name, **labels):
    want = tuple(sorted(labels.items()))
    for (sname, lab), v in series.items():
        if sname == name and tuple(sorted(lab)) == want:
            return v
    return None


def run(*args, timeout=90):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)


def main():
    for p in (ZINCD, LABC):
        if not os.access(p, os.X_OK):
            fail(f"{p} not built")
    tmp = tempfile.mkdtemp(prefix="zn-metrics-")
    lab = lambda *a, **kw: run(LAB, *a, "--dir", tmp, **kw)  # noqa: E731
    hosts = ",".join(f"127.0.0.1:{PORT + i}" for i in (1, 2, 3))
    start = time.time()
    try:
        r = lab("up", "--mode", "loopback", "--port", str(PORT), "--metrics-port", str(MPORT))
        check(r.returncode == 0, f"lab up: {r.stdout}{r.stderr}")
        r = lab("wait", "--timeout", "30")
        check(r.returncode == 0, f"no leader: {r.stdout}{r.stderr}")
        leader = int(r.stdout.strip().split()[-1])
        print(f"lab up: nodes at {hosts}, metrics on 127.0.0.1:{MPORT + 1}..{MPORT + 3}, "
              f"leader node {leader}")

        # 1. format and families on every node
        before = {}
        for i in (1, 2, 3):
            fams, types, series = scrape(i)
            missing = [f for f in EXPECTED if f not in types]
            check(not missing, f"node {i}: families missing: {missing}")
            check(fams >= {f[:-6] if f.endswith("_total") else f for f in EXPECTED},
                  f"node {i}: prometheus_client saw other families: {sorted(fams)[:5]}...")
            check(value(series, "zinc_node_info", node=str(i), cluster="1",
                        transport="kernel") == 1, f"node {i}: zinc_node_info")
            before[i] = series
            print(f"node {i}: {len(types)} families, {len(series)} series, format valid")

        # 4. paths and methods
        for path in ("/nope", "/metrics/x", "/metricsx", "/metric"):
            status, _, _ = get(murl(1, path))
            check(status == 404, f"GET {path} gave {status}, want 404")
        status, _, _ = get(murl(1), method="POST")
        check(status == 405, f"POST /metrics gave {status}, want 405")
        status, _, _ = get(murl(1, "/"))
        check(status == 200, f"GET / gave {status}")
        print("paths: 404 for /nope /metrics/x /metricsx /metric, 405 for POST, 200 for /")

        # 2. values move after writes; 5. under a scrape storm
        acked = os.path.join(tmp, "acked")
        stop = threading.Event()
        storm = {"scrapes": 0, "errors": []}
        lock = threading.Lock()

        def storm_worker(k):
            n = 0
            while not stop.is_set():
                with lock:
                    if storm["scrapes"] >= STORM_SCRAPES_MAX:
                        break
                    storm["scrapes"] += 1
                i = 1 + (n + k) % 3
                n += 1
                try:
                    st, _, text = get(murl(i))
                    if st != 200:
                        raise RuntimeError(f"status {st}")
                    list(text_string_to_metric_families(text))
                except Exception as e:  # noqa: BLE001 - recorded and failed below
                    with lock:
                        storm["errors"].append(f"node {i}: {e}")
                time.sleep(0.001)

        threads = [threading.Thread(target=storm_worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        writes = 300
        r = run(LABC, hosts, "load", "/m", str(writes), "60", acked, timeout=90)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        print(r.stdout.strip())
        check(r.returncode == 0, f"load failed: {r.stdout}{r.stderr}")
        with open(acked) as f:
            n_acked = sum(1 for _ in f)
        check(n_acked >= writes * 9 // 10, f"only {n_acked} of {writes} writes acknowledged")
        print(f"scrape storm: {storm['scrapes']} scrapes by 4 threads during the load, "
              f"{len(storm['errors'])} errors")
        check(not storm["errors"], f"storm scrapes failed: {storm['errors'][:3]}")
        check(storm["scrapes"] >= 20, f"storm made only {storm['scrapes']} scrapes")
        r = run(LABC, hosts, "verify", acked, "/m", timeout=90)
        print(r.stdout.strip())
        lost = sum(int(x) for x in re.findall(r"lost (\d+);", r.stdout))
        check(r.returncode == 0 and lost == 0, f"verify: lost {lost}")

        # 2. values moved. Leadership may move during the load on a loaded 2-core machine, so
        # every node must apply every write, and per-node work is summed over the nodes.
        want_commit = max(value(before[i], "zinc_raft_commit_index") for i in (1, 2, 3)) + n_acked
        want_znodes = max(value(before[i], "zinc_znode_count") for i in (1, 2, 3)) + n_acked
        after = {}
        for i in (1, 2, 3):
            deadline = time.time() + WAIT_S
            while True:
                _, _, s = scrape(i)
                if value(s, "zinc_raft_applied_index") >= want_commit and \
                        value(s, "zinc_znode_count") >= want_znodes:
                    break
                if time.time() > deadline:
                    fail(f"node {i}: applied index {value(s, 'zinc_raft_applied_index')} / "
                         f"znodes {value(s, 'zinc_znode_count')} never reached {want_commit} / "
                         f"{want_znodes}")
                time.sleep(0.1)
            after[i] = s
            b = before[i]
            print(f"node {i}: commit {value(b, 'zinc_raft_commit_index'):.0f} -> "
                  f"{value(s, 'zinc_raft_commit_index'):.0f}, applied -> "
                  f"{value(s, 'zinc_raft_applied_index'):.0f}, znodes "
                  f"{value(b, 'zinc_znode_count'):.0f} -> {value(s, 'zinc_znode_count'):.0f}")
            for name, labels, need in (
                    ("zinc_wal_fsyncs_total", {}, 1),
                    ("zinc_wal_write_bytes_total", {}, n_acked * 16),
                    ("zinc_port_packets_total", {"port": "udp", "direction": "rx"}, 1),
                    ("zinc_lcore_iterations_total", {"lcore": "0", "state": "busy"}, 1)):
                x, y = value(b, name, **labels), value(s, name, **labels)
                check(x is not None and y is not None and y - x >= need,
                      f"node {i}: {name}{labels} moved {x} -> {y}, want +{need}")
        for name, labels, need in (
                ("zinc_proposals_total", {}, n_acked),
                ("zinc_raft_messages_total", {"direction": "tx", "type": "append"}, 1),
                ("zinc_raft_messages_total", {"direction": "rx", "type": "append_resp"}, 1),
                ("zinc_port_packets_total", {"port": "udp", "direction": "rx"}, n_acked),
                ("zinc_request_latency_seconds_count", {"op": "create"}, n_acked),
                ("zinc_leader_elected_total", {}, 0),
                ("zinc_election_duration_seconds_count", {}, 0)):
            x = sum(value(before[i], name, **labels) or 0 for i in (1, 2, 3))
            y = sum(value(after[i], name, **labels) or 0 for i in (1, 2, 3))
            check(y - x >= need and y >= 1, f"{name}{labels} over the nodes: {x} -> {y}, "
                  f"want +{need} and >= 1")
            print(f"all nodes: {name}{labels or ''}: {x:.0f} -> {y:.0f}")

        # 3. replication lag on the leader only (retried while leadership moves)
        deadline = time.time() + WAIT_S
        while True:
            leader = int(lab("leader").stdout.strip() or 0)
            seen = {i: scrape(i)[2] for i in (1, 2, 3)}
            ok = leader in (1, 2, 3) and value(seen[leader], "zinc_raft_role", role="leader") == 1
            ok = ok and all(value(seen[p], "zinc_raft_role", role="follower") == 1
                            for p in (1, 2, 3) if p != leader)
            if ok:
                break
            if time.time() > deadline:
                fail(f"no stable leader to check replication lag on (lab says {leader})")
            time.sleep(0.2)
        s = seen[leader]
        for p in (1, 2, 3):
            if p == leader:
                continue
            lag = value(s, "zinc_raft_follower_lag_entries", peer=str(p))
            match = value(s, "zinc_raft_follower_match_index", peer=str(p))
            check(lag is not None and match is not None, f"leader: no lag/match for peer {p}")
            check(match <= value(s, "zinc_raft_last_index"), "match beyond the last index")
            check(lag == value(s, "zinc_raft_last_index") - match, "lag != last - match")
            print(f"leader {leader}: follower {p} match index {match:.0f}, lag {lag:.0f} entries")
            check(not any(k[0] == "zinc_raft_follower_lag_entries" for k in seen[p]),
                  f"follower {p} shows replication lag")
        print(f"metrics/scrape: {checks} checks passed, {n_acked} acknowledged writes, "
              f"0 lost, {storm['scrapes']} storm scrapes ({time.time() - start:.1f} s)")
        return 0
    finally:
        lab("down")
        lab("down")
        if os.environ.get("ZN_METRICS_KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main_netns():
    global NETNS
    if os.getuid() != 0:
        print("metrics/scrape-dpdk: SKIP: needs root (network namespaces, af_packet)")
        return 77
    for p in (ZINCD, LABC):
        if not os.access(p, os.X_OK):
            fail(f"{p} not built")
    tmp = tempfile.mkdtemp(prefix="zn-metrics-dpdk-")
    lab = lambda *a, **kw: run(LAB, *a, "--dir", tmp, **kw)  # noqa: E731
    NETNS = f"zm{PID % 100000:05d}"
    subnet = f"10.{220 + PID % 30}.{(PID // 30) % 250}"  # apart from tests/cluster and node
    hosts = ",".join(f"{subnet}.{i}:7001" for i in (1, 2, 3))
    start = time.time()
    try:
        r = lab("up", "--mode", "netns", "--prefix", NETNS, "--subnet", subnet,
                "--metrics-port", str(MPORT))
        check(r.returncode == 0, f"lab up: {r.stdout}{r.stderr}")
        r = lab("wait", "--timeout", "30")
        check(r.returncode == 0, f"no leader: {r.stdout}{r.stderr}")
        leader = int(r.stdout.strip().split()[-1])
        print(f"netns lab up: nodes at {hosts}, leader node {leader}")
        before = {}
        for i in (1, 2, 3):
            _, types, series = scrape(i)
            missing = [f for f in EXPECTED if f not in types]
            check(not missing, f"node {i}: families missing: {missing}")
            check(value(series, "zinc_node_info", node=str(i), cluster="1",
                        transport="dpdk") == 1, f"node {i}: not on the DPDK transport")
            check(value(series, "zinc_port_packets_total", port="dpdk0", direction="rx")
                  is not None, f"node {i}: no rte_eth_stats port counters")
            check(value(series, "zinc_stack_drops_total", reason="ip_cksum") is not None,
                  f"node {i}: no stack drop counters")
            before[i] = series
            print(f"node {i}: {len(types)} families, {len(series)} series, format valid")
        acked = os.path.join(tmp, "acked")
        r = run(LABC, hosts, "load", "/d", "50", "60", acked, timeout=90)
        print(r.stdout.strip())
        check(r.returncode == 0, f"load failed: {r.stdout}{r.stderr}")
        r = run(LABC, hosts, "verify", acked, "/d", timeout=90)
        lost = sum(int(x) for x in re.findall(r"lost (\d+);", r.stdout))
        check(r.returncode == 0 and lost == 0, f"verify: lost {lost}: {r.stdout}")
        with open(acked) as f:
            n_acked = sum(1 for _ in f)
        # every node applies every write; port packets (rte_eth_stats) summed over the nodes,
        # since leadership may move during the load
        want = max(value(before[i], "zinc_raft_commit_index") for i in (1, 2, 3)) + n_acked
        rx0 = sum(value(before[i], "zinc_port_packets_total", port="dpdk0", direction="rx")
                  for i in (1, 2, 3))
        rx1 = 0
        for i in (1, 2, 3):
            deadline = time.time() + WAIT_S
            while True:
                _, _, s = scrape(i)
                if value(s, "zinc_raft_applied_index") >= want:
                    break
                if time.time() > deadline:
                    fail(f"node {i}: applied {value(s, 'zinc_raft_applied_index')} never "
                         f"reached {want}")
                time.sleep(0.1)
            rx1 += value(s, "zinc_port_packets_total", port="dpdk0", direction="rx")
            check(value(s, "zinc_port_packets_total", port="dpdk0", direction="tx") >
                  value(before[i], "zinc_port_packets_total", port="dpdk0", direction="tx"),
                  f"node {i}: dpdk0 tx packets did not move")
        check(rx1 - rx0 >= n_acked, f"dpdk0 rx packets over the nodes {rx0} -> {rx1}")
        print(f"all nodes applied index {want:.0f}; dpdk0 rx packets over the nodes "
              f"{rx0:.0f} -> {rx1:.0f}")
        print(f"metrics/scrape-dpdk: {checks} checks passed, {n_acked} acknowledged writes, "
              f"0 lost ({time.time() - start:.1f} s)")
        return 0
    finally:
        lab("down")
        lab("down")
        shutil.rmtree(tmp, ignore_errors=True)


def fetch(url, method):
    """--fetch URL METHOD (run inside a namespace): status, content type, body on stdout."""
    status, ctype, body = get(url, method)
    sys.stdout.write(f"{status}\n{ctype}\n{body}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--fetch":
        sys.exit(fetch(sys.argv[2], sys.argv[3]))
    if len(sys.argv) > 1 and sys.argv[1] == "netns":
        sys.exit(main_netns())
    sys.exit(main())
