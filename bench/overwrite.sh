#!/bin/sh
# bench/overwrite.sh - what a write-heavy load leaves resident: memcached
# 1.6.45 (A), mcd on slabs (B) and mcd on the segment engine (C) in one
# run, each a fresh server at -m MB (64). It loads KEYS keys (400,000 x
# 100-byte values: more than memcached's -m 64 holds, fewer than the
# engine's), counts the resident ones with a scan, runs SECS seconds (10)
# of a 50/50 get/set mix over the same keys (8 connections), then scans
# again. Overwrites are where the segment engine loses room: an old copy's
# bytes stay in its segment until the segment goes (store/seg/seg_pool.c,
# compaction). Prints, per server, resident before and after and the mix's
# hit ratio and requests per second, and the ratios to A.
#
#   bench/overwrite.sh [--mcd server/mcd] [--memcached PATH] [--keys N] [--secs S] [--mem MB]
set -eu

MCD=server/mcd
MEMCACHED=../shared/oracle/memcached-1.6.45/memcached
KEYS=400000
SECS=10
MEM=64
while [ $# -gt 0 ]; do
    case "$1" in
    --mcd) MCD=$2; shift 2 ;;
    --memcached) MEMCACHED=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --secs) SECS=$2; shift 2 ;;
    --mem) MEM=$2; shift 2 ;;
    *) echo "usage: $0 [--mcd BIN] [--memcached BIN] [--keys N] [--secs S] [--mem MB]" >&2; exit 64 ;;
    esac
done

here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/../shared/bench/mcload.c
[ -f "$src" ] || { echo "overwrite.sh: $src not found (../shared beside the checkout)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcd-overwrite.XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
cc -O2 -pthread -o "$tmp/mcload" "$src" -lm

user=
[ "$(id -u)" -ne 0 ] || user="-u root"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

field() { # LINE KEY
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

run() { # LABEL BIN ARGS...
    label=$1 bin=$2
    shift 2
    port=$(free_port)
    # shellcheck disable=SC2086
    "$bin" -l 127.0.0.1 -p "$port" -U 0 -t 1 -m "$MEM" -c 1024 $user "$@" &
    pid=$!
    i=0
    until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "overwrite.sh: $label did not start" >&2; exit 1; }
        kill -0 "$pid" 2>/dev/null || { echo "overwrite.sh: $label exited" >&2; exit 1; }
        python3 -c 'import time; time.sleep(0.05)'
    done
    "$tmp/mcload" -p "$port" -m load -k "$KEYS" -v 100 -c 4 -P 32 >/dev/null
    before=$(field "$("$tmp/mcload" -p "$port" -m scan -k "$KEYS" -c 2 -M 100)" hits)
    mix=$("$tmp/mcload" -p "$port" -m mix -g 0.5 -k "$KEYS" -v 100 -c 8 -d "$SECS")
    after=$(field "$("$tmp/mcload" -p "$port" -m scan -k "$KEYS" -c 2 -M 100)" hits)
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    echo "$label $before $after $(field "$mix" hit_ratio) $(field "$mix" ops_per_s)"
}

{
    run A "$MEMCACHED"
    run B "$MCD"
    run C "$MCD" -o item_store=segments
} >"$tmp/out"

printf '%-34s %12s %12s %10s %12s\n' server resident_before resident_after hit_ratio ops_per_s
awk -v m="$MEM" -v k="$KEYS" '
    { r[$1] = $0; b[$1] = $2; a[$1] = $3; h[$1] = $4; o[$1] = $5 }
    END {
        name["A"] = "A memcached"; name["B"] = "B mcd (slabs)"; name["C"] = "C mcd -o item_store=segments"
        for (i = 1; i <= 3; i++) {
            l = substr("ABC", i, 1)
            printf "%-34s %12d %12d %10.4f %12.0f\n", name[l], b[l], a[l], h[l], o[l]
        }
        for (i = 2; i <= 3; i++) {
            l = substr("ABC", i, 1)
            printf "%s/A: resident after %.3f, hit ratio %.3f, ops/s %.3f\n", l, a[l] / a["A"], h[l] / h["A"], o[l] / o["A"]
        }
    }' "$tmp/out"
