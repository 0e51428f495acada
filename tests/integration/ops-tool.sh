#!/bin/bash
# ops-tool.sh - Debian memcached's memcached-tool (perl) works against mcd:
# display (slab table), stats, settings.
set -u
. "${srcdir:-.}/tests/integration/ops-lib.sh"
tool=
for t in /usr/share/memcached/scripts/memcached-tool "$(command -v memcached-tool 2>/dev/null)"; do
    [ -n "$t" ] && [ -r "$t" ] && { tool=$t; break; }
done
[ -n "$tool" ] || skip "memcached-tool not installed (Debian package memcached)"
command -v perl >/dev/null || skip "no perl"

ops_start
for i in $(seq 1 20); do
    ops_request "$OPS_PORT" "set k$i 0 0 5"$'\r\n'"hello" >/dev/null
done
ops_request "$OPS_PORT" "set big 0 0 3000"$'\r\n'"$(head -c 3000 /dev/zero | tr '\0' x)" >/dev/null
[ "$(ops_stat "$OPS_PORT" curr_items)" = 21 ] || fail "setup: curr_items $(ops_stat "$OPS_PORT" curr_items)"

out=$(perl "$tool" "127.0.0.1:$OPS_PORT" display 2>&1) || fail "display: $out"
echo "$out" | grep -q "Item_Size" || fail "display: no header: $out"
# two slab classes in use: one row each
rows=$(echo "$out" | grep -cE '^ +[0-9]+ +[0-9.]+[KMB]? ')
[ "$rows" -ge 2 ] || fail "display: $rows slab rows: $out"

out=$(perl "$tool" "127.0.0.1:$OPS_PORT" stats 2>&1) || fail "stats: $out"
for s in pid uptime curr_items total_items bytes curr_connections limit_maxbytes threads; do
    echo "$out" | grep -qE "^ +$s +[0-9]" || fail "stats: no $s: $out"
done
out=$(perl "$tool" "127.0.0.1:$OPS_PORT" settings 2>&1) || fail "settings: $out"
for s in maxbytes maxconns tcpport num_threads item_size_max; do
    echo "$out" | grep -qE "^ +$s " || fail "settings: no $s: $out"
done
ops_stop "$OPS_PID"
echo "ok: memcached-tool display, stats, settings"
