#!/bin/sh
# run-fuzz.sh SRCDIR BUILDDIR SECONDS [TARGET...] - build every libFuzzer
# target (fuzz/fuzz_*.c) with clang and run each for SECONDS.
#
# Called by `make fuzz`. Each target is compiled together with the proto/
# and store/ sources (all instrumented), and request_path with the request
# path library's server/ sources too (the ones server/local.am puts in
# libmcdserve.a), with -DMCD_LIBFUZZER so that the file defines
# LLVMFuzzerTestOneInput. The checked-in seed corpus
# fuzz/corpus/<target>/ is read but never written: new inputs go to
# BUILDDIR/fuzz/work/<target>/, crashes to BUILDDIR/fuzz/artifacts/.
# Environment: FUZZ_CC (default clang), FUZZ_JOBS (parallel targets,
# default 1), FUZZ_ARGS (extra libFuzzer flags).
# Without clang it says so and exits 0, so CI without clang still passes.
set -eu

src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
seconds=$3
shift 3

cc=${FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
    for c in clang clang-16 clang-15 clang-14; do
        if command -v "$c" >/dev/null 2>&1; then cc=$c; break; fi
    done
fi
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "run-fuzz: clang not found (apt-get install clang libclang-rt-14-dev); skipping fuzzing"
    exit 0
fi

if [ $# -gt 0 ]; then
    targets=$*
else
    targets=
    for f in "$src"/fuzz/fuzz_*.c; do
        t=$(basename "$f" .c)
        [ "$t" = fuzz_util ] && continue
        targets="$targets ${t#fuzz_}"
    done
fi

mkdir -p "$build/fuzz/bin" "$build/fuzz/work" "$build/fuzz/artifacts"
cflags="-g -O1 -std=c11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -DMCD_LIBFUZZER -I$src -I$build"
libsrc=$(ls "$src"/proto/*.c "$src"/store/*.c "$src"/store/seg/*.c)
# server/libmcdserve.a: the request path without sockets or libevent
servesrc=
for f in session process process_meta process_slabs process_admin stats stats_detail settings log logbuf watch \
    latency latency_clock hotkeys metrics_expo metrics_page metrics_req cluster session_auth auth_file sasl; do
    servesrc="$servesrc $src/server/$f.c"
done

for t in $targets; do
    echo "run-fuzz: building fuzz_$t with $cc"
    extra=
    case $t in request_path | udp_path | auth) extra="$servesrc -lsasl2" ;; esac
    [ "$t" = expo ] && extra=$src/server/metrics_expo.c
    [ "$t" = http ] && extra=$src/server/metrics_req.c
    [ "$t" = tls ] && extra="$servesrc $src/server/tls.c -lsasl2 -lssl -lcrypto"
    # shellcheck disable=SC2086
    "$cc" $cflags -o "$build/fuzz/bin/fuzz_$t" "$src/fuzz/fuzz_$t.c" "$src/fuzz/fuzz_util.c" $libsrc $extra -pthread
done

run_one() {
    t=$1
    mkdir -p "$build/fuzz/work/$t"
    seeds="$src/fuzz/corpus/$t"
    [ -d "$seeds" ] || seeds=
    echo "run-fuzz: fuzz_$t for ${seconds}s"
    # shellcheck disable=SC2086
    "$build/fuzz/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -max_len=20000 \
        -dict="$src/fuzz/memcache.dict" -artifact_prefix="$build/fuzz/artifacts/$t-" \
        -print_final_stats=1 ${FUZZ_ARGS:-} "$build/fuzz/work/$t" $seeds \
        > "$build/fuzz/$t.log" 2>&1
}

status=0
jobs=${FUZZ_JOBS:-1}
if [ "$jobs" -gt 1 ]; then
    pids=
    for t in $targets; do run_one "$t" & pids="$pids $!"; done
    for p in $pids; do wait "$p" || status=1; done
else
    for t in $targets; do run_one "$t" || status=1; done
fi
for t in $targets; do
    echo "run-fuzz: fuzz_$t: $(grep -E 'stat::number_of_executed_units' "$build/fuzz/$t.log" | tail -1 || true)"
done
if [ $status -ne 0 ]; then
    echo "run-fuzz: a target failed; see $build/fuzz/*.log and $build/fuzz/artifacts/" >&2
    ls -l "$build/fuzz/artifacts/" >&2
fi
exit $status
