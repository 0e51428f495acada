#!/bin/sh
# bench/slab-shift.sh - memory that follows the workload (issue 19): mcd
# against memcached 1.6.45, each with its default automover, same -m, in one
# run, A B B A. Each run fills a fresh server with 100-byte values, then serves
# 5-10 KB values cache-aside (get; set on a miss) over a key space larger than
# memory (bench/slab_shift.py). Prints each run's line and the ratios B/A
# (mcd / memcached) of the mean hit ratio, of the hit ratio over the last
# fifth of the requests, and the pages moved.
#
#   bench/slab-shift.sh [--mcd server/mcd] [--memcached PATH] [--mem 64]
#                       [--requests 1500000] [--keys 12000] [--fill 700000]
set -eu

MCD=server/mcd
MEMCACHED=../shared/oracle/memcached-1.6.45/memcached
MEM=64
REQS=1500000
KEYS=12000
FILL=700000
while [ $# -gt 0 ]; do
    case "$1" in
    --mcd) MCD=$2; shift 2 ;;
    --memcached) MEMCACHED=$2; shift 2 ;;
    --mem) MEM=$2; shift 2 ;;
    --requests) REQS=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --fill) FILL=$2; shift 2 ;;
    *) echo "usage: $0 [--mcd BIN] [--memcached BIN] [--mem MB] [--requests N] [--keys N] [--fill N]" >&2; exit 64 ;;
    esac
done
HERE=$(dirname "$0")

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run BIN SEED: one fresh server, one load; prints the load's line
run() {
    port=$(free_port)
    "$1" -l 127.0.0.1 -p "$port" -U 0 -u root -m "$MEM" -t 2 >/dev/null 2>&1 &
    pid=$!
    i=0
    until python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 100 ] || { kill "$pid"; echo "server did not start" >&2; exit 1; }
        sleep 0.05
    done
    python3 "$HERE/slab_shift.py" "$port" "$REQS" "$KEYS" "$FILL" "$2"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

A1=$(run "$MEMCACHED" 1); echo "A memcached: $A1"
B1=$(run "$MCD" 1);       echo "B mcd:       $B1"
B2=$(run "$MCD" 2);       echo "B mcd:       $B2"
A2=$(run "$MEMCACHED" 2); echo "A memcached: $A2"

printf '%s\n%s\n%s\n%s\n' "$A1" "$A2" "$B1" "$B2" | python3 -c '
import sys
rows = [dict(kv.split("=") for kv in l.split()) for l in sys.stdin.read().split("\n") if l]
a, b = rows[:2], rows[2:]
for key in ("hit_ratio", "tail_hit_ratio", "pages_moved", "set_failures"):
    ma = sum(float(r[key]) for r in a) / 2
    mb = sum(float(r[key]) for r in b) / 2
    ratio = mb / ma if ma else float("nan")
    print("slab-shift: %s memcached=%.4g mcd=%.4g B/A=%.3f" % (key, ma, mb, ratio))
'
