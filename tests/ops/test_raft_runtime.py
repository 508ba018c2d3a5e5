#!/usr/bin/env python3
"""tests/ops/test_raft_runtime.py - Raft settings changed on a running 3-node loopback cluster.

zincd processes are started directly (kernel transport on 127.0.0.1, free ports), each with its
control socket in its data directory. Checked, in order:
  - `config set raft.election_timeout_ms 400` / `raft.heartbeat_interval_ms 40`: shown by
    `config show` and held by the consensus core (`status --json` raft section) on every node;
    bad values refused with a message naming the bound (range, heartbeat at most half the
    election timeout, session.timeout_min_ms at least twice it), restart-only raft.lease_reads
    and net.idle refused as such, bad `leader priority` arguments exit 2;
  - `leader priority N 0` for both of the leader's peers: every node prints the table it now
    holds; with the leader stopped (SIGSTOP) for 8 election timeouts no peer campaigns (role and
    term unchanged: they never lead); after SIGCONT the same leader still leads;
  - `leader priority N 5` for one of them: leadership moves to it once it is caught up, and it
    keeps it; its `config show` says priority = 5;
  - a restarted node takes the file's priority again (status shows 1); restarted with
    lease_reads on, its election timeout is refused (restart_needed) and its heartbeat is not.
Every wait polls a fresh observation with a generous bound and prints what it last saw.
"""
import json
import os
import signal
import time

from zinc_cluster import Cluster, log

ZINCD = os.environ["ZINCD"]
ZINCCTL = os.environ["ZINCCTL"]
CLUSTER = 43

C = Cluster(ZINCD, ZINCCTL, CLUSTER, prefix="zn-ops-raft-", ports=10, session_timeout_min_ms=2000)
procs = C.procs
fail, ok, stop, ctl, ctl_json, wait_for = C.fail, C.ok, C.stop, C.ctl, C.ctl_json, C.wait_for


def start(i, extra=""):
    C.start(i, C.write_config(i, C.members_text((1, 2, 3)), extra=extra))


def statuses(endpoints=(1, 2, 3)):
    """Fresh status of every reachable endpoint, by id."""
    r = ctl(["status"], endpoints, json_out=True)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        return {}
    return {n["id"]: n for n in doc.get("nodes", []) if "role" in n}


def agreed_leader(endpoints=(1, 2, 3)):
    st = statuses(endpoints)
    leaders = [i for i, n in st.items() if n["role"] == "leader"]
    if len(leaders) == 1 and len(st) == len(endpoints) and \
            all(n["leader"] == leaders[0] for n in st.values()):
        return leaders[0], st
    return 0, st


