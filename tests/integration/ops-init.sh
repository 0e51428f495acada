#!/bin/bash
# ops-init.sh - the sysv init script end to end, as root, in a DESTDIR
# install: start (pid file, server answers), status, restart, stop (gone,
# pid file removed), status after stop.
set -u
. "${srcdir:-.}/tests/integration/ops-lib.sh"
[ "$(id -u)" = 0 ] || skip "the init script test needs root"
id nobody >/dev/null 2>&1 || skip "no user nobody"

dest=$OPS_TMP/dest
${MAKE:-make} -s install DESTDIR="$dest" >"$OPS_TMP/install.log" 2>&1 || { cat "$OPS_TMP/install.log" >&2; fail "make install"; }
init=$(find "$dest" -path '*/init.d/mcd' | head -n 1)
start=$(find "$dest" -name start-mcd | head -n 1)
conf=$(find "$dest" -name mcd.conf | head -n 1)
defaults=$(find "$dest" -path '*/default/mcd' | head -n 1)
mcd=$(find "$dest" -path '*/bin/mcd' | head -n 1)
for f in "$init" "$start" "$conf" "$defaults" "$mcd"; do
    [ -n "$f" ] && [ -e "$f" ] || fail "make install missed a file (init $init, start $start, conf $conf, defaults $defaults, mcd $mcd)"
done
[ -x "$init" ] && [ -x "$start" ] || fail "scripts not executable"

# the installed option file, on a free port, logging to the temp dir
port=$(ops_free_port)
sed -e "s|^-p .*|-p $port|" -e "s|^logfile .*|logfile $OPS_TMP/mcd.log|" "$conf" >"$OPS_TMP/mcd.conf"
pidfile=$OPS_TMP/run/mcd.pid
cat "$defaults" >"$OPS_TMP/default"
cat >>"$OPS_TMP/default" <<EOT
MCD=$mcd
START_MCD=$start
CONFIG=$OPS_TMP/mcd.conf
PIDFILE=$pidfile
EOT
export MCD_DEFAULTS=$OPS_TMP/default
chmod 755 "$OPS_TMP"

"$init" start || {
    [ -s "$pidfile" ] && ops_track "$(cat "$pidfile")"
    cat "$OPS_TMP/mcd.log" >&2
    fail "init start"
}
[ -s "$pidfile" ] || fail "no pid file after start"
pid=$(cat "$pidfile")
ops_track "$pid"
ops_ready "$port" || fail "not answering after start"
[ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" = "$(id -u nobody)" ] || fail "not running as nobody"
"$init" status || fail "status while running: $?"
"$init" start || fail "second start"
[ "$(cat "$pidfile")" = "$pid" ] || fail "second start started another server"

"$init" restart || fail "restart"
ops_poll 5 ops_dead "$pid" || fail "old server still running after restart"
ops_untrack "$pid"
pid=$(cat "$pidfile")
ops_track "$pid"
ops_ready "$port" || fail "not answering after restart"

"$init" stop || fail "stop"
ops_dead "$pid" || fail "server still running after stop"
ops_untrack "$pid"
[ -e "$pidfile" ] && fail "pid file left after stop"
ops_refused "$port" || fail "port still open after stop"
"$init" status
rc=$?
[ "$rc" = 3 ] || fail "status after stop: $rc, want 3"
"$init" stop || fail "stop when stopped"
echo "ok: init script"
