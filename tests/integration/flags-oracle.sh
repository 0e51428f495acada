#!/bin/bash
# flags-oracle.sh - bad command-line flags: mcd must exit with the status
# and print the message memcached 1.6.45 does (the range checks of
# server/settings.def). Each case runs both binaries; neither should start,
# but a run is bounded by `timeout` all the same. getopt's own line names
# the program, so "invalid option" lines are compared without it.
#
# Env: MCD_BIN, MEMCACHED_BIN (the oracle). Exit 77 (skip) without the oracle.
set -u

bin=${MCD_BIN:-server/mcd}
oracle=${MEMCACHED_BIN:-}
if [ -z "$oracle" ] || [ ! -x "$oracle" ] || ! "$oracle" -V 2>/dev/null | grep -q '1\.6\.45'; then
    echo "memcached 1.6.45 not available: skipping"
    exit 77
fi

run() { # binary args... -> "status|stderr"
    local b=$1 out st
    shift
    out=$(timeout 5 "$b" -l 127.0.0.1 -p 1 -U 0 -u root "$@" 2>&1 >/dev/null)
    st=$?
    printf '%s|%s' "$st" "$(printf '%s' "$out" | sed 's/^[^ ]*: invalid option/invalid option/')"
}

fail=0
while IFS= read -r args; do
    # shellcheck disable=SC2086 # each case is a list of words
    m=$(run "$bin" $args)
    # shellcheck disable=SC2086
    o=$(run "$oracle" $args)
    if [ "$m" != "$o" ]; then
        printf 'mcd %s:\n  memcached: %s\n  mcd:       %s\n' "$args" "$o" "$m"
        fail=1
    fi
done <<'CASES'
-t 0
-t 0 -c 0
-c 0
-f 1.0
-n 0
-R 0
-I 512
-m 100000 -I 2000m
-m 4 -I 4m
-p 70000
-o hashpower=5
-o hashpower=70
-o hashpower
-o bogus
-o idle_timeout=3,bogus=1
-o slab_automove=3
-o slab_automove_ratio=0
-o slab_automove_ratio=1.5
-o slab_automove_window=2
-o slab_automove_window=1801
-j
CASES
[ $fail = 0 ] && echo "bad flags: same status and message as $oracle"
exit $fail
