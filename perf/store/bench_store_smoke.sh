#!/usr/bin/env bash
# bench_store_smoke.sh BENCH - smoke test of bench_store's command line (suite perf): --help
# exits 0 with the usage, each kind of bad argument exits 2 with a message naming it, and a tiny
# run (2000 znodes, 2 reader threads, 20 ms per read measurement) exits 0 and prints every
# measurement line. No figure is asserted (the machine is shared).
set -u
BENCH=${1:?usage: bench_store_smoke.sh PATH_TO_bench_store}
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

out=$("$BENCH" --help 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "--help exited $rc"
grep -q '^usage: bench_store' <<<"$out" || fail "--help printed no usage line: $out"
echo "checked: --help exits 0 and prints the usage"

# each: arguments | text the error must contain
while IFS='|' read -r args want; do
    # shellcheck disable=SC2086
    err=$("$BENCH" $args 2>&1 >/dev/null)
    rc=$?
    if [ $rc -ne 2 ]; then
        fail "'$args' exited $rc, expected 2 (stderr: $err)"
    elif ! grep -qF -- "$want" <<<"$err"; then
        fail "'$args': stderr does not mention '$want': $err"
    else
        echo "checked: '$args' exits 2: $err"
    fi
done <<'CASES'
--znodes 0|--znodes '0'
--znodes abc|--znodes 'abc'
--znodes 12x|--znodes '12x'
--znodes -5|--znodes '-5'
--znodes 100000001|--znodes '100000001'
-n 99999999999999999999999|--znodes '99999999999999999999999'
--threads 0|--threads '0'
--threads 257|--threads '257'
--seconds 0|--seconds '0'
--seconds nan|--seconds 'nan'
--seconds 1s|--seconds '1s'
--threads|needs a value
--bogus|unknown option '--bogus'
-x|unknown option '-x'
0|ZNODES '0'
1000 2000|unexpected argument '2000'
CASES

out=$(timeout 120 "$BENCH" -n 2000 -t 2 -s 0.02 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "tiny run exited $rc: $out"
for want in 'store benchmarks (' 'get at 1K znodes:' 'memory for 2000 znodes' \
    'get at 2000 znodes:' 'read throughput (getData, 2000 znodes' '1 thread ' '2 threads ' \
    'setData apply latency, 2000 znodes' 'single-writer apply (2000 znodes)'; do
    grep -qF -- "$want" <<<"$out" || fail "tiny run output lacks '$want': $out"
done
# the bare positional count still works (the old interface)
out=$(timeout 120 "$BENCH" 1500 -t 1 -s 0.01 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "positional run exited $rc: $out"
grep -qF 'memory for 1500 znodes' <<<"$out" || fail "positional count ignored: $out"
grep -qF '2 threads' <<<"$out" && fail "-t 1 still ran 2 threads: $out"
echo "checked: tiny runs (-n 2000 -t 2, positional 1500 -t 1) exit 0 with every measurement line"

if [ $fails -ne 0 ]; then
    echo "bench_store smoke: $fails failure(s)"
    exit 1
fi
echo "bench_store smoke: ok"
