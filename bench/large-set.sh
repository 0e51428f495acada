#!/usr/bin/env bash
# large-set.sh - sets of 16-64 KB values, two worker threads: the path where
# every set of a class with few chunks a page used to take the shared class
# lock. Runs two mcd builds side by side, A B B A per rep, and prints the
# means and ratios B/A of ops/s and server CPU microseconds per op.
#
#   bench/large-set.sh [--reps N] [--dur S] [--threads T] A_BIN B_BIN
#   e.g. bench/large-set.sh /tmp/mcd-main server/mcd
set -euo pipefail
REPS=3 DUR=2 THREADS=2
while [ $# -gt 2 ]; do
    case "$1" in
        --reps) REPS=$2; shift 2 ;;
        --dur) DUR=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        *) break ;;
    esac
done
A=$1 B=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mcload_src=$here/../../shared/bench/mcload.c
[ -f "$mcload_src" ] || mcload_src=/work/shared/bench/mcload.c
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
${CC:-cc} -O2 -pthread -o "$work/mcload" "$mcload_src" -lm
extra=()
[ "$(id -u)" = 0 ] && extra=(-u root)
declare -A PORT SPID
for label in A B; do
    bin=$A
    [ $label = B ] && bin=$B
    PORT[$label]=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$bin" -l 127.0.0.1 -p "${PORT[$label]}" -U 0 -t "$THREADS" -m 256 "${extra[@]}" &
    SPID[$label]=$!
    pids+=("$!")
done
for label in A B; do
    for _ in $(seq 100); do
        "$work/mcload" -p "${PORT[$label]}" -m probe >/dev/null 2>&1 && break
        sleep 0.1
    done
done
run() {
    "$work/mcload" -p "${PORT[$1]}" -x "${SPID[$1]}" -m mix -g 0 -k 2000 -v 16384-65536 -c 4 -T 2 \
        -d "$DUR" -w 0.5
}
for _ in $(seq "$REPS"); do
    for label in A B B A; do echo "$label $(run $label)"; done
done | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "ops_per_s" || kv[1] == "srv_cpu_us_per_op") { s[$1, kv[1]] += kv[2]; n[$1, kv[1]]++ } } }
    END { split("ops_per_s srv_cpu_us_per_op", f, " ")
          for (i = 1; i <= 2; i++) printf "%-18s A=%10.2f B=%10.2f B/A=%.3f\n", f[i], s["A", f[i]] / n["A", f[i]],
              s["B", f[i]] / n["B", f[i]], (s["B", f[i]] / n["B", f[i]]) / (s["A", f[i]] / n["A", f[i]]) }'
