#!/usr/bin/env bash
# zipf-hit.sh - bench-vs.sh's "evict -m 64" hit ratios with a fixed number
# of requests instead of a timed window, so that the figure does not move
# with the throughput a shared machine happens to give each server.
#
# Each server (A then B, then B A: A B B A) starts with -m 64 -t 1, is
# loaded with 1M keys of 100 B and scanned (as bench-vs does), then gets
# WARM zipf(0.99) cache-aside requests and REQS more, counted (bench-vs's
# 0.3 s warmup and 2 s window at 150k requests/s), from 8 connections.
# Prints each server's resident items and hit ratio and the ratios B/A,
# then bench/evict-sim.c's model at B's resident count: mcd's CLOCK, and
# the infinite cache (only first requests miss), which bounds what any
# replacement policy could reach with that many items.
#
# usage: bench/zipf-hit.sh [--reqs N] [--warm N] [A_BINARY [B_BINARY]]
#        (A: memcached 1.6.45 from ../shared/oracle, B: server/mcd)
set -euo pipefail
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.."

REQS=300000 WARM=45000
while [ $# -gt 0 ]; do
    case "$1" in
        --reqs) REQS=$2; shift 2 ;;
        --warm) WARM=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
A=${1:-../shared/oracle/memcached-1.6.45/memcached}
B=${2:-server/mcd}
MCLOAD_SRC=../shared/bench/mcload.c
[ -x "$A" ] && [ -x "$B" ] || { echo "zipf-hit.sh: $A or $B is not executable" >&2; exit 2; }
[ -f "$MCLOAD_SRC" ] || { echo "zipf-hit.sh: needs $MCLOAD_SRC" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/zipf-hit.XXXXXX")
SPID=""
cleanup() {
    if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
        kill "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
cc -O2 -pthread -o "$WORK/mcload" "$MCLOAD_SRC" -lm
cc -O2 -o "$WORK/evict-sim" bench/evict-sim.c -lm
user=()
[ "$(id -u)" -ne 0 ] || user=(-u root)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2; exit }'; }

run() { # LABEL BIN : appends "LABEL resident hit_ratio" to $WORK/res
    local label=$1 bin=$2 port out res hits gets h0 g0
    port=$(free_port)
    "$bin" -l 127.0.0.1 -p "$port" -U 0 -t 1 -m 64 -c 1024 "${user[@]}" >"$WORK/$label.log" 2>&1 &
    SPID=$!
    "$WORK/mcload" -p "$port" -m probe >/dev/null
    "$WORK/mcload" -p "$port" -m load -k 1000000 -v 100 -c 4 -P 32 >/dev/null
    out=$("$WORK/mcload" -p "$port" -m scan -k 1000000 -c 2 -M 100)
    res=$(kv "$out" hits)
    out=$("$WORK/mcload" -p "$port" -m aside -k 1000000 -v 100 -D zipf:0.99 -c 8 -n "$WARM" -S 7)
    out=$("$WORK/mcload" -p "$port" -m aside -k 1000000 -v 100 -D zipf:0.99 -c 8 -n "$REQS" -S 42)
    echo "$label $res $(kv "$out" hit_ratio)" >>"$WORK/res"
    kill "$SPID"
    wait "$SPID" 2>/dev/null || true
    SPID=""
}

run A "$A"; run B "$B"; run B "$B"; run A "$A"
awk '{ n[$1]++; r[$1] += $2; h[$1] += $3 }
     END {
        printf "%-28s %12s %12s %8s\n", "metric", "A", "B", "B/A"
        printf "%-28s %12.0f %12.0f %8.3f\n", "resident items", r["A"] / n["A"], r["B"] / n["B"], r["B"] / n["B"] / (r["A"] / n["A"])
        printf "%-28s %12.5f %12.5f %8.3f\n", "zipf hit ratio", h["A"] / n["A"], h["B"] / n["B"], h["B"] / n["B"] / (h["A"] / n["A"])
        printf "%.0f %.0f\n", r["A"] / n["A"], r["B"] / n["B"] > "'"$WORK/resident"'"
     }' "$WORK/res"
read -r RA RB <"$WORK/resident"
N=$((WARM + REQS))
clock_a=$(kv "$("$WORK/evict-sim" clock "$RA" "$N" "$WARM")" hit_ratio)
clock_b=$(kv "$("$WORK/evict-sim" clock "$RB" "$N" "$WARM")" hit_ratio)
inf_b=$(kv "$("$WORK/evict-sim" infinite "$RB" "$N" "$WARM")" hit_ratio)
awk -v a="$clock_a" -v b="$clock_b" -v i="$inf_b" 'BEGIN {
    printf "%-28s %12.5f %12.5f %8.3f\n", "model: CLOCK", a, b, b / a
    printf "%-28s %12s %12.5f %8.3f\n", "model: B, no policy misses", "", i, i / a }'
