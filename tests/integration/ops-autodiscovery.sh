#!/bin/bash
# ops-autodiscovery.sh - ElastiCache auto-discovery clients from npm
# (memcached-elasticache, memcache-plus) against mcd's -o cluster_config and
# `config get cluster`: ops_autodiscovery.js says what is checked. Node.js
# and npm are Debian's nodejs and npm packages; the clients are installed
# from the npm registry into a temporary directory, so the test skips (77)
# without node, npm or a reachable registry.
set -u
. "${srcdir:-.}/tests/integration/ops-lib.sh"
command -v node >/dev/null 2>&1 || skip "node not installed (Debian package nodejs)"
command -v npm >/dev/null 2>&1 || skip "npm not installed (Debian package npm)"
mods=$OPS_TMP/npm
mkdir -p "$mods"
timeout 300 npm install --prefix "$mods" --no-audit --no-fund --no-save --loglevel=error \
    memcached-elasticache@1.1.1 memcache-plus@0.3.1 >"$OPS_TMP/npm.log" 2>&1 ||
    { cat "$OPS_TMP/npm.log"; skip "npm could not install the clients (is the npm registry reachable?)"; }

ops_start
port_b=$OPS_PORT
ops_start
port_c=$OPS_PORT
ops_start
port_d=$OPS_PORT
cluster=$OPS_TMP/cluster.conf
cat >"$cluster" <<CONF
# the nodes auto-discovery hands out: host ip port
127.0.0.1 127.0.0.1 $port_b
127.0.0.1 127.0.0.1 $port_c
CONF
ops_start -o "cluster_config=$cluster"
node "$OPS_SRCDIR/tests/integration/ops_autodiscovery.js" "$mods/node_modules" "$OPS_PORT" "$OPS_PID" \
    "$cluster" "$port_b" "$port_c" "$port_d" || fail "auto-discovery clients"
ops_stop "$OPS_PID" || fail "exit status $?"
