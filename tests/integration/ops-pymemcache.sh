#!/bin/bash
# ops-pymemcache.sh - runs ops_pymemcache.py (pymemcache client) against mcd.
set -u
. "${srcdir:-.}/tests/integration/ops-lib.sh"
py=
for p in /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
    [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import pymemcache' 2>/dev/null && { py=$p; break; }
done
[ -n "$py" ] || skip "pymemcache not installed (Debian package python3-pymemcache)"
ops_start
"$py" "$OPS_SRCDIR/tests/integration/ops_pymemcache.py" "$OPS_PORT" || fail "pymemcache test"
ops_stop "$OPS_PID" || fail "exit status $?"