def main():
    for i in (1, 2, 3):
        start(i)
    leader = wait_for("a leader all 3 nodes agree on",
                      lambda: (lambda x: (x[0] != 0, x))(agreed_leader()))[0]
    st = statuses()
    ok(all(n["raft"]["election_timeout_ms"] == 150 and n["raft"]["priority"] == 1
           for n in st.values()), "default raft settings in status: %s" %
       {i: n.get("raft") for i, n in st.items()})
    log("cluster up, leader %d; status shows election_timeout_ms 150, priority 1" % leader)

    # ---- config set of the runtime raft keys ----
    r = ctl(["config", "set", "raft.election_timeout_ms", "400"])
    ok(r.returncode == 0 and r.stdout.count("raft.election_timeout_ms = 400") == 3,
       "config set raft.election_timeout_ms 400: %r" % r)
    r = ctl(["config", "set", "raft.heartbeat_interval_ms", "40"])
    ok(r.returncode == 0, "config set raft.heartbeat_interval_ms 40: %r" % r)
    rc, d, _ = ctl_json(["config", "show"])
    ok(rc == 0 and all("election_timeout_ms = 400" in n["ini"] and
                       "heartbeat_interval_ms = 40" in n["ini"] and
                       "raft.election_timeout_ms" in n["runtime_keys"] for n in d["nodes"]),
       "config show after set: %s" % d)
    st = statuses()
    ok(len(st) == 3 and all(n["raft"]["election_timeout_ms"] == 400 and
                            n["raft"]["heartbeat_interval_ms"] == 40 for n in st.values()),
       "the core holds the new timers: %s" % {i: n.get("raft") for i, n in st.items()})
    log("config set raft.election_timeout_ms 400, heartbeat_interval_ms 40: shown and held")
    bad = [(["config", "set", "raft.election_timeout_ms", "1"], 1, "2..60000"),
           (["config", "set", "raft.election_timeout_ms", "abc"], 1, "expected an integer"),
           (["config", "set", "raft.heartbeat_interval_ms", "300"], 1, "at most half"),
           (["config", "set", "raft.election_timeout_ms", "5000"], 1, "timeout_min_ms"),
           (["config", "set", "raft.priority", "256"], 1, "0..255"),
           (["config", "set", "raft.lease_reads", "true"], 1, "restart"),
           (["config", "set", "net.idle", "busy"], 1, "restart"),
           (["leader", "priority", "0", "5"], 2, "node id"),
           (["leader", "priority", "2", "256"], 2, "priority must be"),
           (["leader", "priority", "2", "x"], 2, "priority must be")]
    for args, want, text in bad:
        r = ctl(args)
        ok(r.returncode == want and text in r.stderr, "%s: want exit %d and %r: %r" %
           (" ".join(args), want, text, r))
    st = statuses()
    ok(all(n["raft"]["election_timeout_ms"] == 400 and n["raft"]["heartbeat_interval_ms"] == 40
           for n in st.values()), "refused values changed nothing: %s" %
       {i: n.get("raft") for i, n in st.items()})
    log("bad values and restart-only keys refused (%d cases), nothing changed" % len(bad))

    # ---- priority 0 on the leader's peers: they never lead ----
    leader, _ = wait_for("an agreed leader", lambda: (lambda x: (x[0] != 0, x))(agreed_leader()))
    peers = [i for i in (1, 2, 3) if i != leader]
    for p in peers:
        r = ctl(["leader", "priority", str(p), "0"])
        ok(r.returncode == 0 and "not replicated" in r.stdout and
           r.stdout.count("table:") == 3, "leader priority %d 0: %r" % (p, r))
    rc, d, _ = ctl_json(["leader", "priority", str(peers[0]), "0"])
    ok(rc == 0 and len(d["nodes"]) == 3 and
       all(n["priorities"][str(peers[0])] == 0 for n in d["nodes"]) and
       all(n["priority"] == (0 if n["id"] in peers else 1) for n in d["nodes"]),
       "leader priority --json: every node holds 0 for the peers: %s" % d)
    log("leader priority %d 0, %d 0: every node holds them (output: %s)" %
        (peers[0], peers[1], r.stdout.strip().splitlines()[0]))
    before = statuses(peers)
    terms = {i: n["term"] for i, n in before.items()}
    procs[leader].send_signal(signal.SIGSTOP)
    seen = set()
    try:
        until = time.time() + 8 * 0.4 * 2  # 8 longest election timeouts (2 x 400 ms)
        polls = 0
        while time.time() < until:
            st = statuses(peers)
            polls += 1
            for i, n in st.items():
                seen.add((i, n["role"], n["term"]))
                ok(n["role"] == "follower" and n["term"] == terms[i],
                   "priority-0 peer %d campaigned while the leader was stopped: %s (term before "
                   "%s)" % (i, n["role"], terms))
            time.sleep(0.2)
        ok(polls >= 3, "too few observations of the peers (%d)" % polls)
    finally:
        procs[leader].send_signal(signal.SIGCONT)
    log("leader %d stopped for 6.4 s: peers stayed followers in their term (%s)" %
        (leader, sorted(seen)))
    wait_for("leader %d leads again after SIGCONT" % leader,
             lambda: (lambda x: (x[0] == leader, x))(agreed_leader()))

    # ---- a raised priority moves leadership once caught up ----
    target = peers[0]
    r = ctl(["leader", "priority", str(target), "5"])
    ok(r.returncode == 0, "leader priority %d 5: %r" % (target, r))
    wait_for("leadership moves to node %d (priority 5)" % target,
             lambda: (lambda x: (x[0] == target, x))(agreed_leader()))
    time.sleep(2.0)
    now, st = agreed_leader()
    ok(now == target, "node %d keeps the leadership: %s" % (target, st))
    rc, d, _ = ctl_json(["config", "show"], (target,))
    ok(rc == 0 and "priority = 5" in d["nodes"][0]["ini"], "config show on %d: %s" % (target, d))
    log("leader priority %d 5: leadership moved %d -> %d and stays" % (target, leader, target))

    # ---- not replicated: a restart takes the file's value ----
    other = peers[1]
    stop(other)
    start(other, "[raft]\nlease_reads = true\n")
    st = wait_for("node %d back after restart" % other,
                  lambda: (lambda s: (other in s and s[other]["leader"] != 0, s))(statuses()))
    ok(st[other]["raft"]["priority"] == 1 and st[other]["raft"]["election_timeout_ms"] == 150,
       "restarted node %d takes its file's settings: %s" % (other, st[other]["raft"]))
    log("node %d restarted: priority 1, election_timeout_ms 150 from its file" % other)
    # with lease reads on, the election timeout stays as started (the lease needs it)
    r = ctl(["config", "set", "raft.election_timeout_ms", "300", "--id", str(other)])
    ok(r.returncode == 1 and "restart_needed" in r.stderr and "lease_reads" in r.stderr,
       "election timeout with lease reads on: %r" % r)
    r = ctl(["config", "set", "raft.heartbeat_interval_ms", "20", "--id", str(other)])
    ok(r.returncode == 0, "heartbeat with lease reads on: %r" % r)
    st = statuses((other,))
    ok(st[other]["raft"]["election_timeout_ms"] == 150 and
       st[other]["raft"]["heartbeat_interval_ms"] == 20, "node %d after both: %s" %
       (other, st[other]["raft"]))
    log("node %d (lease_reads on): election timeout refused (restart_needed), heartbeat set" %
        other)
    for i in (1, 2, 3):
        rc = stop(i)
        ok(rc == 0, "node %d exited %s after SIGTERM" % (i, rc))


if __name__ == "__main__":
    C.run(main)
