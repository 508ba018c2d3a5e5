#!/usr/bin/env python3
"""tests/ops/test_zincctl.py - every zincctl command against a real 3-node loopback cluster.

zincd processes are started directly (kernel transport on 127.0.0.1, ports picked free at
start), each with its control socket in its data directory; node 1 also has the token-protected
TCP control listener. Checked, in order:
  - --help on every command; usage errors (unknown command/option, bad ids) exit 2;
  - status/check/stats/latency/log info/watches summary/sessions list/config show in human
    and --json form (parsed), over the Unix sockets and over TCP with the token; a bad token
    exits 4 and the token never appears in a node's log; an absent endpoint exits 3;
  - `members add` of a 4th node and `remove` of a follower while zn-labc writes: the new node
    catches up and is promoted to voter; after the load, every acknowledged write is read back
    through every remaining member (0 lost);
  - `leader transfer` (to a named node and to the default choice);
  - `config set session.timeout_max_ms`: visible in `config show` and in behaviour (a new
    session's negotiated timeout in `sessions list`); restart-only keys refused; `leader
    priority` at every node's default (no hand-over; test_raft_runtime.py covers the rest);
  - `sessions kill`: the killed session's ephemeral node disappears;
  - `snapshot create/list/download`, `backup`, offline `restore` (refused for another cluster
    id and for a non-empty directory) into a fresh single-node cluster that serves the same
    tree digest;
  - `check` exit codes: 0 healthy, 6 a member lagging (a learner the leader cannot reach),
    7 a node killed, 5 no leader (a second voter killed).
Every wait polls a fresh observation with a generous bound and prints what it last saw.
"""
import json
import os
import random
import signal
import subprocess

from zinc_cluster import Cluster, log

ZINCD = os.environ["ZINCD"]
ZINCCTL = os.environ["ZINCCTL"]
LABC = os.environ["LABC"]
ZINC_CLI = os.environ["ZINC_CLI"]
CLUSTER = 41

C = Cluster(ZINCD, ZINCCTL, CLUSTER, prefix="zn-ops-ctl-", ports=40, session_timeout_min_ms=500)
tmp = C.tmp
sock_override = C.sock_override
fail, ok, udp_port, members_text, sock = C.fail, C.ok, C.udp_port, C.members_text, C.sock
write_config, start, stop, ctl, ctl_json, wait_for = (C.write_config, C.start, C.stop, C.ctl,
                                                       C.ctl_json, C.wait_for)


def tcp_ctl_port(i):
    return C.base + 20 + i


def stop_clean(i):
    """SIGTERM must end a node with exit 0 (in the ASan build: no leak, no error report)."""
    rc = stop(i)
    ok(rc == 0, "node %d exited %s after SIGTERM (see n%d.log)" % (i, rc, i))


def leader_of(endpoints=(1, 2, 3)):
    rc, doc, _ = ctl_json(["status"], endpoints)
    roles = {n["id"]: n for n in doc["nodes"]}
    leaders = [n["id"] for n in doc["nodes"] if n["role"] == "leader"]
    return (leaders[0] if len(leaders) == 1 else 0), roles


def labc(args, timeout=120):
    return subprocess.run([LABC, "-c", str(CLUSTER), "-t", "3000"] + args, capture_output=True,
                          text=True, timeout=timeout)


def hosts(ids):
    return ",".join("127.0.0.1:%d" % udp_port(i) for i in ids)


