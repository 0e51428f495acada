#!/bin/sh
# selfcheck.sh - the differential tester must catch a real divergence: it
# plays a few hunt sequences to Debian's memcached 1.6.18 as the server under
# test, against the 1.6.45 oracle, and must report (and, strict, fail on) the
# 1.6.18-vs-1.6.45 differences. Skipped (77) without both binaries.
unset MCD_DIFFGEN_SEQSEED MCD_DIFFGEN_FAIL_CLASSES MCD_DIFFGEN_AVOID MCD_DIFFGEN_REPORT
old=${MCD_SELFCHECK_BIN:-/usr/bin/memcached}
oracle=${MEMCACHED_BIN:-}
diffgen=${DIFFGEN:-tests/diff/diffgen}
[ -x "$old" ] && [ -n "$oracle" ] && [ -x "$oracle" ] || { echo "selfcheck: no $old or oracle: skipped"; exit 77; }
"$old" -V 2>/dev/null | grep -q '^memcached 1\.6\.18' || { echo "selfcheck: $old is not memcached 1.6.18: skipped"; exit 77; }
out=$(MCD_BIN="$old" MCD_DIFFGEN_FLAGS=default MCD_DIFFGEN_COUNT=8 MCD_DIFFGEN_GUARD_COUNT=0 \
	MCD_DIFFGEN_SEED=20261206 MCD_DIFFGEN_STRICT=1 MCD_DIFFGEN_MAX_SHRINKS=2 MCD_DIFFGEN_SHRINK_TRIES=60 \
	MCD_DIFFGEN_SECONDS=0 "$diffgen" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 1 ]; then
	echo "selfcheck: FAIL: diffgen exited $rc against memcached 1.6.18, want 1 (divergences found, strict)"
	exit 1
fi
n=$(printf '%s\n' "$out" | grep -c '^=== DIVERGENCE')
if [ "$n" -lt 1 ]; then
	echo "selfcheck: FAIL: no divergence reported against memcached 1.6.18"
	exit 1
fi
echo "selfcheck: diffgen reported $n distinct divergence(s) between memcached 1.6.18 and 1.6.45"
