#!/usr/bin/env python3
"""zinc-cli against the scripted fake node of tests/client (suite ops).

    test_cli.py ZINC_CLI FAKE_NODE

One-shot mode (-c, -f, stdin): every command, success and failure, output formats (zkCli's stat,
ls, getAcl, errors, watch events), --json, exit codes (0 ok, 1 ZooKeeper error, 2 bad usage,
3 connection failure: wrong address, node down, wrong cluster id); then an interactive session
through a pty: prompt, line editing, history recall and persistence, tab completion, a watch
event printed while at the prompt, the watch command stopped with Ctrl-C, multi, errors.
Every wait is bounded (deadlines, not sleeps); the fake nodes stop by themselves after 110 s.
Exits non-zero on the first failed check and prints what it checked.
"""
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

CLI, FAKE = sys.argv[1], sys.argv[2]
CLUSTER = "7"
checks = 0
procs = []


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    cleanup()
    sys.exit(1)


def check(cond, what, detail=""):
    global checks
    checks += 1
    if not cond:
        fail(f"{what}\n{detail}")
    print(f"ok {checks}: {what}", flush=True)


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)


def start_fake(nodes=1, cluster=CLUSTER):
    p = subprocess.Popen([FAKE, "--nodes", str(nodes), "--cluster-id", cluster, "--seconds",
                          "110"], stdout=subprocess.PIPE, text=True)
    procs.append(p)
    r, _, _ = select.select([p.stdout], [], [], 20)
    if not r:
        fail("fake-node printed no connection string within 20 s")
    line = p.stdout.readline().strip()
    if not re.fullmatch(r"127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+)*", line):
        fail(f"fake-node printed {line!r}")
    return p, line


# The fake node never frees a closed session (64 per fake cluster, then THROTTLEDOP): count
# them, and start a fresh fake node for each group of checks.
sessions = {}
SESSIONS_PER_FAKE = 60


def fresh_fake(old=None):
    if old is not None:
        old.terminate()
        old.wait(timeout=20)
    return start_fake(nodes=2)


def run(server, *cmds, extra=(), timeout_ms=10000, stdin=None, cluster=CLUSTER):
    key = server.split("/")[0]
    sessions[key] = sessions.get(key, 0) + 1 + sum(c.startswith("connect") for c in cmds)
    if sessions[key] > SESSIONS_PER_FAKE:
        fail(f"this test opens more than {SESSIONS_PER_FAKE} sessions on one fake node")
    args = [CLI, "-s", server, "--cluster-id", cluster, "--timeout", str(timeout_ms)]
    args += list(extra)
    for c in cmds:
        args += ["-c", c]
    r = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


