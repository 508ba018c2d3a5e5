#!/usr/bin/python3
"""zkcli.py - Apache ZooKeeper's own shell (zkCli, Debian package `zookeeper`) in batch mode.

usage: zkcli.py CONNECT_STRING OUT_FILE

Feeds one script of zkCli commands on stdin to a single zkCli JVM (plus one command given on the
command line, the other batch form), and writes a normalized transcript: `$ command` followed by
what zkCli printed for it (commands are separated by a marker command whose `Node does not
exist` line is cut out). Log lines are dropped; zxids (0x...) become Z1, Z2, ... by first
appearance, session ids S1, S2, ..., dates T. tests/compat/run.sh diffs the transcript of a real
ZooKeeper ensemble with zinc's. The tree under /compat-cli is removed (with kazoo) first.
"""

import os
import re
import subprocess
import sys

ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")
R = "/compat-cli"

SCRIPT = [
    "create %s top" % R,
    "create %s/a hello" % R,
    "create %s/a again" % R,
    "create -e %s/eph e" % R,
    "create -s %s/seq- s" % R,
    "create -s %s/seq- s" % R,
    "create -e -s %s/eseq- es" % R,
    "create -c %s/box" % R,
    "create -t 60000 %s/ttl t" % R,
    "create %s/missing/child x" % R,
    "get %s/a" % R,
    "get -s %s/a" % R,
    "get %s/nope" % R,
    "set %s/a world" % R,
    "set -s %s/a world2" % R,
    "set -v 1 %s/a stale" % R,
    "get %s/a" % R,
    "ls %s" % R,
    "ls -s %s" % R,
    "ls -R %s" % R,
    "ls %s/nope" % R,
    "stat %s/a" % R,
    "stat %s/eph" % R,
    "stat %s/nope" % R,
    "getAllChildrenNumber %s" % R,
    "getEphemerals %s" % R,
    "getAcl %s/a" % R,
    "setAcl %s/a world:anyone:r" % R,
    "getAcl %s/a" % R,
    "set %s/a denied" % R,
    "addauth digest alice:secret",
    "create %s/private p auth::cdrwa" % R,
    "getAcl %s/private" % R,
    "get %s/private" % R,
    "whoami",
    "sync %s" % R,
    "delete %s/a" % R,
    "delete -v 7 %s/eph" % R,
    "delete %s/eph" % R,
    "delete %s" % R,
    "delete %s/nope" % R,
    "deleteall %s/box" % R,
    "ls %s" % R,
]
LAST = "get %s/private" % R  # the command-line form (one JVM per command)

LOG = re.compile(r"^\d{4}-\d\d-\d\d |SLF4J|^\s*at |log4j|Picked up JAVA_TOOL_OPTIONS")
DATE = re.compile(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \w+ \d{4}")


class Norm:
    def __init__(self):
        self.zx, self.ss = {}, {}

    def line(self, s):
        def hexval(m):
            key, v = m.group(1), int(m.group(2), 16)
            if v == 0:
                return m.group(0)
            table, pfx = (self.ss, "S") if key == "ephemeralOwner" else (self.zx, "Z")
            table.setdefault(v, "%s%d" % (pfx, len(table) + 1))
            return "%s = %s" % (key, table[v])

        s = re.sub(r"(\w+) = 0x([0-9a-f]+)", hexval, s)
        return DATE.sub("T", s)


def sort_unordered(out):
    """ZooKeeper leaves the order of getEphemerals and of ls -R siblings unspecified: sort them."""
    res, i = [], 0
    while i < len(out):
        res.append(out[i])
        cmd = out[i]
        i += 1
        block = []
        while i < len(out) and not out[i].startswith("$ "):
            block.append(out[i])
            i += 1
        if cmd.startswith("$ getEphemerals"):
            block = [re.sub(r"\[(.*)\]", lambda m: "[" + ", ".join(sorted(m.group(1).split(", ")))
                            + "]", b) for b in block]
        elif cmd.startswith("$ ls -R"):
            block = sorted(block)
        res.extend(block)
    return res


def run_cli(connect, args, stdin_text):
    p = subprocess.run([ZKCLI, "-server", connect] + args, input=stdin_text, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240,
                       env=dict(os.environ, JAVA_TOOL_OPTIONS=""))
    return [ln for ln in p.stdout.splitlines() if ln.strip() and not LOG.search(ln)]


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    connect, out_path = sys.argv[1], sys.argv[2]
    from kazoo.client import KazooClient
    kz = KazooClient(hosts=connect, timeout=10.0)
    kz.start(timeout=30)
    try:
        kz.add_auth("digest", "alice:secret")  # to remove a previous run's auth-ACL node
    except Exception:  # a server without digest auth: the transcript shows it below
        kz.stop()
        kz.close()
        kz = KazooClient(hosts=connect, timeout=10.0)
        kz.start(timeout=30)
    if kz.exists(R):
        kz.delete(R, recursive=True)
    kz.stop()
    kz.close()

    text = ""
    for i, cmd in enumerate(SCRIPT):
        text += "get /_m%d\n%s\n" % (i, cmd)
    text += "get /_m%d\nquit\n" % len(SCRIPT)
    lines = run_cli(connect, [], text)
    norm = Norm()
    out = []
    cur = None
    for ln in lines:
        m = re.match(r"Node does not exist: /_m(\d+)$", ln)
        if m:
            i = int(m.group(1))
            cur = i
            if i < len(SCRIPT):
                out.append("$ " + SCRIPT[i])
            continue
        if cur is None:  # the banner before the first marker
            if ln.startswith(("Connecting to", "Welcome", "JLine")):
                continue
            out.append("(banner) " + norm.line(ln))
            continue
        if ln.startswith("WATCHER::") or "type:None" in ln:  # asynchronous state events
            continue
        out.append("  " + norm.line(ln))
    out = sort_unordered(out)
    markers = sum(1 for x in out if x.startswith("$ "))
    out.append("$ (command line) zkCli.sh -server <target> " + LAST)
    for ln in run_cli(connect, LAST.split(), ""):
        if ln.startswith(("Connecting to", "Welcome", "JLine")) or "type:None" in ln \
                or ln.startswith("WATCHER::"):
            continue
        out.append("  " + norm.line(ln))
    with open(out_path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("zkcli: %d commands answered (of %d), %d transcript lines in %s" % (
        markers, len(SCRIPT), len(out), out_path))
    return 0 if markers == len(SCRIPT) else 1


if __name__ == "__main__":
    sys.exit(main())
