#!/bin/bash
# ops-twemproxy.sh - three mcd instances behind twemproxy (nutcracker):
# memcache protocol, ketama, auto_eject_hosts. Keys spread over all three
# and read back through the proxy; one instance killed is ejected and the
# proxy keeps answering (misses for its share); restarted, it rejoins.
set -u
. "${srcdir:-.}/tests/integration/ops-lib.sh"
proxy=$(command -v nutcracker 2>/dev/null || echo /usr/sbin/nutcracker)
[ -x "$proxy" ] || skip "nutcracker not installed (Debian package nutcracker)"
N=300

ports=() pids=()
for i in 0 1 2; do
    ops_start
    ports[i]=$OPS_PORT
    pids[i]=$OPS_PID
done
pport=$(ops_free_port)
sport=$(ops_free_port)
cat >"$OPS_TMP/nutcracker.yml" <<EOT
mcd:
  listen: 127.0.0.1:$pport
  hash: fnv1a_64
  distribution: ketama
  timeout: 1000
  auto_eject_hosts: true
  server_failure_limit: 1
  server_retry_timeout: 500
  servers:
   - 127.0.0.1:${ports[0]}:1 mcd0
   - 127.0.0.1:${ports[1]}:1 mcd1
   - 127.0.0.1:${ports[2]}:1 mcd2
EOT
"$proxy" -t -c "$OPS_TMP/nutcracker.yml" >"$OPS_TMP/nc-test.log" 2>&1 || { cat "$OPS_TMP/nc-test.log" >&2; fail "nutcracker -t rejected the config"; }
"$proxy" -c "$OPS_TMP/nutcracker.yml" -s "$sport" -a 127.0.0.1 -o "$OPS_TMP/nutcracker.log" &
ppid=$!
ops_track "$ppid"
ops_poll 10 ops_ready "$pport" || { cat "$OPS_TMP/nutcracker.log" >&2; fail "proxy not answering"; }

# set_all PORT: pipelines N sets on one connection; prints how many STORED
set_all() {
    local fd line n=0
    exec {fd}<>"/dev/tcp/127.0.0.1/$1" || { echo 0; return; }
    printf 'set key:%s 0 0 5\r\nvalue\r\n' $(seq 1 $N) >&"$fd"
    while IFS= read -r -t 3 line <&"$fd"; do
        [ "${line%$'\r'}" = STORED ] || break
        n=$((n + 1))
        [ $n -eq $N ] && break
    done
    exec {fd}>&-
    echo $n
}
# get_all PORT: one multi-get of every key; prints the hit count, or
# "error" when the reply is not a clean VALUE... END
get_all() {
    local fd line n=0
    exec {fd}<>"/dev/tcp/127.0.0.1/$1" || { echo error; return; }
    printf 'get%s\r\n' "$(printf ' key:%s' $(seq 1 $N))" >&"$fd"
    while IFS= read -r -t 3 line <&"$fd"; do
        line=${line%$'\r'}
        case "$line" in
        END) exec {fd}>&-; echo $n; return ;;
        VALUE*) n=$((n + 1)); IFS= read -r -t 3 line <&"$fd" ;;
        *) break ;;
        esac
    done
    exec {fd}>&-
    echo error
}

[ "$(set_all "$pport")" = $N ] || fail "not every set through the proxy was stored"
total=0
for i in 0 1 2; do
    items[i]=$(ops_stat "${ports[i]}" curr_items)
    [ "${items[i]:-0}" -gt 0 ] || fail "instance $i got no keys (curr_items ${items[i]})"
    total=$((total + items[i]))
done
[ $total = $N ] || fail "instances hold $total items, want $N"
[ "$(get_all "$pport")" = $N ] || fail "multi-get through the proxy: $(get_all "$pport")"
echo "ok: spread ${items[*]}, read back $N"

# kill instance 1: the proxy ejects it, the others' keys still hit
kill -KILL "${pids[1]}"
wait "${pids[1]}" 2>/dev/null
ops_untrack "${pids[1]}"
want=$((N - items[1]))
survivors() { [ "$(get_all "$pport")" = "$want" ]; }
ops_poll 10 survivors || fail "after the kill: multi-get gives $(get_all "$pport"), want $want hits"
echo "ok: instance ejected, $want hits, the rest misses"

# restart it on the same port: it rejoins and takes its share again
"$MCD" -p "${ports[1]}" -l 127.0.0.1 -U 0 "${OPS_ROOT_ARGS[@]}" >>"$OPS_TMP/mcd-re.log" 2>&1 &
pids[1]=$!
ops_track "${pids[1]}"
ops_poll 10 ops_ready "${ports[1]}" || fail "restarted instance not answering"
# The proxy puts the instance back on its ring only after
# server_retry_timeout, at its next request, and may answer SERVER_ERROR for
# requests routed to it while it reconnects. Until a whole set_all is
# STORED with the instance back on the ring, some keys can be missing or
# left on the other two, so each poll stores everything again and then
# reads it all back. (Checking only "instance 1 has an item" after one
# set_all, then polling reads alone, failed under ASan with 222 of 300.)
rejoined() {
    [ "$(set_all "$pport")" = $N ] || return 1
    [ "$(ops_stat "${ports[1]}" curr_items)" -gt 0 ] 2>/dev/null || return 1
    [ "$(get_all "$pport")" = $N ]
}
ops_poll 15 rejoined || fail "after the rejoin: $(get_all "$pport") hits, want $N (items: $(for i in 0 1 2; do ops_stat "${ports[i]}" curr_items; done | tr '\n' ' '))"
echo "ok: instance rejoined with $(ops_stat "${ports[1]}" curr_items) items"
