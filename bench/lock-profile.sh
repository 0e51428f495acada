#!/usr/bin/env bash
# lock-profile.sh - which mutexes the servers take per request, memcached
# against mcd, with several worker threads. Each server runs under
# bench/lockstat.c (an LD_PRELOAD shim counting pthread_mutex_lock/trylock
# per mutex) while memcaslap sends a get/set mix; the request count comes
# from the server's own `stats` (cmd_get + cmd_set). Prints, per server:
# mutexes taken per request, how many distinct mutexes, the share of all
# acquisitions that the busiest single mutex takes, and acquisitions that
# found the mutex held (waited + failed trylocks) per 1000 requests.
# Background threads are counted too (memcached's LRU maintainer, mcd's
# expiry sweep).
#
# "No lock that every thread shares on the request path" shows as a busiest
# mutex that takes a small share: the rest are spread over lock stripes.
#
# usage: bench/lock-profile.sh [--threads 2] [--secs 5] [--sets 0.5] [MEMCACHED MCD]
set -euo pipefail
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.."

THREADS=2 SECS=5 SETS=0.5
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) THREADS=$2; shift 2 ;;
        --secs) SECS=$2; shift 2 ;;
        --sets) SETS=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
A=${1:-$(command -v memcached || echo /usr/bin/memcached)}
B=${2:-server/mcd}
command -v memcaslap >/dev/null || { echo "lock-profile.sh: needs memcaslap (apt-get install libmemcached-tools)" >&2; exit 2; }
[ -x "$A" ] && [ -x "$B" ] || { echo "lock-profile.sh: $A or $B is not executable" >&2; exit 2; }

OUT=bench/out
mkdir -p "$OUT"
SHIM=$OUT/lockstat.so
${CC:-cc} -O2 -shared -fPIC -o "$SHIM" bench/lockstat.c -ldl
SHIM=$(cd "$OUT" && pwd)/lockstat.so
CFG=$OUT/lock-profile.cfg
printf 'key\n16 16 1\nvalue\n100 100 1\ncmd\n0 %s\n1 %s\n' "$SETS" \
    "$(awk -v s="$SETS" 'BEGIN { printf "%g", 1 - s }')" >"$CFG"
user=()
[ "$(id -u)" -ne 0 ] || user=(-u root)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; wait 2>/dev/null || true; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
requests() { # PORT -> cmd_get + cmd_set
    python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"stats\r\n")
buf = b""
while not buf.endswith(b"END\r\n"):
    buf += s.recv(65536)
st = dict(l.split()[1:3] for l in buf.decode().splitlines() if l.startswith("STAT "))
print(int(st["cmd_get"]) + int(st["cmd_set"]))
PY
}

profile() { # LABEL BIN -> one table row
    local label=$1 bin=$2 port dump pid n
    port=$(free_port)
    dump=$OUT/lockstat.$label
    rm -f "$dump"
    LOCKSTAT_OUT=$dump LD_PRELOAD=$SHIM "$bin" -p "$port" -l 127.0.0.1 -U 0 -t "$THREADS" -m 1024 \
        "${user[@]}" >/dev/null 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
    memcaslap -s "127.0.0.1:$port" -t "${SECS}s" -T 2 -c 16 -F "$CFG" >/dev/null 2>&1 || true
    n=$(requests "$port")
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    [ -s "$dump" ] || { echo "lock-profile.sh: $label wrote no lock counts" >&2; exit 1; }
    awk -v label="$label" -v n="$n" '
        { taken += $2; busy += $3 + $4; k++; if ($2 > top) top = $2 }
        END { printf "%-10s %10d %10.3f %10d %10.1f%% %12.2f\n", label, n, taken / n, k, 100 * top / taken, 1000 * busy / n }' "$dump"
}

printf "%s worker threads, memcaslap -T 2 -c 16 for %ss, %s sets\n" "$THREADS" "$SECS" "$SETS"
printf "%-10s %10s %10s %10s %11s %12s\n" server requests locks/req mutexes busiest held/1000req
profile memcached "$A"
profile mcd "$B"
