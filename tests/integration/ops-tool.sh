#!/bin/bash
# ops-tool.sh - Debian memcached's memcached-tool (perl) works against mcd:
# display (slab table), stats, settings, sizes (-o track_sizes) and dump
# (lru_crawler metadump: it must end, and list every key with its value).
set -u
. "${srcdir:-.}/tests/integration/ops-lib.sh"
tool=
for t in /usr/share/memcached/scripts/memcached-tool "$(command -v memcached-tool 2>/dev/null)"; do
    [ -n "$t" ] && [ -r "$t" ] && { tool=$t; break; }
done
[ -n "$tool" ] || skip "memcached-tool not installed (Debian package memcached)"
command -v perl >/dev/null || skip "no perl"

ops_start -o track_sizes
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
out=$(perl "$tool" "127.0.0.1:$OPS_PORT" sizes 2>&1) || fail "sizes: $out"
echo "$out" | grep -q "Size" || fail "sizes: no header: $out"
# the 20 small items fall in one 32-byte bucket (memcached's item sizes: 96),
# the 3000-byte one in another
echo "$out" | grep -qE '^ +96 +20\b' || fail "sizes: no '96 20' row: $out"
echo "$out" | grep -qE '^ +3072 +1\b' || fail "sizes: no '3072 1' row: $out"

ops_request "$OPS_PORT" "set ttl 3 2000000000 2"$'\r\n'"hi" >/dev/null
# dump must end (the tool reads up to END), and lists every item as an add
out=$(timeout 20 perl "$tool" "127.0.0.1:$OPS_PORT" dump 2>/dev/null) || fail "dump failed or hung: $out"
for i in $(seq 1 20); do
    echo "$out" | grep -q "^add k$i 0 0 5"$'\r'"\$" || fail "dump: no k$i: $out"
done
echo "$out" | grep -q "^add big 0 0 3000"$'\r'"\$" || fail "dump: no big"
echo "$out" | grep -q "^add ttl 3 2000000000 2"$'\r'"\$" || fail "dump: no ttl: $out"
[ "$(echo "$out" | grep -c '^add ')" = 22 ] || fail "dump: $(echo "$out" | grep -c '^add ') items, want 22"
ops_stop "$OPS_PID"
echo "ok: memcached-tool display, stats, settings, sizes, dump"