STAT_RE = (r"cZxid = 0x[0-9a-f]+\nctime = \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} \w+ \d{4}\n"
           r"mZxid = 0x[0-9a-f]+\nmtime = \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} \w+ \d{4}\n"
           r"pZxid = 0x[0-9a-f]+\ncversion = -?\d+\ndataVersion = (?P<dv>-?\d+)\n"
           r"aclVersion = (?P<av>-?\d+)\nephemeralOwner = 0x(?P<eo>[0-9a-f]+)\n"
           r"dataLength = (?P<dl>\d+)\nnumChildren = (?P<nc>\d+)\n")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def one_shot():
    fake, S = fresh_fake()
    rc, out, err = run(S, "create /t hello")
    check(rc == 0 and out == "Created /t\n", "create prints Created <path>", out + err)
    rc, out, err = run(S, "get /t")
    check(rc == 0 and out == "hello\n", "get prints the value", out + err)
    rc, out, err = run(S, "get -s /t")
    m = re.fullmatch("hello\n" + STAT_RE, out)
    check(rc == 0 and m and m["dv"] == "0" and m["dl"] == "5" and m["eo"] == "0",
          "get -s prints the value then zkCli's stat (11 fields, in order)", out + err)
    rc, out, err = run(S, "create /t/n")
    rc2, out2, _ = run(S, "get /t/n")
    check(rc == 0 and out2 == "null\n", "create without data gives null data, get prints null",
          out + err + out2)
    rc, out, err = run(S, "create -s /t/seq-", "create -s /t/seq-", "create -e /t/e",
                       "getEphemerals /t", "ls /t")
    check(rc == 0 and out == "Created /t/seq-0000000001\nCreated /t/seq-0000000002\n"
          "Created /t/e\n[/t/e]\n[e, n, seq-0000000001, seq-0000000002]\n",
          "create -s appends %010d, create -e, getEphemerals, ls sorted as [a, b]", out + err)
    rc, out, err = run(S, "ls /t")
    check(rc == 0 and out == "[n, seq-0000000001, seq-0000000002]\n",
          "the ephemeral went away with its session", out + err)
    rc, out, err = run(S, "ls -s /t")
    m = re.fullmatch(r"\[n, seq-0000000001, seq-0000000002\]\n" + STAT_RE, out)
    check(rc == 0 and m and m["nc"] == "3", "ls -s prints the children then the stat", out + err)
    rc, out, err = run(S, "set -s -v 0 /t world")
    m = re.fullmatch(STAT_RE, out)
    check(rc == 0 and m and m["dv"] == "1" and m["dl"] == "5", "set -s -v prints the new stat",
          out + err)
    rc, out, err = run(S, "set -v 0 /t again")
    check(rc == 1 and err == "version No is not valid : /t (BADVERSION)\n",
          "set with a stale version: exit 1, zkCli's message and the code name", out + err)
    rc, out, err = run(S, "get /nope")
    check(rc == 1 and out == "" and err == "Node does not exist: /nope (NONODE)\n",
          "get of a missing node: exit 1, Node does not exist", out + err)
    rc, out, err = run(S, "create /t")
    check(rc == 1 and err == "Node already exists: /t (NODEEXISTS)\n",
          "create of an existing node: exit 1, Node already exists", out + err)
    rc, out, err = run(S, "delete /t")
    check(rc == 1 and err == "Node not empty: /t (NOTEMPTY)\n", "delete of a parent: NOTEMPTY",
          out + err)
    rc, out, err = run(S, "delete -v 5 /t/n")
    check(rc == 1 and "BADVERSION" in err, "delete -v with a wrong version: BADVERSION", err)
    rc, out, err = run(S, "delete -v 0 /t/n", "stat /t/n")
    check(rc == 1 and out == "" and err == "Node does not exist: /t/n (NONODE)\n",
          "delete -v 0 deletes, stat then fails with NONODE (one-shot stops there)", out + err)
    rc, out, err = run(S, "stat /t")
    m = re.fullmatch(STAT_RE, out)
    check(rc == 0 and m and m["nc"] == "2", "stat prints zkCli's stat", out + err)
    rc, out, err = run(S, "getAcl /t")
    check(rc == 0 and out == "'world,'anyone\n: cdrwa\n", "getAcl prints 'scheme,'id / : perms",
          out + err)
    rc, out, err = run(S, "create /t/ro x", "setAcl -s /t/ro world:anyone:r", "getAcl /t/ro")
    check(rc == 0 and re.fullmatch(r"Created /t/ro\n" + STAT_RE + r"'world,'anyone\n: r\n", out)
          and re.search(r"aclVersion = 1\n", out), "setAcl -s sets the ACL and prints the stat",
          out + err)
    rc, out, err = run(S, "set /t/ro y")
    check(rc == 1 and err == "Insufficient permission : /t/ro (NOAUTH)\n",
          "a write refused by the ACL: exit 1, Insufficient permission", out + err)
    rc, out, err = run(S, "setAcl /t/ro world:anyone:xyz")
    check(rc == 2 and "cdrwa" in err, "setAcl with bad perms: exit 2", err)
    rc, out, err = run(S, "setAcl /t/ro noperms")
    check(rc == 2 and "scheme:id:perm" in err, "setAcl with a malformed ACL: exit 2", err)
    rc, out, err = run(S, "addauth digest alice:secret", "create /t/mine x auth::cdrwa",
                       "getAcl /t/mine", "whoami")
    check(rc == 0 and "'digest,'alice" in out and ": cdrwa" in out and
          "Auth scheme: User\n" in out and "digest: alice" in out,
          "addauth digest, create with auth ACL, getAcl shows the digest id, whoami", out + err)
    rc, out, err = run(S, "get /t/mine")
    check(rc == 1 and "NOAUTH" in err, "another session without the identity: NOAUTH", err)
    rc, out, err = run(S, "sync /t", "getAllChildrenNumber /t")
    check(rc == 0 and out == "Sync is OK\n4\n", "sync prints Sync is OK; getAllChildrenNumber",
          out + err)
    rc, out, err = run(S, "ls -R /t")
    check(rc == 1 and "Insufficient permission : /t/mine (NOAUTH)" in err,
          "ls -R needs READ on every node of the subtree", out + err)
    rc, out, err = run(S, "addauth digest alice:secret", "create /t/seq-0000000001/deep",
                       "ls -R /t")
    check(rc == 0 and out.split("\n")[1:] == ["/t", "/t/mine", "/t/ro", "/t/seq-0000000001",
                                              "/t/seq-0000000001/deep", "/t/seq-0000000002", ""],
          "ls -R lists the subtree in DFS order, one path a line", out + err)
    rc, out, err = run(S, "create -c /cont", "create -t 5000 /ttl v", "stat /cont")
    check(rc == 0 and out.startswith("Created /cont\nCreated /ttl\n"),
          "create -c (container) and create -t (TTL)", out + err)
    rc, out, err = run(S, "create -c -e /bad")
    check(rc == 2 and "-c cannot be combined" in err, "create -c -e: exit 2", err)
    rc, out, err = run(S, "create -e -t 100 /bad")
    check(rc == 2 and "TTL" in err, "create -e -t: exit 2", err)

    rc, out, err = run(S, "addauth digest alice:secret", "deleteall /t", "ls /")
    check(rc == 0 and out == "[cont, ttl]\n", "deleteall of a nested subtree", out + err)

    fake, S = fresh_fake(fake)
    # Watches in one-shot mode: the event is printed zkCli-style before exit.
    rc, out, err = run(S, "create /w 1", "get -w /w", "set /w 2")
    check(rc == 0 and out == "Created /w\n1\n\nWATCHER::\n\nWatchedEvent state:SyncConnected "
          "type:NodeDataChanged path:/w\n", "get -w then set: WATCHER:: / WatchedEvent line",
          out + err)
    rc, out, err = run(S, "ls -w /w", "create /w/c", "create /w/x", "stat -w /w/x",
                       "set /w/x 1")
    check(rc == 0 and "type:NodeChildrenChanged path:/w\n" in out and
          "type:NodeDataChanged path:/w/x\n" in out, "ls -w and stat -w watches fire", out + err)
    rc, out, err = run(S, "get -w /w", "removewatches /w -d", "set /w 3")
    check(rc == 0 and "NodeDataChanged" not in out and "type:DataWatchRemoved path:/w" in out,
          "removewatches -d removes the data watch (DataWatchRemoved, no change event)",
          out + err)
    rc, out, err = run(S, "removewatches /w")
    check(rc == 1 and "NOWATCHER" in err, "removewatches with no watch: NOWATCHER", err)
    rc, out, err = run(S, "addWatch -m PERSISTENT_RECURSIVE /w", "create /w/c/d", "set /w/c/d x")
    check(rc == 0 and "type:NodeCreated path:/w/c/d" in out and
          "type:NodeDataChanged path:/w/c/d" in out, "addWatch recursive", out + err)

    # watch: streams events, one line per event.
    p = subprocess.Popen([CLI, "-s", S, "--cluster-id", CLUSTER, "-c", "watch /w --count 3"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(p)
    r, _, _ = select.select([p.stderr], [], [], 20)
    line = p.stderr.readline() if r else ""
    check(line == "Watching /w (Ctrl-C to stop)\n", "watch announces the stream", line)
    run(S, "set /w a", "set /w b", "create /w/z")
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        fail("watch --count 3 did not end")
    ev = "WatchedEvent state:SyncConnected type:"
    check(p.returncode == 0 and out == f"{ev}NodeDataChanged path:/w\n{ev}NodeDataChanged "
          f"path:/w\n{ev}NodeChildrenChanged path:/w\n", "watch streams one line per event",
          out + err)
    p = subprocess.Popen([CLI, "-s", S, "--cluster-id", CLUSTER, "-c", "watch /w --recursive"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(p)
    r, _, _ = select.select([p.stderr], [], [], 20)
    line = p.stderr.readline() if r else ""
    check(line == "Watching /w recursively (Ctrl-C to stop)\n", "watch --recursive starts", line)
    run(S, "create /w/c/e")
    deadline = time.monotonic() + 20
    got = ""
    while time.monotonic() < deadline and "\n" not in got:
        r, _, _ = select.select([p.stdout], [], [], 1)
        if r:
            got += p.stdout.readline()
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        fail("watch did not stop on SIGINT")
    check(got == f"{ev}NodeCreated path:/w/c/e\n" and p.returncode == 0,
          "watch --recursive reports a grandchild; Ctrl-C ends it with exit 0", got + out + err)

    # multi
    rc, out, err = run(S, "multi", "create /m1 a", "create /m2", "set /m1 b", "check -v 1 /m1",
                       "end", "get /m1")
    check(rc == 0 and out == "[1] create /m1: Created /m1\n[2] create /m2: Created /m2\n"
          "[3] set /m1: OK\n[4] check /m1: OK\nmulti: committed 4 ops\nb\n",
          "multi ... end: atomic, per-op results", out + err)
    rc, out, err = run(S, "multi", "create /m3", "delete /nope", "set /m1 c", "end")
    check(rc == 1 and out == "[1] create /m3: not applied (a later op failed)\n"
          "[2] delete /nope: Node does not exist: /nope (NONODE)\n"
          "[3] set /m1: not applied (an earlier op failed)\n" and
          err == "multi: not committed, no node (NONODE)\n",
          "a failing multi: exit 1, the failing op named, nothing applied", out + err)
    rc, out, err = run(S, "stat /m3")
    check(rc == 1, "nothing of the failed multi was applied", out + err)
    rc, out, err = run(S, "multi", "create /m5", "check -v 9 /m1", "end", extra=["--json"])
    j = json.loads(out) if rc == 1 and out.count("\n") == 1 else {}
    check(j.get("committed") is False and [o["result"] for o in j["ops"]] ==
          ["NOT_APPLIED", "BADVERSION"], "multi --json: per-op results", out + err)
    rc, out, err = run(S, "multi", "ls /")
    check(rc == 2 and "only create, delete, set, check" in err, "a read inside multi: exit 2",
          err)
    rc, out, err = run(S, "multi", "create /m4")
    check(rc == 2 and "not closed" in err, "multi without end: exit 2, discarded", err)

    # deleteall: children first, in multi batches, progress above 1000 nodes.
    script = "create /big\n" + "".join(
        "multi\n" + "".join(f"create /big/n{b}-{i}\n" for i in range(600)) + "end\n"
        for b in range(2))
    rc, out, err = run(S, extra=["-f", "-"], stdin=script)
    check(rc == 0 and out.count("multi: committed 600 ops") == 2, "1200 nodes created by -f -",
          err[-500:])
    rc, out, err = run(S, "getAllChildrenNumber /big", "deleteall /big", "stat /big")
    check(rc == 1 and out == "1200\n" and "deleteall /big: 1000/1201 deleted\n" in err and
          "deleteall /big: 1201/1201 deleted\n" in err and "Node does not exist: /big" in err,
          "deleteall removes 1201 nodes in batches with progress", out + err)
    rc, out, err = run(S, "deleteall /")
    check(rc == 2 and "refusing" in err, "deleteall / refused", err)

    # --json
    rc, out, err = run(S, "create /j v", "get /j", "ls /", "stat /j", "getAcl /j",
                       extra=["--json"])
    lines = [json.loads(x) for x in out.splitlines()]
    check(rc == 0 and len(lines) == 5 and lines[0]["path"] == "/j" and lines[1]["data"] == "v"
          and lines[1]["stat"]["dataVersion"] == 0 and "j" in lines[2]["children"] and
          lines[3]["stat"]["dataLength"] == 1 and
          lines[4]["acl"] == [{"scheme": "world", "id": "anyone", "perms": "cdrwa"}],
          "--json: one object per result", out + err)
    rc, out, err = run(S, "get /nope", extra=["--json"])
    e = json.loads(err)
    check(rc == 1 and out == "" and e["error"] == "NONODE" and e["code"] == -101 and
          e["path"] == "/nope", "--json errors are JSON on stderr with the ZooKeeper code", err)

    fake, S = fresh_fake(fake)
    # scripts: -f file with comments and blank lines; stdin; stop at the first failure.
    with tempfile.NamedTemporaryFile("w", suffix=".zk", delete=False) as f:
        f.write("# a comment\n\ncreate /s1 'two words'\nget /s1\nget /nope\ncreate /s2\n")
    rc, out, err = run(S, extra=["-f", f.name])
    os.unlink(f.name)
    check(rc == 1 and out == "Created /s1\ntwo words\n" and "Node does not exist: /nope" in err,
          "-f script: quotes, comments, stops at the first failing command with exit 1",
          out + err)
    rc, out, err = run(S, stdin="stat /s2\n")
    check(rc == 1 and "NONODE" in err, "commands from a non-tty stdin", out + err)

    # bad usage: exit 2 with the usage.
    for args, cmds, what, needle in [
        ([], ["get"], "a missing argument", "Usage: get [-s] [-w] path"),
        ([], ["bogus /a"], "an unknown command", "Unknown command: bogus"),
        ([], ["create -x /a"], "an unknown option", "Unknown option: -x"),
        ([], ["set -v abc /a b"], "a bad version", "-v version"),
        ([], ["get noslash"], "an invalid path", "BADARGUMENTS"),
        ([], ["get 'unbalanced"], "an unbalanced quote", "unbalanced quote"),
        (["--timeout", "abc"], [], "a bad --timeout", "usage: zinc-cli"),
        (["--bogus"], [], "an unknown flag", "usage: zinc-cli"),
        (["-f", "/nonexistent/x"], ["ls /"], "-c with -f", "exclusive"),
        (["-f", "/nonexistent/x"], [], "a missing script", "cannot open /nonexistent/x"),
        ([], ["help bogus"], "help of an unknown command", "Unknown command: bogus"),
    ]:
        rc, out, err = run(S, *cmds, extra=args)
        check(rc == 2 and needle in err, f"exit 2 for {what}", out + err)
    rc, out, err = run(S, "help")
    check(rc == 0 and all(f"\t{c}" in out for c in [
        "create [-e] [-s] [-c] [-t ttl] path [data] [acl]", "get [-s] [-w] path",
        "set [-s] [-v version] path data", "delete [-v version] path", "deleteall path",
        "ls [-s] [-w] [-R] path", "stat [-w] path", "getAcl [-s] path",
        "setAcl [-s] [-v version] [-R] path acl", "addauth scheme auth", "sync path",
        "watch path [--recursive]", "multi", "whoami", "getEphemerals [path]",
        "getAllChildrenNumber path", "removewatches path [-c|-d|-a]", "close",
        "connect host:port", "history", "quit", "help [command]"]), "help lists every command",
          out)
    rc, out, err = run("127.0.0.1:1", "help create")
    check(rc == 0 and out.startswith("create [-e] [-s] [-c] [-t ttl] path [data] [acl]\n") and
          "-e ephemeral" in out, "help <command> works without a node", out + err)

    # chroot in the connection string.
    rc, out, err = run(S, "create /m1", "create /m1/in-chroot c", "delete /m1/in-chroot")
    check(rc == 0, "the chroot exists", out + err)
    rc, out, err = run(S + "/m1", "create /in-chroot c", "ls /")
    rc2, out2, err2 = run(S, "get /m1/in-chroot")
    check(rc == 0 and out == "Created /in-chroot\n[in-chroot]\n" and out2 == "c\n",
          "a chroot in -s: paths are relative to it", out + err + out2 + err2)

    # connection failures: exit 3 naming the address.
    port = free_udp_port()
    rc, out, err = run(f"127.0.0.1:{port}", "ls /", timeout_ms=300)
    check(rc == 3 and f"cannot connect to 127.0.0.1:{port}" in err and "timed out" in err,
          "a wrong node address: exit 3, the address named", err)
    rc, out, err = run(S, "ls /", timeout_ms=300, cluster="8")
    check(rc == 3 and "cannot connect" in err and "cluster id 8" in err,
          "the wrong cluster id: exit 3", err)
    rc, out, err = run(S, "close", "ls /")
    check(rc == 3 and "Not connected" in err, "a command after close: exit 3", err)
    rc, out, err = run(S, "close", f"connect {S}", "stat /m1")
    check(rc == 0 and re.fullmatch(STAT_RE, out), "connect after close", out + err)

    # node down: one fake node killed, then a command and a running session.
    down, DS = start_fake()
    rc, out, err = run(DS, "create /d x")
    check(rc == 0, "the second fake node serves", out + err)
    p = subprocess.Popen([CLI, "-s", DS, "--cluster-id", CLUSTER, "--timeout", "1500"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    procs.append(p)
    p.stdin.write("get /d\n")
    p.stdin.flush()
    r, _, _ = select.select([p.stdout], [], [], 20)
    check(r and p.stdout.readline() == "x\n", "a script session reads from the node")
    down.terminate()
    down.wait(timeout=20)
    p.stdin.write("get /d\n")
    p.stdin.close()
    try:
        p.wait(timeout=30)
        out, err = p.stdout.read(), p.stderr.read()
    except subprocess.TimeoutExpired:
        fail("the session did not notice its node was down")
    check(p.returncode == 3 and "/d" in err and f"[node {DS}, state " in err and
          ("CONNECTIONLOSS" in err or
                                                 "OPERATIONTIMEOUT" in err),
          "node down during a session: exit 3", out + err)
    rc, out, err = run(DS, "ls /", timeout_ms=300)
    check(rc == 3 and f"cannot connect to {DS}" in err, "node down before connecting: exit 3",
          err)


class Pty:
    def __init__(self, args, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(args[0], args, env)
        self.buf = b""
        self.pos = 0

    def send(self, s):
        os.write(self.fd, s.encode())

    def expect(self, pattern, timeout=20):
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf, self.pos)
            if m:
                self.pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"pty: {pattern!r} not seen; output since the last match:\n"
                     f"{self.buf[self.pos:]!r}\nlast output:\n{self.buf[-1200:]!r}")
            r, _, _ = select.select([self.fd], [], [], min(left, 1))
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    fail(f"pty: EOF before {pattern!r}; output:\n{self.buf[self.pos:]!r}")
                self.buf += data

    def wait_exit(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                r, _, _ = select.select([self.fd], [], [], 0.2)
                if r:
                    self.buf += os.read(self.fd, 4096)
            except OSError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        fail("pty: the shell did not exit")


def interactive():
    fake, S = fresh_fake()
    hist = tempfile.NamedTemporaryFile(delete=False)
    hist.close()
    os.unlink(hist.name)
    env = {"PATH": "/usr/bin:/bin", "TERM": "xterm", "HOME": tempfile.gettempdir(),
           "ZINC_CLI_HISTORY": hist.name}
    args = [CLI, "-s", S, "--cluster-id", CLUSTER, "--timeout", "10000"]
    host = "(?:" + "|".join(re.escape(h) for h in S.split(",")) + ")"  # shuffled: either node
    sh = Pty(args, env)
    sh.expect(r"WatchedEvent state:SyncConnected type:None path:null")
    sh.expect(rf"\[zinc: {host}\(CONNECTED\) 0\] ")
    check(True, "pty: the prompt shows node, state and command number")
    sh.send("create /i one\r")
    sh.expect(r"Created /i\r\n")
    sh.expect(rf"\[zinc: {host}\(CONNECTED\) 1\] ")
    check(True, "pty: a command runs and the prompt counts it")
    sh.send("et /i\x01g\r")  # Ctrl-A: beginning of line, then insert the missing 'g'
    sh.expect(r"one\r\n")
    sh.expect(r"\(CONNECTED\) 2\] ")
    check(True, "pty: line editing (Ctrl-A, insert) gives 'get /i'")
    sh.send("\x10\r")  # Ctrl-P: the previous line from history
    sh.expect(r"one\r\n")
    sh.expect(r"\(CONNECTED\) 3\] ")
    check(True, "pty: history recall (Ctrl-P) repeats the last command")
    sh.send("get /nope\r")
    sh.expect(r"Node does not exist: /nope \(NONODE\)\r\n")
    sh.expect(r"\(CONNECTED\) 4\] ")
    check(True, "pty: an error is printed and the shell goes on")
    sh.send("bogus text")
    sh.expect(r"text")
    sh.send("\x03")  # Ctrl-C at the prompt drops the line
    sh.expect(r"\(CONNECTED\) \d+\] ")
    sh.send("stat /i\r")
    sh.expect(r"dataLength = 3\r\n")
    check(b"Unknown command" not in sh.buf, "pty: Ctrl-C at the prompt discards the typed line")
    sh.send("getAllCh\t")
    sh.expect(r"ildrenNumber ")  # libedit redraws the completed word from the cursor
    sh.send("/\r")
    m = sh.expect(r"\r\n(\d+|Unknown command[^\r]*)\r\n")
    check(m.group(1).isdigit(), "pty: the completed command ran", m.group(0))
    check(True, "pty: tab completion of a command name")
    sh.send("create /completeme data42\r")
    sh.expect(r"Created /completeme")
    sh.send("get /complet\t")
    sh.expect(r"eme")
    sh.send("\r")
    sh.expect(r"data42\r\n")
    check(True, "pty: tab completion of a znode path")
    sh.send("get -w /i\r")
    sh.expect(r"one\r\n")
    sh.expect(r"\(CONNECTED\) \d+\] ")
    rc, out, err = run(S, "set /i two")
    check(rc == 0, "pty: another client changes /i", err)
    sh.expect(r"WATCHER::\r\n\r\nWatchedEvent state:SyncConnected type:NodeDataChanged "
              r"path:/i\r\n")
    sh.expect(r"\(CONNECTED\) \d+\] ")
    check(True, "pty: the watch event is printed while at the prompt, and the prompt redrawn")
    sh.send("watch /i\r")
    sh.expect(r"Watching /i \(Ctrl-C to stop\)")
    rc, out, err = run(S, "set /i three")
    check(rc == 0, "pty: another client changes /i again", err)
    sh.expect(r"WatchedEvent state:SyncConnected type:NodeDataChanged path:/i\r\n")
    sh.send("\x03")
    sh.expect(r"\(CONNECTED\) \d+\] ")
    check(True, "pty: watch streams events until Ctrl-C, then the prompt is back")
    sh.send("multi\r")
    sh.expect(r"multi> ")
    sh.send("create /mi x\r")
    sh.expect(r"multi> ")
    sh.send("set /i four\r")
    sh.expect(r"multi> ")
    sh.send("end\r")
    sh.expect(r"\[1\] create /mi: Created /mi\r\n\[2\] set /i: OK\r\nmulti: committed 2 ops")
    check(True, "pty: a multi block with its own prompt")
    sh.send("history\r")
    sh.expect(r"\d+ - create /i one\r\n")
    check(True, "pty: history lists the commands")
    sh.send("quit\r")
    check(sh.wait_exit() == 0, "pty: quit exits 0")
    with open(hist.name, errors="replace") as f:
        saved = f.read().replace("\\040", " ")  # libedit's history file escapes spaces
    check("create /i one" in saved and "get -w /i" in saved, "pty: history saved to a file",
          saved)
    sh = Pty(args, env)
    sh.expect(r"\(CONNECTED\) 0\] ")
    sh.send("\x10\x10\r")  # two back: "history" (before "quit")
    sh.expect(r"\d+ - create /i one\r\n")
    check(True, "pty: history persists across sessions (recalled and listed)")
    sh.send("close\r")
    sh.expect(r"\(CLOSED\) \d+\] ")
    sh.send("ls /\r")
    sh.expect(r"Not connected \(CLOSED\): use connect host:port")
    sh.send(f"connect {S}\r")
    sh.expect(r"\(CONNECTED\) \d+\] ")
    check(True, "pty: close shows CLOSED in the prompt, connect reconnects")
    fake.terminate()  # both nodes down: the prompt turns SUSPENDED while libzinc fails over
    fake.wait(timeout=20)
    sh.expect(r"\(SUSPENDED\) \d+\] ", timeout=30)
    check(True, "pty: the prompt shows SUSPENDED when the nodes go silent")
    sh.send("\x04")  # Ctrl-D on an empty line
    check(sh.wait_exit() == 0, "pty: Ctrl-D leaves the shell")
    os.unlink(hist.name)


def main():
    t0 = time.monotonic()
    one_shot()
    interactive()
    cleanup()
    print(f"zinc-cli: {checks} checks passed in {time.monotonic() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
