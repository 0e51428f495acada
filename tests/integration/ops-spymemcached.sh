#!/bin/bash
# ops-spymemcached.sh - a binary-protocol client other than libmemcached:
# spymemcached (Java) with its BinaryConnectionFactory.
set -u
. "${srcdir:-.}/tests/integration/ops-lib.sh"
jar=/usr/share/java/spymemcached.jar
[ -r "$jar" ] || skip "spymemcached not installed (Debian package libspymemcached-java)"
command -v javac >/dev/null 2>&1 && command -v java >/dev/null 2>&1 || skip "no JDK (javac)"
javac -d "$OPS_TMP" -cp "$jar" "$OPS_SRCDIR/tests/integration/OpsSpyBinary.java" || fail "javac"
ops_start   # -B auto: the first byte (0x80) selects binary
java -cp "$jar:$OPS_TMP" OpsSpyBinary "$OPS_PORT" 2>"$OPS_TMP/java.err" || { cat "$OPS_TMP/java.err" >&2; fail "spymemcached test"; }
ops_stop "$OPS_PID" || fail "exit status $?"
