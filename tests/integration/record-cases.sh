#!/bin/sh
# record-cases.sh - re-record the expected replies of a case table from the
# real memcached. Run from the build tree after `make tests/integration/record_cases`:
#   tests/integration/record-cases.sh [tests/integration/cases/text.cases]
# Review the diff before committing: every changed line is a behaviour change.
# cases/text-mcd.cases is hand-written (mcd's deliberate differences): never
# record it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
table=${1:-$here/cases/text.cases}
case $table in *-mcd.cases) echo "record-cases: $table holds mcd's own replies, not memcached's" >&2; exit 2 ;; esac
recorder=${RECORDER:-./tests/integration/record_cases}
MEMCACHED_BIN=${MEMCACHED_BIN:-$here/../../../shared/oracle/memcached-1.6.45/memcached}
export MEMCACHED_BIN
[ -x "$MEMCACHED_BIN" ] || { echo "record-cases: no memcached at $MEMCACHED_BIN" >&2; exit 2; }
[ -x "$recorder" ] || { echo "record-cases: build $recorder first" >&2; exit 2; }
tmp=$(mktemp "${TMPDIR:-/tmp}/cases.XXXXXX")
trap 'rm -f "$tmp"' EXIT
"$recorder" "$table" "$tmp"
cp "$tmp" "$table"
echo "recorded $table from $("$MEMCACHED_BIN" -V)"
