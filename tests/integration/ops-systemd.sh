#!/bin/bash
# ops-systemd.sh - the unit file passes `systemd-analyze verify`, checked
# in an installed tree (DESTDIR) so that ExecStart's program exists.
set -u
. "${srcdir:-.}/tests/integration/ops-lib.sh"
command -v systemd-analyze >/dev/null 2>&1 || skip "systemd-analyze not installed"

dest=$OPS_TMP/dest
${MAKE:-make} -s install DESTDIR="$dest" >"$OPS_TMP/install.log" 2>&1 || { cat "$OPS_TMP/install.log" >&2; fail "make install"; }
unit=$(find "$dest" -name mcd.service | head -n 1)
[ -n "$unit" ] || fail "mcd.service not installed"
start=$(find "$dest" -name start-mcd | head -n 1)
[ -x "$start" ] || fail "start-mcd not installed"
# verify the unit as installed, with ExecStart pointing into DESTDIR
sed "s|^ExecStart=[^ ]*|ExecStart=$start|" "$unit" >"$OPS_TMP/mcd.service"
if ! SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$OPS_TMP/mcd.service" >"$OPS_TMP/verify.log" 2>&1; then
    cat "$OPS_TMP/verify.log" >&2
    fail "systemd-analyze verify"
fi
# anything said about our unit is a finding (other units' noise is not)
if grep -i "mcd.service" "$OPS_TMP/verify.log" >&2; then
    fail "systemd-analyze verify complained"
fi
for key in PrivateTmp ProtectSystem NoNewPrivileges RestrictAddressFamilies Restart=on-failure; do
    grep -q "^$key" "$unit" || fail "unit lacks $key"
done
echo "ok: systemd-analyze verify"
