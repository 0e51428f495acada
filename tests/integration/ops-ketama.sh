#!/bin/bash
# ops-ketama.sh - libmemcached's ketama (client-side consistent hashing)
# over three mcd instances, text and binary protocol: every key reads
# back, every instance holds some, and each holds what ketama mapped to it.
set -u
. "${srcdir:-.}/tests/integration/ops-lib.sh"
client=${OPS_KETAMA:-tests/integration/ops_ketama}
[ -x "$client" ] || skip "ops_ketama not built (needs libmemcached-dev)"
N=300
ports=()
for i in 0 1 2; do
    ops_start
    ports[i]=$OPS_PORT
done
before=(0 0 0)
for mode in "" -b; do
    mapfile -t per < <("$client" $mode $N "${ports[@]}") || fail "ops_ketama $mode failed"
    [ ${#per[@]} = 3 ] || fail "ops_ketama $mode: ${per[*]}"
    for i in 0 1 2; do
        [ "${per[i]}" -gt 0 ] || fail "ketama ($mode) mapped no key to server $i: ${per[*]}"
        items=$(ops_stat "${ports[i]}" curr_items)
        [ "$items" = $((before[i] + per[i])) ] || fail "server $i holds $items items, ketama sent it ${per[i]} (+${before[i]})"
        before[i]=$items
    done
    echo "ok: ketama ${mode:-text} spread ${per[*]}"
done
