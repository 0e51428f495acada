#!/usr/bin/env bash
# compare.sh - mcd against memcached, side by side, with public tools only:
# Debian's memcached, memcaslap (libmemcached-tools) as the load, gnuplot
# for the chart. For each connection count both servers run the same
# memcaslap load (90% get / 10% set), taking turns A B B A so that drift on
# a shared machine hits both; server CPU comes from /proc/PID/stat.
# Prints a table of ratios mcd/memcached and writes bench/out/compare.tsv
# and, when gnuplot is installed, bench/out/compare.png.
#
# usage: bench/compare.sh [--conns "1 4 16 64"] [--secs 3] [--reps 2] [MEMCACHED MCD]
set -euo pipefail
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONNS="1 4 16 64" SECS=3 REPS=2
while [ $# -gt 0 ]; do
    case "$1" in
        --conns) CONNS=$2; shift 2 ;;
        --secs) SECS=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
A=${1:-$(command -v memcached || echo /usr/bin/memcached)}
B=${2:-server/mcd}
command -v memcaslap >/dev/null || { echo "compare.sh: needs memcaslap (apt-get install libmemcached-tools)" >&2; exit 2; }
[ -x "$A" ] && [ -x "$B" ] || { echo "compare.sh: $A or $B is not executable" >&2; exit 2; }

OUT=bench/out
mkdir -p "$OUT"
TSV=$OUT/compare.tsv
user=()
[ "$(id -u)" -ne 0 ] || user=(-u root)
declare -A PID PORT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

start() { # LABEL BIN
    local port; port=$(free_port)
    "$2" -p "$port" -l 127.0.0.1 -U 0 -t 1 -m 1024 -c 4096 "${user[@]}" >/dev/null 2>&1 &
    PID[$1]=$! PORT[$1]=$port
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.05; done
    echo "compare.sh: $2 did not start" >&2; exit 1
}
cleanup() { for p in "${PID[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; wait 2>/dev/null || true; }
trap cleanup EXIT

run() { # LABEL CONNS -> "tps cpu_us_per_op"
    local label=$1 c=$2 t0 t1 out tps
    t0=$(cpu_ticks "${PID[$label]}")
    out=$(memcaslap -s "127.0.0.1:${PORT[$label]}" -t "${SECS}s" -T 1 -c "$c" 2>&1)
    t1=$(cpu_ticks "${PID[$label]}")
    tps=$(sed -n 's/.*TPS: \([0-9]*\).*/\1/p' <<<"$out" | tail -1)
    awk -v tps="$tps" -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v s="$SECS" \
        'BEGIN { printf "%d %.2f\n", tps, tps ? d / hz * 1e6 / (tps * s) : 0 }'
}

start A "$A"
start B "$B"
printf "conns\tserver\trep\tops_per_s\tcpu_us_per_op\n" >"$TSV"
for c in $CONNS; do
    for rep in $(seq 1 "$REPS"); do
        order="A B"; [ $((rep % 2)) -eq 0 ] && order="B A"
        for l in $order; do
            read -r tps cpu < <(run "$l" "$c")
            printf "%s\t%s\t%s\t%s\t%s\n" "$c" "$l" "$rep" "$tps" "$cpu" >>"$TSV"
        done
    done
done

awk -F'\t' 'NR > 1 { k = $1 SUBSEP $2; ops[k] += $4; cpu[k] += $5; n[k]++; seen[$1] = 1 }
    END {
        printf "%-6s %14s %14s %8s %16s %16s %8s\n", "conns", "memcached_ops", "mcd_ops", "ratio", "memcached_us/op", "mcd_us/op", "ratio"
        for (c in seen) {
            a = ops[c, "A"] / n[c, "A"]; b = ops[c, "B"] / n[c, "B"]
            ca = cpu[c, "A"] / n[c, "A"]; cb = cpu[c, "B"] / n[c, "B"]
            printf "%-6s %14.0f %14.0f %8.3f %16.2f %16.2f %8.3f\n", c, a, b, a ? b / a : 0, ca, cb, ca ? cb / ca : 0
        }
    }' "$TSV" | sort -n | tee "$OUT/compare.txt"

if command -v gnuplot >/dev/null; then
    awk -F'\t' 'NR > 1 { k = $1 " " $2; o[k] += $4; u[k] += $5; n[k]++ }
        END { for (k in o) { split(k, p, " "); print p[1], p[2], o[k] / n[k], u[k] / n[k] } }' "$TSV" |
        sort -n >"$OUT/compare.dat"
    gnuplot <<GP
set terminal png size 1000,420
set output "$OUT/compare.png"
set multiplot layout 1,2 title "mcd vs memcached (memcaslap 90/10 get/set, -t 1)"
set logscale x 2
set xlabel "connections"
set key left top
set ylabel "ops/s"
plot "< grep ' A ' $OUT/compare.dat" using 1:3 with linespoints title "memcached", \
     "< grep ' B ' $OUT/compare.dat" using 1:3 with linespoints title "mcd"
set ylabel "server CPU us per op"
set key right top
plot "< grep ' A ' $OUT/compare.dat" using 1:4 with linespoints title "memcached", \
     "< grep ' B ' $OUT/compare.dat" using 1:4 with linespoints title "mcd"
unset multiplot
GP
    echo "chart: $OUT/compare.png"
fi
