#!/bin/bash
# ops-daemon.sh - daemon mode as memcached: -d detaches (new session, no
# controlling tty, cwd /, std streams on /dev/null) and returns only once
# serving, -P writes the pid file and a clean SIGTERM removes it, -d fails
# visibly on a taken port, -c raises RLIMIT_NOFILE or fails clearly, -r
# raises the core limit, -k locks memory (or warns), -u drops root,
# SIGINT exits 0, SIGHUP is ignored.
set -u
. "${srcdir:-.}/tests/integration/ops-lib.sh"

# --- -d -P ---
port=$(ops_free_port)
pidfile=$OPS_TMP/run/mcd.pid
mkdir -p "$OPS_TMP/run"
(cd "$OPS_TMP" && "$MCD" -d -P "$pidfile" -p "$port" -l 127.0.0.1 -U 0 "${OPS_ROOT_ARGS[@]}") \
    || fail "mcd -d exited non-zero"
# -d returns once the server serves: no polling needed for these two
[ -s "$pidfile" ] || fail "no pid file right after mcd -d returned"
pid=$(cat "$pidfile")
ops_track "$pid"
ops_ready "$port" || fail "daemon not answering on $port"
kill -0 "$pid" || fail "pid $pid from the pid file is not running"
[ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$MCD")" ] || fail "pid file names another program"

stat=$(sed 's/^.*) //' "/proc/$pid/stat")   # fields after "pid (comm) "
set -- $stat
# $1 state, $2 ppid, $3 pgrp, $4 session, $5 tty_nr
[ "$5" = 0 ] || fail "daemon has a controlling tty (tty_nr $5)"
[ "$4" = "$pid" ] || fail "daemon is not a session leader (session $4)"
[ "$(readlink "/proc/$pid/cwd")" = / ] || fail "daemon cwd is $(readlink "/proc/$pid/cwd"), not /"
for fd in 0 1 2; do
    [ "$(readlink "/proc/$pid/fd/$fd")" = /dev/null ] || fail "daemon fd $fd is $(readlink "/proc/$pid/fd/$fd")"
done

# a second daemon on the same port must fail, with a non-zero status
if "$MCD" -d -P "$OPS_TMP/run/other.pid" -p "$port" -l 127.0.0.1 -U 0 "${OPS_ROOT_ARGS[@]}" 2>"$OPS_TMP/second.err"; then
    fail "mcd -d on a taken port exited 0"
fi
grep -q "$port" "$OPS_TMP/second.err" || fail "no message for the taken port: $(cat "$OPS_TMP/second.err")"
[ -e "$OPS_TMP/run/other.pid" ] && fail "failed daemon left a pid file"

kill -TERM "$pid"
ops_poll 5 ops_dead "$pid" || fail "daemon did not exit on SIGTERM"
ops_untrack "$pid"
[ -e "$pidfile" ] && fail "pid file not removed at exit"
echo "ok: -d -P"

# --- SIGINT exits 0, SIGHUP does not kill ---
ops_start
kill -HUP "$OPS_PID"
ops_ready "$OPS_PORT" && ops_ready "$OPS_PORT" || fail "SIGHUP stopped the server"
kill -INT "$OPS_PID"
wait "$OPS_PID"
rc=$?
ops_untrack "$OPS_PID"
[ "$rc" = 0 ] || fail "SIGINT: exit status $rc"
ops_start
ops_stop "$OPS_PID" || fail "SIGTERM: exit status $?"
echo "ok: signals"

# --- -c: raise RLIMIT_NOFILE, or fail clearly ---
(ulimit -S -n 256; exec "$MCD" -p 0 -c 5000000 -U 0 "${OPS_ROOT_ARGS[@]}") 2>"$OPS_TMP/c.err" \
    && fail "-c 5000000 (above fs.nr_open) started"
grep -q "rlimit for open files" "$OPS_TMP/c.err" || fail "-c message: $(cat "$OPS_TMP/c.err")"
port=$(ops_free_port)
(ulimit -S -n 256; exec "$MCD" -p "$port" -l 127.0.0.1 -U 0 -c 3000 "${OPS_ROOT_ARGS[@]}") &
p=$!
ops_track "$p"
ops_poll 5 ops_ready "$port" || fail "-c 3000 did not start"
nofile=$(awk '/^Max open files/ { print $4 }' "/proc/$p/limits")
[ "$nofile" -ge 3000 ] 2>/dev/null || fail "-c 3000 left RLIMIT_NOFILE at $nofile"
ops_stop "$p"
echo "ok: -c"

# --- -r raises the core limit (soft to hard) ---
port=$(ops_free_port)
(ulimit -S -c 0; exec "$MCD" -p "$port" -l 127.0.0.1 -U 0 -r "${OPS_ROOT_ARGS[@]}") &
p=$!
ops_track "$p"
ops_poll 5 ops_ready "$port" || fail "-r did not start"
core_raised() { [ "$(awk '/^Max core file size/ { print $5 }' "/proc/$p/limits")" != 0 ]; }
ops_poll 5 core_raised || fail "-r left the core limit at 0: $(grep core "/proc/$p/limits")"
ops_stop "$p"
echo "ok: -r"

# --- -k locks memory, or warns (not under AddressSanitizer or
# ThreadSanitizer, whose mlockall() interceptors do nothing and say nothing) ---
if ldd "$MCD" 2>/dev/null | grep -qE 'lib(a|t)san'; then
    echo "skip: -k (sanitizer build)"
else
    ops_start -k
    locked=$(awk '/^VmLck/ { print $2 }' "/proc/$OPS_PID/status")
    if [ "${locked:-0}" -eq 0 ]; then
        grep -q "mlockall" "$OPS_TMP/mcd-$OPS_PORT.log" || fail "-k: nothing locked and no warning"
    fi
    ops_stop "$OPS_PID"
    echo "ok: -k (VmLck ${locked:-0} kB)"
fi

# --- -u: root refused without it, dropped with it ---
if [ "$(id -u)" = 0 ]; then
    "$MCD" -p "$(ops_free_port)" -U 0 2>"$OPS_TMP/u.err" && fail "root without -u started"
    grep -q "can't run as root without the -u switch" "$OPS_TMP/u.err" || fail "-u message: $(cat "$OPS_TMP/u.err")"
    if id nobody >/dev/null 2>&1; then
        ops_start -u nobody
        uid=$(awk '/^Uid:/ { print $2 }' "/proc/$OPS_PID/status")
        [ "$uid" = "$(id -u nobody)" ] || fail "-u nobody runs as uid $uid"
        ops_stop "$OPS_PID"
    fi
    echo "ok: -u"
else
    echo "not root: -u not tested"
fi
exit 0
