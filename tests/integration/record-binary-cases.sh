#!/bin/sh
# record-binary-cases.sh - re-record the expected replies of the binary
# protocol table from the real memcached. Run from the build tree after
# `make tests/integration/record_binary_cases`:
#   tests/integration/record-binary-cases.sh [tests/integration/cases/binary.cases]
# "<close" hints and hand-written "<stats" checks are kept (the latter are
# checked against memcached). Review the diff before committing: every
# changed line is a behaviour change.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
table=${1:-$here/cases/binary.cases}
recorder=${RECORDER:-./tests/integration/record_binary_cases}
MEMCACHED_BIN=${MEMCACHED_BIN:-$here/../../../shared/oracle/memcached-1.6.45/memcached}
export MEMCACHED_BIN
[ -x "$MEMCACHED_BIN" ] || { echo "record-binary-cases: no memcached at $MEMCACHED_BIN" >&2; exit 2; }
[ -x "$recorder" ] || { echo "record-binary-cases: build $recorder first" >&2; exit 2; }
tmp=$(mktemp "${TMPDIR:-/tmp}/binary-cases.XXXXXX")
trap 'rm -f "$tmp"' EXIT
"$recorder" "$table" "$tmp"
cp "$tmp" "$table"
echo "recorded $table from $("$MEMCACHED_BIN" -V)"
