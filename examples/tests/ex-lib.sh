# ex-lib.sh - what every examples test starts with (sourced, bash): the ops
# helpers (mcd on a free port, killed by PID), a private PostgreSQL loaded
# with examples/schema.sql, and the interpreter the example needs.
#
#   ex_setup [MCD ARGS...]  PostgreSQL + schema + mcd; sets PG_DSN, OPS_PORT
#   ex_python               EX_PY: a python3 with psycopg2 and pymemcache, or skip
#   ex_php                  EX_PHP: a php with memcached and pgsql, or skip
. "${srcdir:-.}/tests/integration/ops-lib.sh"
. "$OPS_SRCDIR/examples/tests/pg-lib.sh"
EX_DIR=$OPS_SRCDIR/examples

ex_setup() {
    pg_start
    pg_load "$EX_DIR/schema.sql" || fail "loading examples/schema.sql"
    ops_start "$@"
}

ex_python() {
    local p
    EX_PY=
    export PYTHONDONTWRITEBYTECODE=1 # nothing written into the source tree
    # Debian's packages live in the system python, not in a pyenv or venv
    for p in /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
        [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import psycopg2, pymemcache' 2>/dev/null && { EX_PY=$p; return; }
    done
    skip "python3 with psycopg2 and pymemcache not installed (Debian: python3-psycopg2 python3-pymemcache)"
}

ex_php() {
    EX_PHP=$(command -v php 2>/dev/null) || skip "php not installed (Debian: php-cli php-memcached php-pgsql)"
    "$EX_PHP" -r 'exit(extension_loaded("memcached") && extension_loaded("pgsql") ? 0 : 1);' ||
        skip "php lacks the memcached or pgsql extension (Debian: php-memcached php-pgsql)"
}
