#!/usr/bin/env bash
# profile.sh - per-function callgrind profile of one server under the
# bench-vs.sh request mixes (90/10 mix, 16-key multiget), one worker thread.
#
#   bench/profile.sh BIN OUTDIR [server args...]
#
# Loads 10,000 keys, then instruments only while the workload runs
# (callgrind_control -i on/off), so OUTDIR/{mix,mget}.txt are per-function
# inclusive and self instruction counts of the workload alone; divide by the
# request count printed at the top (mix: 20000 requests, mget: 2000 gets).
set -eu
bin=$1 out=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
mcload=$out/mcload
cc -O2 -pthread -o "$mcload" "$here/../../shared/bench/mcload.c" -lm 2>/dev/null ||
    cc -O2 -pthread -o "$mcload" /work/shared/bench/mcload.c -lm
extra=("$@")
[ "$(id -u)" = 0 ] && [ ${#extra[@]} -eq 0 ] && extra=(-u root)
for name in mix mget; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    # valgrind keeps 12 descriptors: memcached sets its limit to -c (bench-vs.sh)
    (ulimit -n 268 && exec valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes \
        --callgrind-out-file="$out/cg-$name.%p" -- "$bin" -l 127.0.0.1 -p "$port" -U 0 -t 1 -m 1024 \
        -c 256 "${extra[@]}" 2>"$out/vg-$name.err") &
    vpid=$!
    for _ in $(seq 300); do
        "$mcload" -p "$port" -m load -k 10000 -v 32-100 -c 1 -P 1 >/dev/null 2>&1 && break
        sleep 0.2
    done
    callgrind_control -i on "$vpid" >/dev/null
    if [ $name = mix ]; then
        "$mcload" -p "$port" -m mix -k 10000 -v 32-100 -c 1 -n 20000 -S 7 >/dev/null
    else
        "$mcload" -p "$port" -m mix -k 10000 -c 1 -M 16 -g 1 -n 2000 -S 7 >/dev/null
    fi
    callgrind_control -i off "$vpid" >/dev/null
    kill "$vpid"
    wait "$vpid" || true
    # the busiest thread's file is the worker's
    f=$(for f in "$out"/cg-$name.*; do echo "$(awk '/^totals:/ {print $2}' "$f") $f"; done | sort -n | tail -1 | cut -d' ' -f2)
    {
        echo "# $bin $name: $f"
        callgrind_annotate --inclusive=yes --threshold=99 "$f" | head -60
        echo "# self"
        callgrind_annotate --inclusive=no --threshold=99 "$f" | head -60
    } >"$out/$name.txt"
done
