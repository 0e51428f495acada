#!/usr/bin/env bash
# bench/watch.sh - what `watch` costs, mcd beside memcached 1.6.45 in one run.
#
# For each server (A = memcached 1.6.45, B = mcd; rounds in A B B A order so
# that drift on a shared machine hits both), -t 1, 100000 keys loaded, then
# the same closed-loop 90/10 get/set mix (mcload, ../shared/bench/mcload.c)
# three times: nobody watching; one watcher of fetchers and mutations that
# reads everything (cat > /dev/null); one that never reads. Prints ops/s and
# server CPU per op for each, their ratio to the unwatched run of the same
# server, and B/A. Servers and readers are stopped by the PIDs started here.
#
# usage: bench/watch.sh [MCD_BINARY [MEMCACHED_BINARY]]
#   env: DUR (seconds per measured phase, 2), CONNS (4), REPS (rounds per
#   server, 2: A B B A)
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
B_BIN=${1:-$here/../server/mcd}
A_BIN=${2:-$here/../../shared/oracle/memcached-1.6.45/memcached}
DUR=${DUR:-2}
CONNS=${CONNS:-4}
REPS=${REPS:-2}
KEYS=100000

tmp=$(mktemp -d "${TMPDIR:-/tmp}/watch-bench.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

cc -O2 -Wall -Wextra -pthread -o "$tmp/mcload" "$here/../../shared/bench/mcload.c" -lm

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# field NAME LINE: the value of NAME=... in an mcload result line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

# run_server BIN TAG: one round; appends "TAG COND ops cpu" lines to $tmp/results
run_server() {
    local bin=$1 tag=$2 port pid user=()
    port=$(free_port)
    [ "$(id -u)" = 0 ] && user=(-u root)
    "$bin" -p "$port" -U 0 -l 127.0.0.1 -t 1 -m 1024 -c 256 "${user[@]}" >"$tmp/server-$tag.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    "$tmp/mcload" -p "$port" -m probe -t 10 >/dev/null
    "$tmp/mcload" -p "$port" -m load -k "$KEYS" -v 32-100 >/dev/null
    for cond in none reading stalled; do
        local wpid=""
        if [ "$cond" != none ]; then
            exec 3<>"/dev/tcp/127.0.0.1/$port"
            printf 'watch fetchers mutations\r\n' >&3
            if [ "$cond" = reading ]; then
                cat <&3 >/dev/null &
                wpid=$!
                pids+=("$wpid")
            fi
        fi
        local out
        out=$("$tmp/mcload" -p "$port" -m mix -c "$CONNS" -d "$DUR" -w 0.3 -k "$KEYS" -v 32-100 -g 0.9 -x "$pid")
        echo "$tag $cond $(field ops_per_s "$out") $(field srv_cpu_us_per_op "$out")" >>"$tmp/results"
        if [ -n "$wpid" ]; then kill "$wpid" 2>/dev/null || true; wait "$wpid" 2>/dev/null || true; fi
        [ "$cond" != none ] && exec 3>&-
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

echo "watch bench: A=$A_BIN B=$B_BIN dur=${DUR}s conns=$CONNS reps=$REPS (A B B A)"
for ((r = 0; r < REPS; r++)); do
    if ((r % 2 == 0)); then run_server "$A_BIN" A; run_server "$B_BIN" B; else run_server "$B_BIN" B; run_server "$A_BIN" A; fi
done

awk '
    { n[$1" "$2]++; ops[$1" "$2] += $3; cpu[$1" "$2] += $4 }
    END {
        printf "%-22s %-16s %12s %12s %8s\n", "phase", "metric", "A", "B", "B/A"
        split("none reading stalled", conds, " ")
        for (i = 1; i <= 3; i++) {
            c = conds[i]
            ao = ops["A " c] / n["A " c]; bo = ops["B " c] / n["B " c]
            ac = cpu["A " c] / n["A " c]; bc = cpu["B " c] / n["B " c]
            printf "%-22s %-16s %12.0f %12.0f %8.3f\n", "mix90/10 " c, "ops/s", ao, bo, bo / ao
            printf "%-22s %-16s %12.2f %12.2f %8.3f\n", "mix90/10 " c, "cpu us/op", ac, bc, bc / ac
            if (c != "none") {
                a0 = cpu["A none"] / n["A none"]; b0 = cpu["B none"] / n["B none"]
                printf "%-22s %-16s %12.3f %12.3f %8.3f\n", "  " c " / none", "cpu us/op ratio", ac / a0, bc / b0,
                       (bc / b0) / (ac / a0)
            }
        }
    }' "$tmp/results"
