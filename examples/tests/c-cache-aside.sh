#!/bin/bash
# c-cache-aside.sh - examples/catalog.c (libmemcached + libpq): three runs
# read the same ten rows and only the first reaches PostgreSQL (counted by
# pg_stat_statements); after set-price (write-through) the next read has
# the new price, from the cache.
set -u
. "${srcdir:-.}/examples/tests/ex-lib.sh"
catalog=$PWD/examples/catalog
[ -x "$catalog" ] || skip "examples/catalog not built (needs libmemcached-dev and libpq-dev)"
ex_setup
cat_run() { PGAPPNAME=catalog-c "$catalog" -s "127.0.0.1:$OPS_PORT" -d "$PG_DSN" "$@"; }
select='SELECT name, price_cents FROM products WHERE tenant = $1 AND id = $2'
calls() { pg_psql "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query = '$select'"; }
row() { printf '{"tenant":42,"id":%d,"name":"product %d of tenant 42","price_cents":%d}\n' "$1" "$1" "$2"; }

expected=$(for i in $(seq 1 10); do row "$i" $((100 * i)); done)
pg_psql "SELECT pg_stat_statements_reset()" >/dev/null
for run in 1 2 3; do
    out=$(cat_run get 42 $(seq 1 10)) || fail "catalog get, run $run"
    [ "$out" = "$expected" ] || { printf '%s\n' "$out" >&2; fail "run $run read other rows"; }
    [ "$(calls)" = 10 ] || fail "after run $run the database ran $(calls) queries, not 10"
    [ "$(pg_connections catalog-c)" = 1 ] || fail "after run $run catalog had connected $(pg_connections catalog-c) times, not once"
    echo "ok: run $run read 10 rows; the database has run 10 queries and had 1 connection in all"
done

[ "$(cat_run set-price 42 3 12345)" = "$(row 3 12345)" ] || fail "set-price"
[ "$(pg_psql "SELECT price_cents FROM products WHERE tenant = 42 AND id = 3")" = 12345 ] ||
    fail "set-price did not reach the database"
[ "$(cat_run get 42 3)" = "$(row 3 12345)" ] || fail "the read after set-price has the old price"
[ "$(calls)" = 10 ] || fail "the read after set-price went to the database"
echo "ok: after set-price the next read has the new price, from the cache"
