#!/bin/bash
# ops-graceful.sh - SIGUSR1 stops gracefully, as memcached 1.6.45 does: the
# listener closes, every connection is closed at once (an idle one, and one
# in the middle of a set, whose request is not waited for), "Gracefully
# stopping" goes to stderr and the server exits 0. With MEMCACHED_BIN set
# (the build sets it to the oracle), the same steps run against memcached
# first, so the script checks its own expectations.
set -u
. "${srcdir:-.}/tests/integration/ops-lib.sh"

graceful() {
    local who=$1 port pid line rc
    ops_start
    port=$OPS_PORT
    pid=$OPS_PID

    exec {busy}<>"/dev/tcp/127.0.0.1/$port"
    exec {idle}<>"/dev/tcp/127.0.0.1/$port"
    printf 'version\r\n' >&"$idle"
    IFS= read -r -t 2 line <&"$idle" || fail "$who: idle connection: no version reply"
    printf 'set inflight 0 0 10\r\nhello' >&"$busy"
    # the first half has reached the server once `stats conns` shows a
    # connection waiting for the rest of a value
    in_nread() { ops_request "$port" "stats conns" '^END$' | grep -q ':state conn_nread$'; }
    ops_poll 5 in_nread || fail "$who: the half-sent set never showed as conn_nread"

    kill -USR1 "$pid"
    ops_poll 5 ops_dead "$pid" || fail "$who: did not exit after SIGUSR1"
    wait "$pid"
    rc=$?
    ops_untrack "$pid"
    [ "$rc" = 0 ] || fail "$who: exit status $rc after SIGUSR1"
    ops_refused "$port" || fail "$who: still accepting after SIGUSR1"
    grep -q '^Gracefully stopping$' "$OPS_TMP/mcd-$port.log" || fail "$who: no 'Gracefully stopping' on stderr"

    # both connections were closed by the server (EOF), the set unanswered
    IFS= read -r -t 2 line <&"$idle"
    [ $? -eq 1 ] && [ -z "$line" ] || fail "$who: idle connection not closed ('$line')"
    printf 'world\r\n' >&"$busy" 2>/dev/null
    IFS= read -r -t 2 line <&"$busy"
    [ $? -ne 0 ] && [ -z "$line" ] || fail "$who: the in-flight set was answered ('$line')"
    exec {idle}>&- {busy}>&-
    echo "ok: $who: SIGUSR1 graceful stop"
}

if [ -n "${MEMCACHED_BIN:-}" ] && [ -x "$MEMCACHED_BIN" ] && [ "${MCD_TARGET:-}" != memcached ]; then
    saved=$MCD
    MCD=$MEMCACHED_BIN
    graceful memcached
    MCD=$saved
fi
graceful mcd
