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
    # mcd's own "has no effect" warnings are not memcached's (and are said
    # only when the command line is accepted)
    printf '%s|%s' "$st" "$(printf '%s' "$out" | sed 's/^[^ ]*: invalid option/invalid option/' |
        grep -v '^mcd: warning: -o .* has no effect in mcd')"
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
-o slab_automove_window=x
-o slab_automove_ratio=x
-o slab_automove_ratio
-j
-t 4 -o hashpower=12
-t 11 -o hashpower=14
-t 21 -o hashpower=15
-N 0
-N x
-N 5
-t 1 -N 2
-o tail_repair_time
-o tail_repair_time=9
-o tail_repair_time=2k
-o hash_algorithm
-o hash_algorithm=md5
-o lru_crawler_sleep
-o lru_crawler_sleep=-1
-o lru_crawler_sleep=1000001
-o lru_crawler_tocrawl
-o lru_crawler_tocrawl=x
-o lru_crawler_tocrawl=-1
-o hot_lru_pct
-o hot_lru_pct=0
-o hot_lru_pct=80
-o warm_lru_pct=x
-o hot_lru_pct=79
-o hot_lru_pct=41,warm_lru_pct=40
-o warm_lru_pct=61
-o hot_max_factor
-o hot_max_factor=0
-o warm_max_factor=-1
-o temporary_ttl
-o temporary_ttl=5,no_lru_maintainer
-o slab_chunk_max
-o slab_chunk_max=x
-o slab_chunk_max=-1
-o slab_chunk_max=0
-o slab_chunk_max=1025
-o slab_chunk_max=100
-I 2m -o slab_chunk_max=2048
-I 512k -o slab_chunk_max=1024
-o slab_chunk_max=64 -I 100k
-o watcher_logbuf_size
-o watcher_logbuf_size=x
-o worker_logbuf_size=-1
-o read_buf_mem_limit=0.5
-o slab_automove_freeratio
-o slab_automove_freeratio=2k
-o ext_item_size
-o ext_item_size=x
-o ext_item_age=-1
-o ext_low_ttl=1.5
-o ext_recache_rate=x
-o ext_wbuf_size=x
-o ext_compact_under=x
-o ext_drop_under=x
-o ext_max_sleep=x
-o ext_max_frag=x
-o ext_page_size=-1
-o ext_threads=x
CASES
[ $fail = 0 ] && echo "bad flags: same status and message as $oracle"
exit $fail