def main():
    token = "tok-%08x" % random.getrandbits(32)
    with open(os.path.join(tmp, "token"), "w") as f:
        f.write(token + "\n")
    os.chmod(os.path.join(tmp, "token"), 0o600)
    with open(os.path.join(tmp, "badtoken"), "w") as f:
        f.write("wrong\n")
    three = members_text([1, 2, 3])
    for i in (1, 2, 3):
        extra = ""
        if i == 1:
            extra = "[control]\ntcp_port = %d\ntoken_file = %s\n" % (
                tcp_ctl_port(1), os.path.join(tmp, "token"))
        start(i, write_config(i, three, extra=extra))
    wait_for("a healthy 3-node cluster (zincctl check exit 0)",
             lambda: (lambda r: (r.returncode == 0, r.stdout + r.stderr))(ctl(["check"])))
    log("cluster up: check exit 0")

    # ---- help and usage errors ----
    for c in ["status", "members", "leader", "snapshot", "backup", "restore", "config", "stats",
              "latency", "sessions", "watches", "log", "check"]:
        r = ctl([c, "--help"], endpoints=())
        ok(r.returncode == 0 and "usage: zincctl" in r.stdout, "%s --help: %r" % (c, r))
    r = ctl(["--help"], endpoints=())
    ok(r.returncode == 0 and "exit codes" in r.stdout, "zincctl --help")
    for args, what in [(["frobnicate"], "unknown command"), (["status", "--frob"], "unknown option"),
                       (["members", "remove", "x"], "bad node id"),
                       (["members", "add", "4@nowhere"], "bad member spec"),
                       (["leader", "transfer", "to", "999"], "bad target"),
                       (["config", "set", "onlyone"], "config set arity"),
                       (["watches"], "missing subcommand")]:
        r = ctl(args)
        ok(r.returncode == 2 and r.stderr, "%s: exit %d, stderr %r" % (what, r.returncode,
                                                                        r.stderr))
    r = subprocess.run([ZINCCTL, "status"], capture_output=True, text=True)
    ok(r.returncode == 2 and "endpoint" in r.stderr, "no endpoint: %r" % r.stderr)
    r = subprocess.run([ZINCCTL, "--node", "127.0.0.1:%d" % tcp_ctl_port(1), "status"],
                       capture_output=True, text=True)
    ok(r.returncode == 2 and "token" in r.stderr, "--node without --token-file: %r" % r.stderr)
    log("help and usage errors: ok")

    # ---- status and friends, JSON and human ----
    rc, doc, _ = ctl_json(["status"])
    ok(rc == 0 and len(doc["nodes"]) == 3, "status --json: %s" % doc)
    for n in doc["nodes"]:
        for k in ["id", "role", "term", "leader", "commit", "applied", "lag_entries", "sessions",
                  "znodes", "watches", "rss_bytes", "wal_bytes", "snapshot_bytes",
                  "last_election_reason", "members", "first_index", "last_index"]:
            ok(k in n, "status --json lacks %s: %s" % (k, n))
        ok(n["rss_bytes"] > 0 and n["wal_bytes"] > 0, "status sizes: %s" % n)
    ok(len({n["leader"] for n in doc["nodes"]}) == 1, "one leader: %s" % doc)
    r = ctl(["status"])
    ok(r.returncode == 0 and "ROLE" in r.stdout and r.stdout.count("\n") >= 4,
       "status table: %r" % r.stdout)
    tcp = [ZINCCTL, "--node", "127.0.0.1:%d" % tcp_ctl_port(1), "--token-file",
           os.path.join(tmp, "token"), "--json", "status"]
    r = subprocess.run(tcp, capture_output=True, text=True)
    ok(r.returncode == 0 and json.loads(r.stdout)["nodes"][0]["id"] == 1, "TCP status: %r" % r)
    tcp[4] = os.path.join(tmp, "badtoken")
    r = subprocess.run(tcp, capture_output=True, text=True)
    ok(r.returncode == 4 and "unauthorized" in r.stdout + r.stderr, "bad token: %r" % r)
    with open(os.path.join(tmp, "n1.log")) as f:
        ok(token not in f.read(), "the token appears in node 1's log")
    r = ctl(["config", "show", "--id", "9"])
    ok(r.returncode == 1 and "node 9" in r.stderr, "config show of an unknown node: %r" % r)
    r = ctl(["snapshot", "download", os.path.join(tmp, "x.snap"), "--id", "9"])
    ok(r.returncode == 3 and "node 9" in r.stderr, "download from an unknown node: %r" % r)
    r = ctl(["status"], endpoints=(9,))
    ok(r.returncode == 3, "unreachable endpoint: exit %d %r" % (r.returncode, r.stdout))
    for args in (["stats"], ["watches", "summary"], ["log", "info"], ["sessions", "list"],
                 ["latency"], ["snapshot", "list"], ["config", "show"], ["members", "list"]):
        rc, d, _ = ctl_json(args)
        ok(rc == 0, "%s --json: rc %d %s" % (args, rc, d))
        r = ctl(args)
        ok(r.returncode == 0 and r.stdout.strip(), "%s (table): %r" % (args, r))
    rc, d, _ = ctl_json(["log", "info"])
    for n in d["nodes"]:
        ok(n["first_index"] >= 1 and n["last_index"] >= n["commit"] >= 1, "log info: %s" % n)
    log("status, stats, watches, log info, sessions, latency, config show (human, JSON, TCP): ok")

    # ---- membership under load: add node 4, remove a follower ----
    acked = os.path.join(tmp, "acked.txt")
    load = subprocess.Popen([LABC, "-c", str(CLUSTER), "-t", "3000", hosts([1, 2, 3]), "load",
                             "/w", "10000", "30", acked], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    wait_for("load started", lambda: (os.path.exists(acked) and os.path.getsize(acked) > 0,
                                      "no acked file yet"))
    r = ctl(["members", "add", "4@127.0.0.1:%d" % udp_port(4)])
    ok(r.returncode == 0 and "proposed" in r.stdout, "members add 4: %r" % r)
    start(4, write_config(4, members_text([1, 2, 3, 4]), learners="4"))

    def four_is_voter():
        rc, d, _ = ctl_json(["members", "list"], (1, 2, 3, 4))
        m = {x["id"]: x for x in d.get("members", [])}
        return 4 in m and m[4]["kind"] == "voter" and m[4]["state"] == "follower", d
    wait_for("node 4 promoted to voter and following", four_is_voter)
    leader, _ = leader_of((1, 2, 3, 4))
    victim = [i for i in (1, 2, 3) if i != leader][0]
    ok(load.poll() is None, "the load ended before the membership changes (too fast?)")
    r = ctl(["members", "remove", str(victim)], (1, 2, 3, 4))
    ok(r.returncode == 0, "members remove %d: %r" % (victim, r))
    rest = [i for i in (1, 2, 3, 4) if i != victim]

    def removed():
        rc, d, _ = ctl_json(["members", "list"], rest)
        ids = [x["id"] for x in d.get("members", [])]
        return victim not in ids and len(ids) == 3, d
    wait_for("node %d gone from the membership" % victim, removed)
    ok(load.poll() is None, "the load ended before the removal completed")
    stop_clean(victim)
    out, _ = load.communicate(timeout=120)
    ok(load.returncode == 0, "load: %s" % out)
    v = labc([hosts(rest), "verify", acked, "/w"])
    ok(v.returncode == 0 and "lost 0" in v.stdout, "verify after add/remove: %s %s" % (
        v.stdout, v.stderr))
    log("members add 4 + remove %d under load: %s; %s" % (
        victim, [x for x in out.splitlines() if x.startswith("load:")][0], v.stdout.strip().splitlines()[0]))

    # ---- leader transfer ----
    leader, _ = leader_of(rest)
    target = [i for i in rest if i != leader][0]
    r = ctl(["leader", "transfer", "to", str(target)], rest)
    ok(r.returncode == 0 and "done" in r.stdout, "leader transfer to %d: %r" % (target, r))
    ok(leader_of(rest)[0] == target, "leader after transfer")
    rc, d, _ = ctl_json(["leader", "transfer"], rest)
    ok(rc == 0 and d["done"] and d["to"] != target, "leader transfer (default): %s" % d)
    # equal to every node's own default: no hand-over (test_raft_runtime.py moves leadership)
    r = ctl(["leader", "priority", "2", "1"], rest)
    ok(r.returncode == 0 and "not replicated" in r.stdout, "leader priority: %r" % r)
    log("leader transfer %d -> %d -> %d: ok" % (leader, target, d["to"]))

    # ---- config set: visible and in behaviour ----
    r = ctl(["config", "set", "session.timeout_max_ms", "4000"], rest)
    ok(r.returncode == 0, "config set: %r" % r)
    rc, d, _ = ctl_json(["config", "show"], rest)
    ok(all("timeout_max_ms = 4000" in n["ini"] for n in d["nodes"]), "config show after set")
    r = ctl(["config", "set", "raft.lease_reads", "true"], rest)
    ok(r.returncode == 1 and "restart" in r.stderr, "restart-only key: %r" % r)
    r = ctl(["config", "set", "nosuch.key", "1"], rest)
    ok(r.returncode == 1 and "unknown key" in r.stderr, "unknown key: %r" % r)
    cli = subprocess.Popen([ZINC_CLI, "-s", hosts([rest[0]]), "--cluster-id", str(CLUSTER)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    cli.stdin.write("create -e /eph held\n")
    cli.stdin.flush()

    def session_on_node():
        rc, d, _ = ctl_json(["sessions", "list"], rest)
        local = [s for n in d.get("nodes", []) for s in n["sessions"] if s["local"]]
        have_eph = labc([hosts(rest), "exists", "/eph"]).returncode == 0
        return len(local) == 1 and have_eph, d
    d = wait_for("the shell's session listed and /eph created", session_on_node)
    sess = [s for n in d["nodes"] for s in n["sessions"] if s["local"]][0]
    ok(sess["timeout_ms"] == 4000, "negotiated timeout after config set: %s" % sess)
    log("config set session.timeout_max_ms 4000: shown and negotiated (%d ms)"
        % sess["timeout_ms"])

    # ---- sessions kill ----
    r = ctl(["sessions", "kill", sess["id"]], rest)
    ok(r.returncode == 0, "sessions kill: %r" % r)
    wait_for("/eph gone after sessions kill",
             lambda: (labc([hosts(rest), "exists", "/eph"]).returncode != 0, "still there"))
    r = ctl(["sessions", "kill", "0x1234"], rest)
    ok(r.returncode == 1 and "no session" in r.stderr, "kill unknown session: %r" % r)
    cli.stdin.close()
    cli.wait(timeout=30)
    log("sessions kill %s: ephemeral gone" % sess["id"])

    # ---- snapshots, backup, restore ----
    rc, d, _ = ctl_json(["snapshot", "create"], rest)
    ok(rc == 0 and d["index"] > 0, "snapshot create: %s" % d)
    rc, d, _ = ctl_json(["snapshot", "list"], rest)
    ok(rc == 0 and any(n["snapshots"] for n in d["nodes"]), "snapshot list: %s" % d)
    snapfile = os.path.join(tmp, "dl.snap")
    r = ctl(["snapshot", "download", snapfile], rest)
    ok(r.returncode == 0 and "verified" in r.stdout and "100%" in r.stderr,
       "snapshot download: %r" % r)
    backup = os.path.join(tmp, "backup.snap")
    rc, d, r = ctl_json(["backup", backup], rest)
    ok(rc == 0 and d["verified"] and os.path.getsize(backup) == d["bytes"], "backup: %s" % d)
    digest = labc([hosts(rest), "digest", "/w"])
    ok(digest.returncode == 0, "cluster digest: %s" % digest.stdout)
    want = digest.stdout.strip().splitlines()[0].split(": ", 1)[1]
    rdir = os.path.join(tmp, "r9")
    r = ctl(["restore", backup, "--data-dir", rdir, "--cluster-id", str(CLUSTER + 1),
             "--node-id", "9"], endpoints=())
    ok(r.returncode == 1 and "another cluster" in r.stderr, "restore wrong cluster: %r" % r)
    bad = os.path.join(tmp, "bad.snap")
    with open(backup, "rb") as f:
        img = bytearray(f.read())
    img[len(img) // 2] ^= 0xFF
    with open(bad, "wb") as f:
        f.write(img)
    r = ctl(["restore", bad, "--data-dir", rdir, "--cluster-id", str(CLUSTER), "--node-id", "9"],
            endpoints=())
    ok(r.returncode == 1 and "checksum" in r.stderr, "restore corrupt file: %r" % r)
    r = ctl(["restore", backup, "--data-dir", rdir, "--cluster-id", str(CLUSTER), "--node-id",
             "9"], endpoints=())
    ok(r.returncode == 0 and "restored" in r.stdout, "restore: %r" % r)
    r = ctl(["restore", backup, "--data-dir", rdir, "--cluster-id", str(CLUSTER), "--node-id",
             "9"], endpoints=())
    ok(r.returncode == 1 and "not a fresh" in r.stderr, "restore into non-empty: %r" % r)
    sock_override[9] = os.path.join(rdir, "control.sock")
    start(9, write_config(9, members_text([9]), data_dir=rdir))
    wait_for("restored single node healthy",
             lambda: (lambda x: (x.returncode == 0, x.stdout + x.stderr))(
                 ctl(["check"], endpoints=(9,))))
    got = labc([hosts([9]), "digest", "/w"])
    ok(got.returncode == 0 and got.stdout.strip().splitlines()[0].split(": ", 1)[1] == want,
       "restored digest %r != cluster %r" % (got.stdout, want))
    v = labc([hosts([9]), "verify", acked, "/w"])
    ok(v.returncode == 0 and "lost 0" in v.stdout, "verify on the restored node: %s" % v.stdout)
    stop_clean(9)
    log("snapshot create/list/download, backup, restore: restored node serves %s" % want)

    # ---- check exit codes ----
    r = ctl(["check"], rest)
    ok(r.returncode == 0, "check healthy: %r" % r)
    # 6: a learner the leader cannot reach (its address is registered wrong) never catches up
    r = ctl(["members", "add", "5@127.0.0.1:%d" % udp_port(6), "--learner"], rest)
    ok(r.returncode == 0, "members add 5 (learner): %r" % r)
    start(5, write_config(5, members_text(rest + [5]), learners="5"))
    all5 = rest + [5]
    wait_for("check exit 6 (lagging learner)",
             lambda: (lambda x: (x.returncode == 6, x.stdout + x.stderr))(ctl(["check"], all5)))
    r = ctl(["members", "promote", "5"], all5)
    ok(r.returncode == 1 and "not_caught_up" in r.stderr, "promote a lagging learner: %r" % r)
    r = ctl(["members", "remove", "5"], all5)
    ok(r.returncode == 0, "members remove 5: %r" % r)
    stop_clean(5)
    wait_for("check exit 0 after removing 5",
             lambda: (lambda x: (x.returncode == 0, x.stdout + x.stderr))(ctl(["check"], rest)))
    leader, _ = leader_of(rest)
    followers = [i for i in rest if i != leader]
    stop(followers[0], signal.SIGKILL)
    wait_for("check exit 7 (node killed)",
             lambda: (lambda x: (x.returncode == 7, x.stdout + x.stderr))(ctl(["check"], rest)))
    stop(followers[1], signal.SIGKILL)
    wait_for("check exit 5 (no leader: 2 of 3 voters killed)",
             lambda: (lambda x: (x.returncode == 5, x.stdout + x.stderr))(ctl(["check"], rest)))
    rc, d, _ = ctl_json(["check"], rest)
    ok(rc == 5 and d["verdict"] == "no_leader", "check --json: %s" % d)
    log("check exit codes 0, 6, 7, 5: ok")
    stop_clean(leader)


if __name__ == "__main__":
    C.run(main)
