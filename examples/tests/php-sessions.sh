#!/bin/bash
# php-sessions.sh - examples/php/session.php with session.save_handler =
# memcached against mcd: concurrent requests of one session lose no update
# (its lock), a session one PHP process writes another reads, and it
# expires by its TTL (session.gc_maxlifetime).
set -u
. "${srcdir:-.}/examples/tests/ex-lib.sh"
ex_php
ops_start
php_session() {
    "$EX_PHP" -d session.save_handler=memcached -d session.save_path="127.0.0.1:$OPS_PORT" \
        -d session.gc_maxlifetime="$ttl" -d memcached.sess_lock_retries=200 "$EX_DIR/php/session.php" "$@"
}

# three "app servers" increment one session's counter at once, 8 times
# each: php-memcached's lock (add lock.<id>, delete after the write) keeps
# every increment. (More lock retries than the default 5 x 150 ms, for a
# loaded machine.)
ttl=60
shared=$(php_session write hits 0) || fail "session write"
for server in 1 2 3; do
    (for i in 1 2 3 4 5 6 7 8; do
        php_session incr "$shared" hits >/dev/null || exit 1
    done) &
    pids[server]=$!
done
for server in 1 2 3; do wait "${pids[server]}" || fail "an increment failed"; done
got=$(php_session read "$shared" hits)
[ "$got" = 24 ] || fail "24 concurrent increments left $got"
echo "ok: 24 increments by three concurrent php loops, none lost"

# a session one PHP process writes, another reads (a TTL no loaded machine
# outlasts between the two PHP starts)
id=$(php_session write user alice) || fail "session write"
[ -n "$id" ] || fail "no session id"
got=$(php_session read "$id" user) || fail "session read"
[ "$got" = alice ] || fail "another process read '$got', not alice"
echo "ok: a session written by one php process is read by another"

# a short TTL: the session expires
ttl=3
id=$(php_session write user bob) || fail "session write"
[ -n "$id" ] || fail "no session id"
ops_request "$OPS_PORT" "mg memc.sess.key.$id t" '^(HD|EN)' | grep -Eq "^HD t[1-3]$" ||
    fail "mcd does not hold the session with a TTL of at most $ttl s"
ops_request "$OPS_PORT" "mg lock.$id" '^(HD|EN)' | grep -q '^EN$' || fail "the session's lock was left behind"
echo "ok: mcd holds memc.sess.key.$id with its TTL; the lock is released"

gone() { [ -z "$(php_session read "$id" user)" ]; }
start=$SECONDS
ops_poll 10 gone || fail "the session is still readable after 10 s (TTL $ttl s)"
echo "ok: the session expired after about $((SECONDS - start)) s"
ops_request "$OPS_PORT" "mg memc.sess.key.$id" '^(HD|EN)' | grep -q '^EN$' || fail "mcd still holds the session"
