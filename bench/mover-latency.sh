#!/bin/sh
# bench/mover-latency.sh - how long the page mover can hold a client: mcd
# against memcached 1.6.45 in one run, A B B A (A = memcached, B = mcd).
# Each run starts a fresh server, fills class 1 with 10-byte values (about
# 10,000 chunks a page), then CLIENTS connections time every get and set
# of those keys while `slabs reassign 1 2` / `slabs reassign 2 1` move its
# pages away and back for SECS seconds (bench/mover-latency.c). With
# --hog N, N busy loops run alongside (a loaded CI machine). Prints each
# run's line, then per server the worst of the runs' longest requests and
# 99.9th percentiles, and the ratios B/A. --shift instead runs
# test_slabs's automover case: -m 16, 150,000 100-byte values, then one
# client serving 5-10 KB values cache-aside over 1,600 keys while the
# automover (window 3 s) and the on-demand mover move pages.
#
#   bench/mover-latency.sh [--mcd server/mcd] [--memcached PATH] [--secs 10]
#                          [--clients 4] [--keys 60000] [--hog 0] [--no-reassign]
set -eu

MCD=server/mcd
MEMCACHED=../shared/oracle/memcached-1.6.45/memcached
SECS=10
CLIENTS=4
KEYS=60000
HOG=0
MODE=1
MEM=64
OPTS=""
while [ $# -gt 0 ]; do
    case "$1" in
    --mcd) MCD=$2; shift 2 ;;
    --memcached) MEMCACHED=$2; shift 2 ;;
    --secs) SECS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --hog) HOG=$2; shift 2 ;;
    --no-reassign) MODE=0; shift ;;
    --shift) MODE=2; KEYS=1600; MEM=16; OPTS="-o slab_automove=1,slab_automove_window=3"; CLIENTS=1; shift ;;
    *) echo "usage: $0 [--mcd BIN] [--memcached BIN] [--secs S] [--clients N] [--keys N] [--hog N] [--no-reassign|--shift]" >&2
       exit 64 ;;
    esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
HOGS=""
cleanup() {
    for p in $HOGS; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
${CC:-cc} -O2 -o "$WORK/load" "$HERE/mover-latency.c" -lpthread

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run BIN: one fresh server, one load; prints the load's line
run() {
    port=$(free_port)
    "$1" -l 127.0.0.1 -p "$port" -U 0 -u root -m "$MEM" -t 4 $OPTS >/dev/null 2>&1 &
    pid=$!
    i=0
    until python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 100 ] || { kill "$pid"; echo "server did not start" >&2; exit 1; }
        sleep 0.05
    done
    "$WORK/load" "$port" "$SECS" "$CLIENTS" "$KEYS" "$MODE"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

i=0
while [ $i -lt "$HOG" ]; do
    sh -c 'while :; do :; done' &
    HOGS="$HOGS $!"
    i=$((i + 1))
done

for label in A B B A; do
    if [ $label = A ]; then bin=$MEMCACHED; else bin=$MCD; fi
    echo "$label $(run "$bin")"
done | tee "$WORK/out"
awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[$1, kv[1]] = v[$1, kv[1]] > kv[2] + 0 ? v[$1, kv[1]] : kv[2] + 0 } }
    END { printf "worst of 2 runs: memcached max_us=%d p999_us=%d; mcd max_us=%d p999_us=%d; B/A max=%.2f p999=%.2f\n",
              v["A", "max_us"], v["A", "p999_us"], v["B", "max_us"], v["B", "p999_us"],
              v["B", "max_us"] / (v["A", "max_us"] ? v["A", "max_us"] : 1),
              v["B", "p999_us"] / (v["A", "p999_us"] ? v["A", "p999_us"] : 1) }' "$WORK/out"
