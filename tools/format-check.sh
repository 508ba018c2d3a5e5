#!/usr/bin/env bash
# Fails when a C file of the project is not formatted by the repository's .clang-format.
# Usage: format-check.sh [ROOT]   (fix with: make format)
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
mapfile -t files < <(find common proto consensus store dataplane node mgmt client perf tests tools \
    -name '*.[ch]' -not -path '*/build*' 2>/dev/null | sort)
bad=0
for f in "${files[@]}"; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (run: clang-format -i $f)"
        bad=$((bad + 1))
    fi
done
echo "format: ${#files[@]} files checked, $bad not formatted"
[ "$bad" -eq 0 ]
