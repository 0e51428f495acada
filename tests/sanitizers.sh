#!/bin/sh
# tests/sanitizers.sh [asan|tsan|debug|all] - sanitizer and debug builds for CI.
#
#   asan  ./configure --enable-sanitizers (ASan + UBSan, and the asserts
#         on: the store checks its invariants, store/debug.h) in a temporary
#         copy of the tree, then the whole `make check` (LeakSanitizer on,
#         with Criterion's own leak suppressed by tests/lsan.supp).
#   tsan  ThreadSanitizer, deadlock detection on, in another copy with two
#         out-of-tree builds: tsan/ (./configure --enable-tsan) builds
#         server/mcd and the concurrency tests against tests/tsan/
#         (Criterion cannot run under TSan), which run in-process (the
#         store's concurrency and hash table tests, and the integration
#         concurrency test); the source tree's own plain build (or, when
#         it has none, plain/ in the copy) runs every integration test and
#         the ops scripts (TSAN_TESTS below) with MCD_BIN pointing at the
#         TSan server. The server halts
#         on its first report; reports land in the copy's tsan-report.*
#         files and fail the run.
#   debug ./configure --enable-debug (the store's invariant asserts on,
#         store/debug.h) in a third copy, then the whole `make check`: the
#         unit tests and every integration test against that build's
#         server/mcd, which aborts on a broken invariant.
#   all   asan and tsan (the default): the asan build already asserts the
#         invariants the debug build checks, so CI does not run the suite a
#         third time. About 4 minutes on 2 cores.
#
# Environment: JOBS (make -j, default: nproc), KEEP=1 keeps the copies,
# MEMCACHED_BIN (the oracle; default: the one configure finds beside the
# checkout, ../shared/oracle),
# SAN_SKIP: tests left out of the ASan `make check` (default below),
# DEBUG_SKIP: tests left out of the debug build's `make check` (default: none),
# TSAN_SKIP: tests left out of the TSan server run (default: the syscall
# count, which counts TSan's own calls too).
set -eu

mode=${1:-all}
src=$(cd "$(dirname "$0")/.." && pwd)
# The copies live in $TMPDIR, where configure cannot find the oracle
# beside the checkout (configure.ac): point the tests at it here.
if [ -z "${MEMCACHED_BIN:-}" ] && [ -x "$src/../shared/oracle/memcached-1.6.45/memcached" ]; then
    MEMCACHED_BIN=$(cd "$src/../shared/oracle/memcached-1.6.45" && pwd)/memcached
    export MEMCACHED_BIN
fi
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
skip=${SAN_SKIP:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcd-san.XXXXXX")
cleanup() { [ "${KEEP:-0}" = 1 ] && echo "sanitizers: kept $tmp" || rm -rf "$tmp"; }
trap cleanup EXIT

copy() {
    mkdir -p "$1"
    (cd "$src" && tar --exclude=.git --exclude='*.o' --exclude='*.a' --exclude=Makefile \
        --exclude=Makefile.in --exclude=configure --exclude=autom4te.cache --exclude=config.status \
        --exclude=config.h --exclude='*.log' --exclude='*.trs' --exclude=fuzz/bin --exclude=fuzz/work \
        -cf - .) | (cd "$1" && tar -xf -)
    (cd "$1" && autoreconf -fi >/dev/null 2>&1)
}

show_failures() {
    for f in $(find "$1" -name '*.log' ! -name test-suite.log ! -name config.log); do
        if grep -qE '^:test-result: (FAIL|ERROR)' "${f%.log}.trs" 2>/dev/null; then
            echo "===== $f"
            tail -40 "$f"
        fi
    done
}

# Builds a copy of the tree in $tmp/$1, configured with $2, and runs make
# check over every test but those named in $3; $4 names the build in the
# messages; the remaining arguments (VAR=value) are the tests' environment.
check_copy() {
    d=$tmp/$1 flag=$2 skips=$3 what=$4
    shift 4
    echo "sanitizers: $what build in $d"
    copy "$d" || return 1
    cd "$d" || return 1
    ./configure --enable-werror "$flag" >/dev/null || return 1
    make -j"$jobs" >/dev/null || return 1
    tests=
    for t in $(make -s print-tests); do
        case " $skips " in *" $t "*) echo "sanitizers: $what: skipping $t" ;; *) tests="$tests $t" ;; esac
    done
    if ! env "$@" make -j"$jobs" check TESTS="$tests" >make-check.out 2>&1; then
        grep -E '^(FAIL|ERROR|# )' make-check.out || true
        show_failures "$d"
        echo "sanitizers: $what FAILED"
        return 1
    fi
    grep -E '^# (TOTAL|PASS|FAIL)' make-check.out
    echo "sanitizers: $what passed"
}

