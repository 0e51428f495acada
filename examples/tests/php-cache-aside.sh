#!/bin/bash
# php-cache-aside.sh - examples/php/catalog.php: three PHP processes (three
# requests) read the same ten rows; only the first reaches PostgreSQL,
# counted by pg_stat_statements; the later ones do not even connect.
set -u
. "${srcdir:-.}/examples/tests/ex-lib.sh"
ex_php
ex_setup
export MCD_SERVER=127.0.0.1:$OPS_PORT PG_DSN
query='SELECT name, price_cents FROM products WHERE tenant = $1 AND id = $2'
calls() { pg_psql "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query = '$query'"; }

expected=$(for i in $(seq 1 10); do
    printf '{"tenant":4,"id":%d,"name":"product %d of tenant 4","price_cents":%d}\n' "$i" "$i" $((100 * i))
done)
pg_psql "SELECT pg_stat_statements_reset()" >/dev/null
for request in 1 2 3; do
    out=$(PGAPPNAME=catalog-php "$EX_PHP" "$EX_DIR/php/catalog.php" 4 $(seq 1 10)) || fail "catalog.php request $request"
    [ "$out" = "$expected" ] || { printf '%s\n' "$out" >&2; fail "request $request read other rows"; }
    [ "$(calls)" = 10 ] || fail "after request $request the database ran $(calls) queries, not 10"
    [ "$(pg_connections catalog-php)" = 1 ] || fail "after request $request PHP had connected $(pg_connections catalog-php) times, not once"
    echo "ok: request $request read 10 rows; the database has run 10 queries and had 1 connection in all"
done
hits=$(ops_stat "$OPS_PORT" get_hits)
[ "$hits" = 20 ] || fail "mcd counted $hits hits, not 20"
echo "ok: mcd served the 20 later reads"
