#!/usr/bin/env python3
"""Functional test of zinc-perf against a real 3-node Apache ZooKeeper ensemble (suite perf).

Starts the ensemble with perf/zk-ensemble on 127.0.0.1 (free ports, own temp folder), runs
zinc-perf briefly (bounded by ops and seconds) for two workloads - a closed-loop setData and an
open-loop 90%-read mix - plus the watch fan-out scenario, and checks:
  - exit codes; the JSON parses; op counts equal --ops with no errors and nothing lost;
  - percentiles are ordered (min <= p50 <= p90 <= p99 <= p99.9 <= max) and positive;
  - throughput == count / window;
  - `zinc-perf merge` of the two histogram logs equals their sum (count, sum, min, max per op),
    and merging the merged log again changes nothing;
  - every SVG is well-formed XML (xml.etree) with one line per op;
  - leader kill (zinc-perf failover + zk-ensemble kill-leader): writes are acknowledged again
    after the re-election and exactly one node is down;
  - SIGINT ends a long run early: exit 130 and JSON with "interrupted" and partial counts;
  - a bad argument exits 2 naming the flag and the value;
then stops the ensemble and verifies that no process it started is left and its ports are free.
Skips (exit 77) only when java is unavailable.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

SVG_NS = "{http://www.w3.org/2000/svg}"
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def pick_base():
    for _ in range(50):
        base = random.randrange(10000, 32000, 10)  # below the ephemeral range (32768+)
        if all(port_free(base + off + n) for off in (0, 100, 200) for n in (1, 2, 3)):
            return base
    raise RuntimeError("no free port range found on 127.0.0.1")


def run(cmd, timeout, expect=0):
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    took = time.monotonic() - t0
    print(f"$ {' '.join(cmd)}  ({took:.1f}s, exit {p.returncode})")
    if p.stdout.strip():
        print(p.stdout.rstrip())
    if p.returncode != expect:
        print(p.stderr.rstrip()[-3000:])
        raise AssertionError(f"exit {p.returncode}, expected {expect}: {' '.join(cmd)}")
    return p


def ordered_latency(lat, what):
    keys = ["min", "p50", "p90", "p99", "p99_9", "max"]
    vals = [lat[k] for k in keys]
    check(all(v > 0 for v in vals), f"{what}: latencies positive {vals}")
    check(vals == sorted(vals), f"{what}: percentiles ordered {dict(zip(keys, vals))}")


def check_run_json(path, ops, expect_ops):
    with open(path) as f:
        j = json.load(f)
    check(j["tool"] == "zinc-perf", "json tool field")
    check(j["lost"] == 0, f"{path}: nothing lost")
    check(j["total_errors"] == 0, f"{path}: no errors")
    total = 0
    for op in expect_ops:
        check(op in j["ops"], f"{path}: op {op} present")
        o = j["ops"][op]
        total += o["count"]
        ordered_latency(o["latency_ns"], f"{path}:{op}")
        check(o["latency_ns"]["sum"] >= o["count"] * o["latency_ns"]["min"], "sum >= n*min")
        want = o["count"] / j["window_s"]
        check(abs(o["throughput_ops_s"] - want) <= 1e-6 * want + 1e-6,
              f"{path}:{op} throughput {o['throughput_ops_s']} == count/window {want}")
    check(set(j["ops"]) == set(expect_ops), f"{path}: only {expect_ops} ran: {list(j['ops'])}")
    check(total == ops, f"{path}: measured ops {total} == --ops {ops}")
    check(j["total_count"] == total, "total_count")
    return j


def check_svg(path, lines):
    root = ET.parse(path).getroot()
    check(root.tag == SVG_NS + "svg", f"{path}: root is <svg>")
    n = len(root.findall(f".//{SVG_NS}polyline"))
    check(n == lines, f"{path}: {n} polylines, expected {lines}")


def our_processes(tmp):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if tmp in cmd and "QuorumPeerMain" in cmd:
            found.append((pid, cmd[:120]))
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zinc-perf", required=True)
    ap.add_argument("--ensemble", required=True)
    a = ap.parse_args()
    if shutil.which("java") is None or subprocess.run(
            ["java", "-version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
        print("SKIP: java is not available (apt-get install default-jre-headless zookeeper)")
        return 77
    zp = a.zinc_perf
    tmp = tempfile.mkdtemp(prefix="zp-test-")
    ens = os.path.join(tmp, "ensemble")
    base = pick_base()
    servers = ",".join(f"127.0.0.1:{base + n}" for n in (1, 2, 3))
    started = False
    try:
        run([a.ensemble, "start", "--dir", ens, "--base-port", str(base), "--timeout", "60",
             "--heap-mb", "256"], 90)
        started = True
        run([a.ensemble, "status", "--dir", ens], 30)

        # 1. closed loop setData
        o1 = {k: os.path.join(tmp, "set." + k) for k in ("json", "hlog", "svg")}
        run([zp, "run", "-s", servers, "-w", "set", "-c", "8", "--sessions", "2", "-n", "1500",
             "-d", "30s", "--warmup-ops", "100", "--warmup", "5s", "-q", "--json", o1["json"],
             "--hist-log", o1["hlog"], "--svg", o1["svg"]], 90)
        j1 = check_run_json(o1["json"], 1500, ["set"])
        check(j1["warmup_ops"] == 100, f"warm-up of 100 ops excluded ({j1['warmup_ops']})")
        check_svg(o1["svg"], 1)

        # 2. open loop 90% reads
        o2 = {k: os.path.join(tmp, "r90." + k) for k in ("json", "hlog", "svg")}
        run([zp, "-s", servers, "-w", "read90", "-r", "1500", "-n", "1500", "-d", "30s",
             "--warmup", "0.2s", "--sessions", "2", "-q", "--json", o2["json"], "--hist-log",
             o2["hlog"], "--svg", o2["svg"]], 90)
        j2 = check_run_json(o2["json"], 1500, ["get", "set"])
        check(j2["config"]["loop"] == "open", "open loop recorded in config")
        check(j2["ops"]["get"]["count"] > j2["ops"]["set"]["count"], "90% reads dominate")
        check_svg(o2["svg"], 2)

        # 3. merge equals the sum; merging the merged log is the identity
        mj = os.path.join(tmp, "merged.json")
        mh = os.path.join(tmp, "merged.hlog")
        msvg = os.path.join(tmp, "merged.svg")
        run([zp, "merge", "-o", mh, "--json", mj, "--svg", msvg, o1["hlog"], o2["hlog"]], 30)
        with open(mj) as f:
            m = json.load(f)["ops"]
        for op in ("set", "get"):
            parts = [j["ops"][op] for j in (j1, j2) if op in j["ops"]]
            check(m[op]["count"] == sum(p["count"] for p in parts), f"merged {op} count = sum")
            ml = m[op]["latency_ns"]
            check(ml["sum"] == sum(p["latency_ns"]["sum"] for p in parts), f"merged {op} sum")
            check(ml["min"] == min(p["latency_ns"]["min"] for p in parts), f"merged {op} min")
            check(ml["max"] == max(p["latency_ns"]["max"] for p in parts), f"merged {op} max")
            ordered_latency(ml, f"merged {op}")
        check_svg(msvg, 2)
        mj2 = os.path.join(tmp, "merged2.json")
        run([zp, "merge", "--json", mj2, mh], 30)
        with open(mj2) as f:
            check(json.load(f)["ops"] == m, "merge of the merged log is the identity")
        psvg = os.path.join(tmp, "plot.svg")
        run([zp, "plot", "-o", psvg, o1["hlog"], o2["hlog"]], 30)
        check_svg(psvg, 3)

        # 4. watch fan-out scenario
        fj = os.path.join(tmp, "fanout.json")
        run([zp, "fanout", "-s", servers, "--watchers", "4", "--rounds", "5", "-d", "30s", "-q",
             "--json", fj], 60)
        with open(fj) as f:
            fr = json.load(f)["results"]
        check(fr["last"]["count"] == 5 and fr["notify"]["count"] == 20,
              f"fanout: 5 rounds x 4 notifications ({fr['last']['count']}, {fr['notify']['count']})")
        ordered_latency(fr["last"]["latency_ns"], "fanout last")
        check(fr["last"]["latency_ns"]["max"] >= fr["notify"]["latency_ns"]["max"] - 1,
              "the last notification is the latest")

        # 5. Ctrl-C ends a long run early with partial results and exit 130
        ij = os.path.join(tmp, "int.json")
        proc = subprocess.Popen([zp, "-s", servers, "-w", "get", "-n", "10M", "-d", "120s",
                                 "--warmup", "0", "-q", "--json", ij], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        out, errs = proc.communicate(timeout=60)
        print(f"$ zinc-perf -w get -d 120s, SIGINT after 2 s: exit {proc.returncode}\n{out}")
        check(proc.returncode == 130, f"interrupted run exits 130 ({proc.returncode}): {errs}")
        with open(ij) as f:
            ji = json.load(f)
        check(ji["interrupted"] is True and ji["ops"]["get"]["count"] > 0,
              "interrupted run reports partial results")

        # 6. leader killed: a write is acknowledged again after the re-election
        foj = os.path.join(tmp, "failover.json")
        kill = f"{a.ensemble} kill-leader --dir {ens}"
        run([zp, "failover", "-s", servers, "--kill-cmd", kill, "--before", "1s", "--after",
             "0.5s", "-d", "60s", "-q", "--json", foj], 90)
        with open(foj) as f:
            fo = json.load(f)
        d = fo["details"]
        check(d["time_to_first_ack_ms"] > 0, f"failover: first ack after the kill {d}")
        check(fo["results"]["before"]["count"] > 0 and fo["results"]["after"]["count"] > 0,
              "failover: writes acknowledged before and after the kill")
        st = subprocess.run([a.ensemble, "status", "--dir", ens], stdout=subprocess.PIPE,
                            text=True)
        check(st.stdout.count("stopped") == 1, f"exactly the leader was killed:\n{st.stdout}")

        # 7. argument errors name the flag and the value
        p = run([zp, "--concurrency", "0"], 10, expect=2)
        check("--concurrency" in p.stderr and "0" in p.stderr, f"error names flag: {p.stderr}")
        p = run([zp, "-w", "bogus"], 10, expect=2)
        check("--workload" in p.stderr and "bogus" in p.stderr, f"error names flag: {p.stderr}")
    finally:
        if started:
            run([a.ensemble, "stop", "--dir", ens], 60)
    left = []
    for _ in range(50):
        left = our_processes(ens)
        if not left:
            break
        time.sleep(0.1)
    check(not left, f"no ZooKeeper process left: {left}")
    busy = [base + off + n for off in (0, 100, 200) for n in (1, 2, 3)
            if not port_free(base + off + n)]
    check(not busy, f"ports released: {busy}")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"perf_zk_test: OK ({checks} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
