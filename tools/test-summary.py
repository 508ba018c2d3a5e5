#!/usr/bin/env python3
"""Prints one summary line over meson test logs: 'zinc tests: N passed, N failed, N skipped'.

Usage: test-summary.py BUILD_DIR [BUILD_DIR ...]. Reads each meson-logs/testlog.json; exits 1 if
any test failed or no test ran at all (a run that tests nothing must not look green).

For each failed test (at most MAX_SHOWN) it also prints a short excerpt of what the test printed:
the lines that say why (FAILED, error, assertion, abort, a diff's < and > lines) and the last
lines of the output. CI systems often keep only the tail of a run's output, so the reason for a
red run must be in the last few dozen lines, next to the summary.
"""
import json
import os
import re
import sys

MAX_SHOWN = 3  # failed tests with an excerpt
WHY_LINES = 12  # lines that say why, per failed test
TAIL_LINES = 4  # last lines of the output, per failed test
WHY = re.compile(r"FAIL|[Ee]rror|ERROR|[Aa]ssert|[Aa]bort|panic|Timeout|timed out|"
                 r"Sanitizer|^[<>] |differs|not ok|expected|unexpected")


def excerpt(rec):
    out = (rec.get("stdout") or "") + "\n" + (rec.get("stderr") or "")
    lines = [ln.rstrip() for ln in out.splitlines() if ln.strip()]
    why = [ln for ln in lines if WHY.search(ln)][-WHY_LINES:]
    tail = [ln for ln in lines[-TAIL_LINES:] if ln not in why]
    return [ln[:200] for ln in why + tail]


passed = failed = skipped = 0
failures = []
for build in sys.argv[1:]:
    path = os.path.join(build, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        print(f"test-summary: {path} missing (no tests ran in {build})", file=sys.stderr)
        failed += 1
        continue
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            result = rec.get("result", "")
            name = f"{build}:{rec.get('name')}"
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
                failures.append((f"{name} ({result})", rec))
for i, (f, rec) in enumerate(failures):
    if i < MAX_SHOWN:
        print(f"--- why {f} failed (excerpt of its output; the whole log is in meson-logs):")
        for ln in excerpt(rec):
            print(f"  | {ln}")
for f, _ in failures:
    print(f"FAILED: {f}")
print(f"zinc tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
