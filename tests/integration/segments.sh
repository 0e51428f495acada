#!/bin/bash
# segments.sh - the integration tests whose behaviour does not depend on
# slab classes, run again with every mcd on the segment engine
# (MCD_ITEM_STORE=segments: the harness adds -o item_store=segments). The
# replies must be the same as on slabs and as memcached 1.6.45's: these
# programs compare against the oracle or pin memcached's replies.
#
# Env: MCD_BUILDDIR (the build tree, where the test programs are). Runs
# them one after the other; fails if any fails, and prints its log.
set -u

dir=${MCD_BUILDDIR:-.}/tests/integration
tests="test_store test_text_cases test_binary_cases test_meta test_cas_rules test_flush_cas
       test_flush_prefix test_limits test_libmemcached test_libmemcached_binary test_concurrency test_diff"

export MCD_ITEM_STORE=segments
fail=0
for t in $tests; do
    if [ ! -x "$dir/$t" ]; then
        echo "$dir/$t not built" >&2
        exit 1
    fi
    log=$(mktemp "${TMPDIR:-/tmp}/mcd-segments-$t.XXXXXX")
    if "$dir/$t" >"$log" 2>&1; then
        echo "PASS: $t (segments)"
    else
        echo "FAIL: $t (segments)"
        cat "$log"
        fail=1
    fi
    rm -f "$log"
done
exit $fail
