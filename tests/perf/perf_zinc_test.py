#!/usr/bin/env python3
"""Functional smoke of zinc-perf's zinc targets against real zincd processes (suite perf).

--mode udp:   a 3-node zincd lab on 127.0.0.1 (tools/lab --mode loopback, free ports, own temp
              folder) and zinc-perf -t zinc (libzinc over kernel UDP);
--mode memif: a 1-node zincd whose only port is the server end of a net_memif link
              (--no-huge, own socket and file prefix) and zinc-perf -t zinc-dpdk (the native
              protocol over the dataplane stack on the client end).
For each: a closed-loop setData and getData run, a multi run and a create run, each bounded by
200 ops and 60 s, and checks that zinc-perf exits 0, the JSON parses, every op was answered
(count == --ops, no errors, nothing lost) and percentiles are ordered; the udp mode also runs
the watch fan-out scenario (every watcher notified in every round). No timing is asserted.
Everything started is stopped at the end (also on failure) and the temp folder removed.
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

checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def udp_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def pick_base():
    for _ in range(50):
        base = random.randrange(10000, 32000, 10)  # below the ephemeral range (32768+)
        if all(udp_free(base + n) for n in (1, 2, 3)):
            return base
    raise RuntimeError("no free UDP port range on 127.0.0.1")


def run_zp(zp, target, servers, tmp, name, wargs):
    path = os.path.join(tmp, name + ".json")
    cmd = [zp, "run", "-t", target, "-s", servers, *wargs, "-n", "200", "-d", "60s",
           "--warmup-ops", "20", "--warmup", "10s", "-q", "--json", path]
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr[-4000:])
    check(p.returncode == 0, f"{name}: zinc-perf exited {p.returncode}")
    with open(path) as f:
        j = json.load(f)
    check(j["total_count"] == 200, f"{name}: {j['total_count']} ops measured, expected 200")
    for op, o in j["ops"].items():
        l = o["latency_ns"]
        check(o.get("errors", 0) == 0, f"{name}: {op}: {o.get('errors')} errors")
        check(0 < l["p50"] <= l["p90"] <= l["p99"] <= l["max"],
              f"{name}: {op}: percentiles out of order {l}")
    lost = j.get("lost", j.get("harness", {}).get("lost", 0))
    check(not lost, f"{name}: {lost} requests never answered")
    o = next(iter(j["ops"].values()))
    print(f"  {name}: {j['total_count']} ops, p50 {o['latency_ns']['p50'] / 1000:.1f} us",
          flush=True)
    return j


def workloads(zp, target, servers, tmp):
    run_zp(zp, target, servers, tmp, "set", ["-w", "set", "-c", "4", "--sessions", "2"])
    run_zp(zp, target, servers, tmp, "get", ["-w", "get", "-c", "4", "--sessions", "2"])
    run_zp(zp, target, servers, tmp, "multi", ["-w", "multi", "--multi-ops", "4", "-c", "2"])
    run_zp(zp, target, servers, tmp, "create", ["-w", "create", "-c", "2"])
    run_zp(zp, target, servers, tmp, "set4k", ["-w", "set", "-v", "4KiB", "-c", "2"])


def mode_udp(args, tmp):
    lab = [args.lab]
    d = os.path.join(tmp, "lab")
    base = pick_base()
    try:
        p = subprocess.run(lab + ["up", "--mode", "loopback", "--dir", d, "--port", str(base),
                                  "--set", "snapshot.interval_entries=20000"],
                           env=dict(os.environ, ZINCD=args.zincd), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=120)
        check(p.returncode == 0, "lab up failed: " + p.stdout[-2000:])
        p = subprocess.run(lab + ["wait", "--dir", d, "--timeout", "60"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=90)
        check(p.returncode == 0, "no leader within 60 s: " + p.stdout[-2000:])
        hosts = subprocess.run(lab + ["hosts", "--dir", d], stdout=subprocess.PIPE, text=True,
                               timeout=30).stdout.strip()
        check(hosts.count(",") == 2, f"lab hosts: {hosts!r}")
        workloads(args.zinc_perf, "zinc", hosts, tmp)
        fj = os.path.join(tmp, "fanout.json")
        p = subprocess.run([args.zinc_perf, "fanout", "-t", "zinc", "-s", hosts, "--watchers",
                            "4", "--rounds", "5", "-d", "60s", "-q", "--json", fj],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        if p.returncode != 0:
            sys.stderr.write(p.stderr[-3000:])
        check(p.returncode == 0, f"fanout exited {p.returncode}")
        with open(fj) as f:
            fo = json.load(f)
        check(fo["results"]["last"]["count"] == 5, f"fanout rounds: {fo['results']['last']}")
        check(fo["results"]["notify"]["count"] == 20,
              f"fanout notifications: {fo['results']['notify']['count']}, expected 4 x 5")
        print("  fanout: 5 rounds x 4 watchers notified", flush=True)
    finally:
        subprocess.run(lab + ["down", "--dir", d], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)


def wait_ready(status, proc, timeout_s):
    end = time.monotonic() + timeout_s
    seen = ""
    while time.monotonic() < end:
        check(proc.poll() is None, f"zincd exited {proc.returncode}")
        try:
            with open(status) as f:
                seen = f.read()
            j = json.loads(seen)
            if j.get("ready") and j.get("role") == "leader":
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"zincd not ready as leader within {timeout_s} s; status: {seen[:500]}")


def mode_memif(args, tmp):
    # Addresses on the memif link only (no kernel interface is involved).
    sock = os.path.join(tmp, "memif.sock")
    data = os.path.join(tmp, "data")
    ini = os.path.join(tmp, "n1.ini")
    with open(ini, "w") as f:
        f.write(f"""[node]
id = 1
data_dir = {data}
[cluster]
members = 1@10.99.0.1:7001
[net]
transport = dpdk
listen_host = 10.99.0.1
listen_port = 7001
idle = lab
[dpdk]
port_devargs = net_memif0,role=server,id=0,socket={sock},socket-abstract=no
[snapshot]
interval_entries = 20000
""")
    log = open(os.path.join(tmp, "n1.log"), "w")
    proc = subprocess.Popen([args.zincd, "-c", ini], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(os.path.join(data, "status.json"), proc, 60)
        workloads(args.zinc_perf, "zinc-dpdk", f"socket={sock},node=10.99.0.1:7001", tmp)
    except AssertionError:
        log.flush()
        with open(os.path.join(tmp, "n1.log")) as f:
            sys.stderr.write(f.read()[-3000:])
        raise
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["udp", "memif"], required=True)
    ap.add_argument("--zinc-perf", required=True)
    ap.add_argument("--zincd", required=True)
    ap.add_argument("--lab", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix=f"zp-zinc-{args.mode}-")
    try:
        if args.mode == "udp":
            mode_udp(args, tmp)
        else:
            mode_memif(args, tmp)
    except AssertionError as e:
        print(f"FAIL after {checks} checks: {e}", flush=True)
        print(f"(files kept in {tmp})")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"OK: {checks} checks ({args.mode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
