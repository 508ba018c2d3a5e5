"""tests/ops/zinc_cluster.py - the loopback cluster the ops tests drive (test_zincctl.py,
test_raft_runtime.py): zincd processes started directly (kernel transport on 127.0.0.1, a free
port range picked at start), each with its control socket in its data directory, and zincctl
run against them.

One Cluster per test process. It owns the temporary directory (kept on failure for inspection,
removed on success), the node processes (every one stopped when the test ends, pass or fail)
and the check counter. fail() prints the tail of every node's log and ends the test; every
wait polls a fresh observation with a generous bound and prints what it last saw.
"""
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


def log(msg):
    print(msg, flush=True)


class Cluster:
    def __init__(self, zincd, zincctl, cluster_id, prefix, ports, session_timeout_min_ms,
                 wait=40.0):
        """ports: how many consecutive free UDP+TCP ports from self.base the test uses."""
        self.zincd = zincd
        self.zincctl = zincctl
        self.cluster_id = cluster_id
        self.session_timeout_min_ms = session_timeout_min_ms
        self.wait = wait
        self.checks = 0
        self.procs = {}
        self.sock_override = {}
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.base = self.free_port_base(ports)

    def fail(self, msg):
        log("FAIL: " + msg)
        for i in sorted(self.procs):
            path = os.path.join(self.tmp, "n%s.log" % i)
            if os.path.exists(path):
                with open(path) as f:
                    tail = f.read().splitlines()[-15:]
                log("--- tail of n%s.log ---\n%s" % (i, "\n".join(tail)))
        raise SystemExit(1)

    def ok(self, cond, msg):
        self.checks += 1
        if not cond:
            self.fail(msg)

    def free_port_base(self, n):
        for _ in range(200):
            base = random.randrange(10000, 32000, 10)  # below the ephemeral range (32768+)
            good = True
            for p in range(base, base + n):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(socket.AF_INET, kind)
                    try:
                        s.bind(("127.0.0.1", p))
                    except OSError:
                        good = False
                    finally:
                        s.close()
            if good:
                return base
        self.fail("no free port range")

    def udp_port(self, i):
        """Node i's peer/client UDP port."""
        return self.base + i

    def members_text(self, ids):
        return ", ".join("%d@127.0.0.1:%d" % (i, self.udp_port(i)) for i in ids)

    def sock(self, i):
        return self.sock_override.get(i) or os.path.join(self.tmp, "n%s" % i, "control.sock")

    def write_config(self, i, members, learners="", data_dir=None, extra=""):
        """Write node i's configuration file; returns its path."""
        data_dir = data_dir or os.path.join(self.tmp, "n%s" % i)
        text = ("[node]\nid = %d\ncluster_id = %d\ndata_dir = %s\n[cluster]\nmembers = %s\n"
                "learners = %s\n[net]\ntransport = kernel\nlisten_host = 127.0.0.1\n"
                "listen_port = %d\nidle = lab\n[session]\ntimeout_min_ms = %d\n%s" %
                (i, self.cluster_id, data_dir, members, learners, self.udp_port(i),
                 self.session_timeout_min_ms, extra))
        path = os.path.join(self.tmp, "n%s.ini" % i)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, i, cfg):
        logf = open(os.path.join(self.tmp, "n%s.log" % i), "a")
        self.procs[i] = subprocess.Popen([self.zincd, "-c", cfg], stdout=logf,
                                         stderr=subprocess.STDOUT)

    def stop(self, i, sig=signal.SIGTERM):
        """Send sig to node i (continuing it first, in case the test stopped it) and reap it;
        returns its exit code (None if it was never started)."""
        p = self.procs.get(i)
        if p and p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.send_signal(sig)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode if p else None

    def ctl(self, args, endpoints=(1, 2, 3), json_out=False, timeout=60):
        cmd = [self.zincctl, "--timeout", "5"]
        if endpoints:
            cmd += ["-s", ",".join(self.sock(i) for i in endpoints)]
        if json_out:
            cmd.append("--json")
        cmd += args
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def ctl_json(self, args, endpoints=(1, 2, 3)):
        r = self.ctl(args, endpoints, json_out=True)
        try:
            return r.returncode, json.loads(r.stdout), r
        except ValueError:
            self.fail("zincctl %s --json: not JSON (rc %d): %r %r" % (args, r.returncode,
                                                                       r.stdout, r.stderr))

    def wait_for(self, what, fn, timeout=None):
        """Poll fn() -> (good, seen) every 0.2 s until good; fail with the last seen value."""
        timeout = self.wait if timeout is None else timeout
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            good, last = fn()
            if good:
                return last
            time.sleep(0.2)
        self.fail("%s: not within %.0f s; last seen: %s" % (what, timeout, last))

    def run(self, main):
        """Run the test body, print PASS with the check count or FAIL, stop every node, keep the
        directory on failure; exits the process with the test's code."""
        try:
            main()
            log("PASS: %d checks" % self.checks)
            rc = 0
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        except Exception as e:  # a crash of the test itself is a failure, with what it saw
            log("FAIL: %r" % e)
            rc = 1
        finally:
            for i in list(self.procs):
                self.stop(i)
        if rc == 0:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            log("kept %s for inspection" % self.tmp)
        sys.exit(rc)
