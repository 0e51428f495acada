#!/usr/bin/env bash
# contention.sh - bench/contention.c against two builds' store libraries,
# A B B A (x REPS), printing each figure's mean and the ratio B/A.
#
#   bench/contention.sh [--reps N] [--iters N] TREE_A TREE_B
#
# TREE_x: a built source tree (config.h and store/libmcdstore.a), e.g. a
# `git archive main` tree built with `make store/libmcdstore.a`, and `.`.
set -euo pipefail
REPS=3 ITERS=10000000
while [ $# -gt 2 ]; do
    case "$1" in
        --reps) REPS=$2; shift 2 ;;
        --iters) ITERS=$2; shift 2 ;;
        *) break ;;
    esac
done
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/contention.c
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for x in A:$1 B:$2; do
    label=${x%%:*} tree=$(cd "${x#*:}" && pwd)
    ${CC:-cc} -O2 -I"$tree" -I"$tree/store" -o "$work/$label" "$src" "$tree/store/libmcdstore.a" -lpthread
done
for _ in $(seq "$REPS"); do
    for label in A B B A; do echo "$label $("$work/$label" "$ITERS")"; done
done | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); s[$1, kv[1]] += kv[2]; n[$1, kv[1]]++; k[kv[1]] = 1 } }
    END { for (f in k) printf "%-10s A=%7.2f B=%7.2f B/A=%.3f\n", f, s["A", f] / n["A", f], s["B", f] / n["B", f],
              (s["B", f] / n["B", f]) / (s["A", f] / n["A", f]) }'
