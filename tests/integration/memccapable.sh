#!/bin/bash
# memccapable.sh - runs libmemcached's protocol conformance tool, all of it
# (ascii and binary: 54 tests with libmemcached-tools 1.1.4), against the
# server under test on a free loopback port. Passes only when every test
# reports [pass], but for the two ascii delete tests memcached 1.6.45 fails
# too (see below).
#
# Env: MCD_BIN (server binary), MEMCCAPABLE (tool path), MEMCCAPABLE_MIN_TESTS
# (passes required, default 54; lower it for another tool version). Exit 77 (skip) when
# memccapable is missing. The server is killed by PID on any exit.
set -u

bin=${MCD_BIN:-server/mcd}
capable=${MEMCCAPABLE:-$(command -v memccapable || true)}
if [ -z "$capable" ] || [ ! -x "$capable" ]; then
    echo "memccapable not installed: skipping"
    exit 77
fi
if [ ! -x "$bin" ]; then
    echo "server binary $bin not found" >&2
    exit 1
fi

log=$(mktemp "${TMPDIR:-/tmp}/mcd-memccapable.XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -f "$log"
}
trap cleanup EXIT

user=()
[ "$(id -u)" = 0 ] && user=(-u root)

# true once a "version" round trip on 127.0.0.1:$1 succeeds
ready() {
    local reply
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    printf 'version\r\n' >&3
    IFS= read -r -t 2 reply <&3
    exec 3<&- 3>&-
    case $reply in VERSION\ *) return 0 ;; esac
    return 1
}

started=
for attempt in 1 2 3 4 5 6; do
    port=$((20000 + (RANDOM * 32768 + RANDOM + $$ + attempt) % 40000))
    "$bin" -p "$port" -l 127.0.0.1 -U 0 "${user[@]}" >"$log" 2>&1 &
    pid=$!
    # poll for readiness (deadline 10 s), or notice an early exit (port taken)
    for _ in $(seq 1 500); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            pid=
            break
        fi
        if ready "$port"; then
            started=yes
            break
        fi
        sleep 0.02
    done
    [ -n "$started" ] && break
    if [ -n "$pid" ]; then
        echo "server did not become ready" >&2
        cat "$log" >&2
        exit 1
    fi
done
if [ -z "$started" ]; then
    echo "could not start $bin" >&2
    cat "$log" >&2
    exit 1
fi

# every test, both protocols (no -a / -b)
out=$("$capable" -h 127.0.0.1 -p "$port" -t 5 2>&1)
rc=$?
echo "$out"
# memcached 1.6.45 fails these two as well: memccapable wants an error for
# "delete a b c d e", and 1.6.45 ignores what follows the key (NOT_FOUND);
# mcd answers as 1.6.45 (memcached-compat.md, "Text protocol commands")
known_fail='^ascii delete( noreply)? +\[FAIL\]'
nknown=$(grep -cE "$known_fail" <<<"$out")
npass=$(grep -c "\[pass\]" <<<"$out")
nrun=$(grep -cE "^(ascii|binary) " <<<"$out")
nascii=$(grep -cE "^ascii .*\[pass\]" <<<"$out")
nbinary=$(grep -cE "^binary .*\[pass\]" <<<"$out")
echo "memccapable: $npass of $nrun passed (ascii $nascii, binary $nbinary), $nknown known 1.6.45 failures"
if [ "$npass" -ne $((nrun - nknown)) ] || [ "$nascii" -eq 0 ] || [ "$nbinary" -eq 0 ] ||
    [ $((npass + nknown)) -lt "${MEMCCAPABLE_MIN_TESTS:-54}" ] ||
    { [ "$nknown" -eq 0 ] && { [ $rc -ne 0 ] || ! grep -q "All tests passed" <<<"$out"; }; }; then
    echo "memccapable failed (rc=$rc)" >&2
    cat "$log" >&2
    exit 1
fi
exit 0
