#!/bin/bash
# python-prefix.sh - the Python example's prefix invalidation: one tenant's rows dropped by flush_prefix,
# against a private PostgreSQL and mcd (test_python.py prefix).
set -u
. "${srcdir:-.}/examples/tests/ex-lib.sh"
ex_python
ex_setup
"$EX_PY" "$EX_DIR/tests/test_python.py" prefix "$PG_DSN" "$OPS_PORT"
exit $?
