#!/bin/bash
# ops-graceful.sh - SIGUSR1 stops gracefully: the listener closes at once,
# an idle connection is closed, a connection in the middle of a request
# (a set whose value is half sent) finishes it and gets its reply, then the
# server exits 0.
set -u
. "${srcdir:-.}/tests/integration/ops-lib.sh"

ops_start
port=$OPS_PORT
pid=$OPS_PID

exec {busy}<>"/dev/tcp/127.0.0.1/$port"
exec {idle}<>"/dev/tcp/127.0.0.1/$port"
printf 'version\r\n' >&"$idle"
IFS= read -r -t 2 line <&"$idle" || fail "idle connection: no version reply"
printf 'set inflight 0 0 10\r\nhello' >&"$busy"
# the first half has reached the server once `stats conns` shows a
# connection waiting for the rest of a value
in_nread() { ops_request "$port" "stats conns" '^END$' | grep -q ':state conn_nread$'; }
ops_poll 5 in_nread || fail "the half-sent set never showed as conn_nread"

kill -USR1 "$pid"
ops_poll 5 ops_refused "$port" || fail "still accepting after SIGUSR1"

# the idle connection is closed by the server (EOF, not a timeout)
idle_closed() { IFS= read -r -t 0.05 line <&"$idle"; [ $? -eq 1 ]; }
ops_poll 5 idle_closed || fail "idle connection not closed"
kill -0 "$pid" || fail "server exited with a request in flight"

printf 'world\r\n' >&"$busy"
IFS= read -r -t 5 line <&"$busy" || fail "no reply to the in-flight set"
[ "${line%$'\r'}" = STORED ] || fail "in-flight set answered '$line'"
IFS= read -r -t 5 line <&"$busy"
[ $? -eq 1 ] || fail "busy connection not closed after its reply"

ops_poll 5 ops_dead "$pid" || fail "server did not exit after the drain"
wait "$pid"
rc=$?
ops_untrack "$pid"
[ "$rc" = 0 ] || fail "exit status $rc after SIGUSR1"
echo "ok: SIGUSR1 graceful stop"
