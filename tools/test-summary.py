#!/usr/bin/env python3
"""Prints one summary line over meson test logs: 'zinc tests: N passed, N failed, N skipped'.

Usage: test-summary.py BUILD_DIR [BUILD_DIR ...]. Reads each meson-logs/testlog.json; exits 1 if
any test failed or no test ran at all (a run that tests nothing must not look green).
"""
import json
import os
import sys

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
                failures.append(f"{name} ({result})")
for f in failures:
    print(f"FAILED: {f}")
print(f"zinc tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
