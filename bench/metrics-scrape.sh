#!/usr/bin/env bash
# metrics-scrape.sh - what the Prometheus endpoint costs the request path.
# Three servers side by side, one thread each: A = memcached 1.6.45, B = mcd,
# C = mcd with -o metrics_listen scraped SCRAPE_HZ times a second (a hundred
# times Prometheus's usual rate) by curl for the whole of its timed windows.
# Each rep runs A B C C B A with the same memcaslap load (90% get / 10% set),
# so drift on a shared machine hits all three. Prints ops/s and server CPU
# us/op (from /proc/PID/stat; C's includes its scrapes), the ratios B/A, C/A
# and C/B, and the cost of one scrape on an idle server (wall ms, server CPU
# ms over 200 scrapes, page bytes).
#
# usage: bench/metrics-scrape.sh [--conns N] [--secs S] [--reps R] [--hz HZ] [MEMCACHED MCD]
set -euo pipefail
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONNS=8 SECS=3 REPS=3 SCRAPE_HZ=10
while [ $# -gt 0 ]; do
    case "$1" in
        --conns) CONNS=$2; shift 2 ;;
        --secs) SECS=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --hz) SCRAPE_HZ=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
MEMCACHED=${1:-/work/shared/oracle/memcached-1.6.45/memcached}
MCD=${2:-server/mcd}
for t in memcaslap curl; do
    command -v $t >/dev/null || { echo "metrics-scrape.sh: needs $t" >&2; exit 2; }
done
[ -x "$MEMCACHED" ] && [ -x "$MCD" ] || { echo "metrics-scrape.sh: $MEMCACHED or $MCD is not executable" >&2; exit 2; }

user=()
[ "$(id -u)" -ne 0 ] || user=(-u root)
declare -A PID PORT
MPORT=

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

start() { # LABEL BIN [extra...]
    local label=$1 bin=$2 port; shift 2
    port=$(free_port)
    "$bin" -p "$port" -l 127.0.0.1 -U 0 -t 1 -m 1024 -c 4096 "${user[@]}" "$@" >/dev/null 2>&1 &
    PID[$label]=$! PORT[$label]=$port
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.05; done
    echo "metrics-scrape.sh: $bin did not start" >&2; exit 1
}
SCRAPER=
cleanup() {
    [ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null
    for p in "${PID[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

scrape_loop() {
    local pause; pause=$(awk -v hz="$SCRAPE_HZ" 'BEGIN { printf "%.3f", 1 / hz }')
    while :; do curl -s -o /dev/null "http://127.0.0.1:$MPORT/metrics" || true; sleep "$pause"; done
}

run() { # LABEL -> "tps cpu_us_per_op"
    local label=$1 t0 t1 out tps
    [ "$label" = C ] && { scrape_loop & SCRAPER=$!; }
    t0=$(cpu_ticks "${PID[$label]}")
    out=$(memcaslap -s "127.0.0.1:${PORT[$label]}" -t "${SECS}s" -T 1 -c "$CONNS" 2>&1)
    t1=$(cpu_ticks "${PID[$label]}")
    if [ "$label" = C ]; then kill "$SCRAPER"; wait "$SCRAPER" 2>/dev/null || true; SCRAPER=; fi
    tps=$(sed -n 's/.*TPS: \([0-9]*\).*/\1/p' <<<"$out" | tail -1)
    awk -v tps="$tps" -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v s="$SECS" \
        'BEGIN { printf "%d %.3f\n", tps, tps ? d / hz * 1e6 / (tps * s) : 0 }'
}

MPORT=$(free_port)
start A "$MEMCACHED"
start B "$MCD"
start C "$MCD" -o "metrics_listen=127.0.0.1:$MPORT"

# one scrape on the idle server: time and size
read -r ms bytes < <(curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$MPORT/metrics" |
    awk '{ printf "%.2f %d\n", $1 * 1000, $2 }')

# server CPU of 200 scrapes in a row on the idle server (all in C's metrics thread)
t0=$(cpu_ticks "${PID[C]}")
for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$MPORT/metrics"; done
t1=$(cpu_ticks "${PID[C]}")
scrape_cpu=$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", d / hz * 1000 / 200 }')

declare -A TPS CPU
for l in A B C; do TPS[$l]= CPU[$l]=; done
for r in $(seq 1 "$REPS"); do
    for l in A B C C B A; do
        read -r t c < <(run $l)
        TPS[$l]+="$t " CPU[$l]+="$c "
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for l in A B C; do
    TPS[$l]=$(median <<<"${TPS[$l]}")
    CPU[$l]=$(median <<<"${CPU[$l]}")
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a ? b / a : 0 }'; }

echo "memcaslap 90/10 c=$CONNS, ${SECS}s x $((2 * REPS)) per server, medians; C scraped ${SCRAPE_HZ}/s"
printf '%-24s %12s %12s %12s %8s %8s %8s\n' metric "A memcached" "B mcd" "C mcd+scrape" B/A C/A C/B
printf '%-24s %12s %12s %12s %8s %8s %8s\n' "ops/s" "${TPS[A]}" "${TPS[B]}" "${TPS[C]}" \
    "$(ratio "${TPS[A]}" "${TPS[B]}")" "$(ratio "${TPS[A]}" "${TPS[C]}")" "$(ratio "${TPS[B]}" "${TPS[C]}")"
printf '%-24s %12s %12s %12s %8s %8s %8s\n' "server CPU us/op" "${CPU[A]}" "${CPU[B]}" "${CPU[C]}" \
    "$(ratio "${CPU[A]}" "${CPU[B]}")" "$(ratio "${CPU[A]}" "${CPU[C]}")" "$(ratio "${CPU[B]}" "${CPU[C]}")"
echo "one scrape, idle server: ${ms} ms wall (curl), ${scrape_cpu} ms server CPU, ${bytes} bytes"
