#!/usr/bin/env bash
# udp.sh - UDP gets, mcd against memcached 1.6.45, side by side in one run:
# both servers started with -U (-t 2 by default), bench/udp_load.c (built
# here with cc) keeps CLIENTS get requests outstanding against each in turn,
# A B B A, and each server's CPU time is read from /proc/PID/stat. Prints
# ops/s and server CPU µs per get for each, and the ratios B/A.
#
# usage: bench/udp.sh [--secs 3] [--clients 32] [--threads 2] [--value 100] [MEMCACHED MCD]
set -euo pipefail
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECS=3 CLIENTS=32 THREADS=2 VALUE=100
while [ $# -gt 0 ]; do
    case "$1" in
        --secs) SECS=$2; shift 2 ;;
        --clients) CLIENTS=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --value) VALUE=$2; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
A=${1:-../shared/oracle/memcached-1.6.45/memcached}
B=${2:-server/mcd}
[ -x "$A" ] && [ -x "$B" ] || { echo "udp.sh: $A or $B is not executable" >&2; exit 2; }

OUT=bench/out
mkdir -p "$OUT"
LOAD=$OUT/udp_load
[ "$LOAD" -nt bench/udp_load.c ] || cc -O2 -Wall -o "$LOAD" bench/udp_load.c
user=()
[ "$(id -u)" -ne 0 ] || user=(-u root)
declare -A PID PORT

free_port() { python3 -c 'import socket
for _ in range(50):
    t=socket.socket(); t.bind(("127.0.0.1",0)); p=t.getsockname()[1]
    u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1",p)); print(p); break
    except OSError: pass
    finally: t.close(); u.close()'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

start() { # LABEL BIN
    local port; port=$(free_port)
    "$2" -p "$port" -U "$port" -l 127.0.0.1 -t "$THREADS" -m 256 "${user[@]}" >/dev/null 2>&1 &
    PID[$1]=$! PORT[$1]=$port
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.05; done
    echo "udp.sh: $2 did not start" >&2; exit 1
}
cleanup() { for p in "${PID[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; wait 2>/dev/null || true; }
trap cleanup EXIT

hz=$(getconf CLK_TCK)
run() { # LABEL -> "ops_per_s cpu_us_per_op lost"
    local c0 c1 out ops lost secs
    c0=$(cpu_ticks "${PID[$1]}")
    out=$("$LOAD" "${PORT[$1]}" "$SECS" "$CLIENTS" "$VALUE")
    c1=$(cpu_ticks "${PID[$1]}")
    read -r _ ops _ lost _ secs <<<"$out"
    awk -v o="$ops" -v s="$secs" -v c=$((c1 - c0)) -v hz="$hz" -v l="$lost" \
        'BEGIN { printf "%.0f %.2f %d\n", o / s, (o > 0 ? c * 1e6 / hz / o : 0), l }'
}

start A "$A"
start B "$B"
declare -A OPS CPU LOST
for label in A B B A; do
    read -r o c l <<<"$(run "$label")"
    OPS[$label]="${OPS[$label]:-} $o" CPU[$label]="${CPU[$label]:-} $c" LOST[$label]="${LOST[$label]:-} $l"
done
mean() { awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.2f", s / NF }' <<<"$1"; }
oa=$(mean "${OPS[A]}") ob=$(mean "${OPS[B]}") ca=$(mean "${CPU[A]}") cb=$(mean "${CPU[B]}")
printf 'udp get (%s B value, %s clients, -t %s, %s s x 2 each)\n' "$VALUE" "$CLIENTS" "$THREADS" "$SECS"
printf '%-22s %12s %12s %8s\n' metric memcached mcd B/A
printf '%-22s %12.0f %12.0f %8.3f\n' "ops/s" "$oa" "$ob" "$(awk -v a="$oa" -v b="$ob" 'BEGIN { print b / a }')"
printf '%-22s %12.2f %12.2f %8.3f\n' "server CPU us/get" "$ca" "$cb" "$(awk -v a="$ca" -v b="$cb" 'BEGIN { print b / a }')"
printf 'lost replies: memcached%s, mcd%s\n' "${LOST[A]}" "${LOST[B]}"
