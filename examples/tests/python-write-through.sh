#!/bin/bash
# python-write-through.sh - the Python example's write-through: readers during updates never see an older price,
# against a private PostgreSQL and mcd (test_python.py write_through).
set -u
. "${srcdir:-.}/examples/tests/ex-lib.sh"
ex_python
ex_setup
"$EX_PY" "$EX_DIR/tests/test_python.py" write_through "$PG_DSN" "$OPS_PORT"
exit $?
