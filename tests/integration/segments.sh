#!/bin/bash
# segments.sh - the integration programs whose behaviour does not depend on
# slab classes, run again with every mcd on the segment engine
# (MCD_ITEM_STORE=segments: the harness adds -o item_store=segments to each
# mcd it starts, never to the oracle). The replies must be the same as on
# slabs and as memcached 1.6.45's: these programs compare against the
# oracle or pin memcached's replies.
#
# Each entry is PROGRAM or PROGRAM:FILTER (a Criterion --filter); a filter
# leaves out the cases that test slab machinery itself, which the engine
# does not have (memcached-compat.md, "The segment engine"):
#   memory_limit_above_32g  slab chunk sizes above 32 GB
#   names_in_memcached_order, settings_values_follow_flags, settings_values_follow_tuning_options
#                           `stats settings` has the extra item_store line
#   checksummed_values_under_eviction
#                           checks bytes <= -m 2: the engine takes at least 4
#                           segments (4 MB), so a -m below that is exceeded
#   metadump_and_mgdump_as_memcached, cachedump_as_memcached, cachedump_lists_the_class
#                           per-class listings: the engine has one class, 1
#
# Env: MCD_BUILDDIR (the build tree); MCD_SEGMENTS_SKIP=1 skips it. Programs not built (no libmemcached)
# are skipped; fails if any that ran failed, printing its output.
set -u

# MCD_SEGMENTS_SKIP=1: skip (dev.sh's distcheck, after the same run in the plain build)
[ "${MCD_SEGMENTS_SKIP:-0}" = 1 ] && { echo "MCD_SEGMENTS_SKIP=1: skipped"; exit 77; }

dir=${MCD_BUILDDIR:-.}/tests/integration
tests="
test_store
test_text_cases
test_binary_cases
test_binary_matrix
test_meta
test_cas_rules
test_cas_ranges
test_flush_cas
test_flush_prefix
test_limits:limits/!(memory_limit_above_32g)
test_concurrency:concurrency/!(checksummed_values_under_eviction)
test_diff
test_memory
test_observe
test_stats:stats/!(names_in_memcached_order|settings_values_follow_flags|settings_values_follow_tuning_options)
test_stats_reset
test_dump:dump/!(metadump_and_mgdump_as_memcached|cachedump_as_memcached|cachedump_lists_the_class)
test_watch
test_libmemcached
test_libmemcached_binary
"

export MCD_ITEM_STORE=segments
fail=0 ran=0
for entry in $tests; do
    t=${entry%%:*}
    filter=
    [ "$t" != "$entry" ] && filter=${entry#*:}
    if [ ! -x "$dir/$t" ]; then
        echo "SKIP: $t (not built)"
        continue
    fi
    log=$(mktemp "${TMPDIR:-/tmp}/mcd-segments-$t.XXXXXX")
    if "$dir/$t" ${filter:+--filter "$filter"} >"$log" 2>&1; then
        echo "PASS: $t (segments)"
    else
        echo "FAIL: $t (segments)"
        cat "$log"
        fail=1
    fi
    ran=$((ran + 1))
    rm -f "$log"
done
[ $ran -gt 0 ] || exit 77
exit $fail
