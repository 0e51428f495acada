# pg-lib.sh - for the examples' tests (sourced, bash, after
# tests/integration/ops-lib.sh): a private PostgreSQL in a temporary
# directory, on a free loopback port with its socket beside the data, run
# as a non-root user when we are root, stopped on any exit.
#
#   pg_start      initdb + pg_ctl start; sets PG_PORT, PG_HOST (the socket
#                 directory), PG_DSN (libpq key=value), PG_USER
#   pg_psql SQL   runs SQL, prints the unaligned, tuples-only result
#   pg_load FILE  runs an SQL script
#   pg_connections APPNAME  connections accepted from that application_name
#
# The server loads pg_stat_statements, so a test can count the queries an
# example sent (the extension is created in the database by pg_start).
# pg_start skips the test (77) when PostgreSQL is not installed.

pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && echo "$d"
}

PG_BIN=
PG_DIR=
PG_AS=()
PG_USER=mcd_example

# pg_as CMD...: runs CMD as PostgreSQL's user, from PG_DIR (the caller's
# directory may be closed to that user)
pg_as() { (cd "$PG_DIR" && "${PG_AS[@]}" "$@"); }

pg_cleanup() {
    [ -n "$PG_DIR" ] || return 0
    if [ -f "$PG_DIR/data/postmaster.pid" ]; then
        pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 10 stop >/dev/null 2>&1
        # the postmaster's PID, if pg_ctl could not stop it
        local pid
        pid=$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null)
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    fi
    rm -rf "$PG_DIR"
    PG_DIR=
}
trap 'pg_cleanup; ops_cleanup' EXIT

pg_start() {
    local try opts
    PG_BIN=$(pg_bindir) || skip "PostgreSQL not installed (Debian package postgresql)"
    # postgres refuses to run as root: run its programs as the postgres user
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || skip "running as root and there is no postgres user to run PostgreSQL"
        PG_AS=(runuser -u postgres --)
    fi
    # not under OPS_TMP: that is private to us, and postgres must own this
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mcd-pg.XXXXXX")
    chmod 755 "$PG_DIR"
    [ ${#PG_AS[@]} -eq 0 ] || chown postgres "$PG_DIR"
    PG_HOST=$PG_DIR
    pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" -A trust -E UTF8 --locale=C \
        --no-sync >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; fail "initdb"; }
    for try in 1 2 3 4 5; do
        PG_PORT=$(ops_free_port)
        # one line: pg_ctl hands it to a shell. No durability needed here.
        opts="-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        opts+=" -c full_page_writes=off -c shared_preload_libraries=pg_stat_statements -c log_connections=on"
        if pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
            -o "$opts" start >/dev/null 2>&1; then
            PG_DSN="host=$PG_HOST port=$PG_PORT user=$PG_USER dbname=postgres"
            pg_psql "CREATE EXTENSION pg_stat_statements" >/dev/null || fail "CREATE EXTENSION pg_stat_statements"
            return 0
        fi
    done
    cat "$PG_DIR/server.log" >&2
    fail "PostgreSQL did not start"
}

pg_psql() {
    "$PG_BIN/psql" "$PG_DSN" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}

# pg_load FILE: runs an SQL script (the examples' schema and rows).
pg_load() {
    "$PG_BIN/psql" "$PG_DSN" -X -q -v ON_ERROR_STOP=1 -f "$1" >/dev/null
}

# pg_connections APPNAME: how many connections the server has accepted from
# clients that gave that application_name (libpq: PGAPPNAME), from its log
pg_connections() {
    grep -c "connection authorized: .* application_name=$1\$" "$PG_DIR/server.log"
}
