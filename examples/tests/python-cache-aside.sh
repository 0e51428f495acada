#!/bin/bash
# python-cache-aside.sh - the Python example's cache-aside, leases and stale-while-revalidate (examples/python/catalog.py, lease.py),
# against a private PostgreSQL and mcd (test_python.py cache_aside).
set -u
. "${srcdir:-.}/examples/tests/ex-lib.sh"
ex_python
ex_setup
"$EX_PY" "$EX_DIR/tests/test_python.py" cache_aside "$PG_DSN" "$OPS_PORT"
exit $?
