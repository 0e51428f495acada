#!/bin/bash
# tls.sh - runs tls_checks.py (TLS: -Z against memcached 1.6.45 -Z, Python's
# ssl and pymemcache's tls_context) with Debian's python3. Skips (77) when
# there is no python3, no oracle, or mcd was built without TLS.
set -u
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 2>/dev/null)
[ -n "$py" ] && "$py" -c 'import ssl, pymemcache' 2>/dev/null || { echo "SKIP: python3 with ssl and pymemcache needed"; exit 77; }
mcd=${MCD_BIN:-server/mcd}
oracle=${MEMCACHED_BIN:-}
[ -x "$oracle" ] || { echo "SKIP: no memcached oracle"; exit 77; }
exec "$py" "${srcdir:-.}/tests/integration/tls_checks.py" "$mcd" "$oracle"
