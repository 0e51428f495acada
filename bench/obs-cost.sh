#!/usr/bin/env bash
# obs-cost.sh - what the latency histograms and the hot-key sampling cost:
# two runs of the shared side-by-side harness (../shared/bench/bench-vs.sh,
# A B B A, ratios B/A), the first with A = mcd under
# -o no_latency,no_hotkeys and B = the same binary with both on (the
# default), the second with A = memcached 1.6.45 and B = mcd with both on.
# Prints each run's table and its headline line.
#
# usage: bench/obs-cost.sh [--only-off-on] [bench-vs options...]   (e.g. --no-mem)
# env: MCD=server/mcd  MEMCACHED=../shared/oracle/memcached-1.6.45/memcached
set -euo pipefail
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BENCH_VS=${BENCH_VS:-../shared/bench/bench-vs.sh}
MCD=${MCD:-server/mcd}
MEMCACHED=${MEMCACHED:-../shared/oracle/memcached-1.6.45/memcached}
both=1
if [ "${1:-}" = "--only-off-on" ]; then
    both=0
    shift
fi
[ -x "$BENCH_VS" ] || { echo "obs-cost.sh: no $BENCH_VS" >&2; exit 2; }
[ -x "$MCD" ] || { echo "obs-cost.sh: build $MCD first" >&2; exit 2; }
user=""
[ "$(id -u)" -ne 0 ] || user="-u root"

echo "== A = mcd -o no_latency,no_hotkeys, B = mcd (latency and hot keys on)"
"$BENCH_VS" "$@" --a-args "$user -o no_latency,no_hotkeys" --b-args "$user" "$MCD" "$MCD"
if [ $both -eq 1 ]; then
    [ -x "$MEMCACHED" ] || { echo "obs-cost.sh: no $MEMCACHED" >&2; exit 2; }
    echo "== A = memcached 1.6.45, B = mcd (latency and hot keys on)"
    "$BENCH_VS" "$@" "$MEMCACHED" "$MCD"
fi
