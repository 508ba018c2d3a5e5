#!/usr/bin/env python3
"""EIO from a real fdatasync is fail-stop (suite wal).

Runs wal_eio_real under `strace -f -e inject=fdatasync:error=EIO:when=N` for a few N: the
process must die with SIGABRT and print the fail-stop message naming the file. Without
injection it must succeed. Skips (77) when strace is missing or ptrace is not permitted.
"""
import shutil
import signal
import subprocess
import sys
import tempfile

exe = sys.argv[1]
strace = shutil.which("strace")
if strace is None:
    print("SKIP: strace not installed")
    sys.exit(77)
probe = subprocess.run([strace, "-qq", "-o", "/dev/null", "true"], capture_output=True)
if probe.returncode != 0:
    print("SKIP: ptrace not permitted here")
    sys.exit(77)

with tempfile.TemporaryDirectory(prefix="zn-eio-") as d:
    ok = subprocess.run([exe, d + "/clean"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    for when in (2, 5, 9):
        r = subprocess.run([strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=fdatasync",
                            "-e", f"inject=fdatasync:error=EIO:when={when}", exe,
                            f"{d}/inj{when}"], capture_output=True, text=True, timeout=60)
        died = r.returncode in (-signal.SIGABRT, 128 + signal.SIGABRT)
        msg = "fail-stop" in r.stderr and ("fdatasync" in r.stderr)
        print(f"fdatasync #{when} -> EIO: exit {r.returncode}, stderr: {r.stderr.strip()[:160]}")
        if not (died and msg):
            print("FAIL: expected an abort with the fail-stop message")
            sys.exit(1)
print("EIO injected into real fdatasync calls: the process stops every time (fail-stop)")