# MCD_BIN_SANITIZED=1: the tests' time limits loosen for a slow server
run_asan() {
    check_copy asan --enable-sanitizers "$skip" "ASan+UBSan" MCD_BIN_SANITIZED=1 \
        ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
        UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
}

# the store's invariant asserts on (--enable-debug)
run_debug() {
    check_copy debug --enable-debug "${DEBUG_SKIP:-}" "debug"
}

run_tsan() {
    d=$tmp/tsan
    echo "sanitizers: TSan build in $d"
    copy "$d" || return 1
    mkdir -p "$d/tsan"
    (cd "$d/tsan" && ../configure --enable-werror --enable-tsan >/dev/null) || return 1
    # the integration tests' own programs: the source tree's build when it
    # is configured plain (dev.sh test has built them for its make check:
    # building them again took CI 90 s), else a plain build of the copy
    plain=$d/plain
    if [ -f "$src/config.status" ] && ! grep -qE -- '--enable-(sanitizers|tsan)' "$src/config.status"; then
        plain=$src
    else
        mkdir -p "$plain"
        (cd "$plain" && ../configure --enable-werror >/dev/null) || return 1
    fi
    progs="tests/tsan/store_concurrency tests/tsan/store_hashtable tests/tsan/integration_concurrency"
    progs="$progs tests/tsan/store_prefix"
    progs="$progs tests/tsan/store_seg_model"
    progs="$progs tests/tsan/store_seg_engine"
    # shellcheck disable=SC2086
    (cd "$d/tsan" && make -j"$jobs" server/mcd $progs >/dev/null) || return 1
    # Deadlock detection on: it tracks at most 64 mutexes held by one
    # thread, and the store never holds more than a few.
    TSAN_OPTIONS="halt_on_error=1 detect_deadlocks=1 second_deadlock_stack=1 exitcode=66 log_path=$d/tsan-report ${TSAN_OPTIONS:-}"
    export TSAN_OPTIONS
    MCD_BIN=$d/tsan/server/mcd
    MCD_BIN_SANITIZED=1
    export MCD_BIN MCD_BIN_SANITIZED
    status=0
    for p in $progs; do
        if (cd "$d/tsan" && "./$p" >"$p.out" 2>&1); then
            echo "sanitizers: TSan $p passed"
        else
            echo "sanitizers: TSan $p FAILED"
            tail -20 "$d/tsan/$p.out"
            status=1
        fi
    done
    # every integration test and ops script against the TSan server; the
    # test programs themselves are plain builds
    cd "$plain" || return 1
    tskip=${TSAN_SKIP:-tests/perf/syscalls.sh}
    tests=
    for t in $(make -s print-tests); do
        case $t in tests/integration/*) ;; *) continue ;; esac
        case " $tskip " in *" $t "*) echo "sanitizers: TSan: skipping $t" ;; *) tests="$tests $t" ;; esac
    done
    # the output beside the copy: $plain may be the source tree
    if make -j"$jobs" check TESTS="$tests" >"$d/make-check.out" 2>&1; then
        grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR)' "$d/make-check.out"
        echo "sanitizers: TSan server under the integration tests: ok"
    else
        grep -E '^(FAIL|ERROR|# )' "$d/make-check.out" || true
        show_failures "$plain"
        echo "sanitizers: TSan server under the integration tests: FAILED"
        status=1
    fi
    if ls "$d"/tsan-report.* >/dev/null 2>&1; then
        echo "sanitizers: ThreadSanitizer reports:"
        cat "$d"/tsan-report.*
        echo "sanitizers: TSan reports FAILED"
        status=1
    fi
    return $status
}

rc=0
case $mode in
asan) run_asan || rc=1 ;;
tsan) run_tsan || rc=1 ;;
debug) run_debug || rc=1 ;;
all)
    (run_asan) || rc=1
    (run_tsan) || rc=1
    ;;
*) echo "usage: $0 [asan|tsan|debug|all]" >&2; exit 2 ;;
esac
exit $rc
