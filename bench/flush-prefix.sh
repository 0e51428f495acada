#!/usr/bin/env bash
# flush-prefix.sh - what flush_prefix costs, and what it adds to a get.
#
# flush_prefix is an mcd extension (memcached has nothing to compare it
# with), so the two sides of each ratio are two mcd runs:
#
#   1. flush_prefix round trip with 10 (A) and with 500,000 (B) keys under
#      the prefix (plus 10,000 other keys), each on a fresh server, in the
#      order A B B A, --reps times: the median over 2000 calls of
#      `flush_prefix p:` (the first registers the prefix, the rest raise its
#      bound) and over 400 calls registering new prefixes, and the first
#      call's own latency; then B/A. Flat means B/A near 1. Each run checks
#      that the matching keys are gone and the others are not.
#   2. instructions per get hit on the busiest server thread (valgrind
#      callgrind, a run with the gets minus the same run without them,
#      -t 1) of keys "tenant:<1000..1099>:obj:<n>" (24 bytes), with no
#      prefix registered, with 50 registered prefixes of other tenants
#      ("tenant:<0..49>:", 2 lengths, none matching), with 50 of 50
#      different lengths ("tenant:~", "tenant:~~", ... none matching: the
#      worst case, a probe at each of the 17 lengths up to the key's), and,
#      given BASE, the same gets on a build without flush_prefix (the
#      commit before it): ratios against the first.
#
# usage: bench/flush-prefix.sh [--reps 1] [--keys 500000] [--no-callgrind] [MCD [BASE_MCD]]
set -euo pipefail
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.."

REPS=1 KEYS=500000 CG=1
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) REPS=$2; shift 2 ;;
        --keys) KEYS=$2; shift 2 ;;
        --no-callgrind) CG=0; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
MCD=${1:-server/mcd}
BASE=${2:-}
[ -x "$MCD" ] || { echo "flush-prefix.sh: $MCD is not executable" >&2; exit 2; }
command -v python3 >/dev/null || { echo "flush-prefix.sh: needs python3" >&2; exit 2; }
user=()
[ "$(id -u)" -ne 0 ] || user=(-u root)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/flush-prefix.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# the client: load, flush timings, gets (python3, one connection, pipelined)
cat >"$WORK/client.py" <<'PY'
import socket, statistics, sys, time

def conn(port):
    for _ in range(400):
        try:
            s = socket.create_connection(("127.0.0.1", port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return s
        except OSError:
            time.sleep(0.05)
    sys.exit("server did not start")

class C:
    def __init__(self, port):
        self.s, self.buf = conn(port), b""
    def send(self, b):
        self.s.sendall(b)
    def until(self, term, count=1):
        while self.buf.count(term) < count:
            d = self.s.recv(1 << 20)
            if not d:
                sys.exit("connection closed")
            self.buf += d
        i = 0
        for _ in range(count):
            i = self.buf.index(term, i) + len(term)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out
    def rt(self, line, term=b"\r\n"):
        self.send(line)
        return self.until(term)

def load(c, prefix, n, val=b"x" * 32):
    batch = 500
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        c.send(b"".join(b"set %s%d 0 0 %d noreply\r\n%s\r\n" % (prefix, i, len(val), val) for i in range(lo, hi)))
    assert c.rt(b"version\r\n").startswith(b"VERSION")

def flushes(port, n):
    c = C(port)
    load(c, b"p:", n)
    load(c, b"q:", 10000)
    st = c.rt(b"stats\r\n", b"END\r\n")
    items = int(st.split(b"STAT curr_items ")[1].split(b"\r\n")[0])
    assert items == n + 10000, "loaded %d items, want %d" % (items, n + 10000)
    t = time.perf_counter_ns()
    assert c.rt(b"flush_prefix p:\r\n") == b"OK\r\n"
    first = (time.perf_counter_ns() - t) / 1000
    again = []
    for _ in range(2000):
        t = time.perf_counter_ns()
        assert c.rt(b"flush_prefix p:\r\n") == b"OK\r\n"
        again.append((time.perf_counter_ns() - t) / 1000)
    new = []
    for j in range(400):
        t = time.perf_counter_ns()
        assert c.rt(b"flush_prefix p:%d\r\n" % j) == b"OK\r\n"
        new.append((time.perf_counter_ns() - t) / 1000)
    assert c.rt(b"get p:0 p:%d\r\n" % (n - 1), b"END\r\n") == b"END\r\n", "p: keys still there"
    assert c.rt(b"get q:9999\r\n", b"END\r\n").startswith(b"VALUE"), "q: key gone"
    print("%.1f %.1f %.1f" % (first, statistics.median(again), statistics.median(new)))

def gets(port, prefixes, n):
    c = C(port)
    keys = [b"tenant:%d:obj:%06d" % (1000 + i % 100, i) for i in range(10000)]
    for lo in range(0, len(keys), 500):
        c.send(b"".join(b"set %s 0 0 32 noreply\r\n%s\r\n" % (k, b"v" * 32) for k in keys[lo:lo + 500]))
    assert c.rt(b"version\r\n").startswith(b"VERSION")
    if prefixes == "typical":
        for j in range(50):
            assert c.rt(b"flush_prefix tenant:%d:\r\n" % j) == b"OK\r\n"
    elif prefixes == "lengths":
        for j in range(1, 51):
            assert c.rt(b"flush_prefix tenant:%s\r\n" % (b"~" * j)) == b"OK\r\n"
    done = 0
    while done < n:
        m = min(100, n - done)
        c.send(b"".join(b"get %s\r\n" % keys[(done + i) % len(keys)] for i in range(m)))
        out = c.until(b"END\r\n", m)
        assert out.count(b"VALUE") == m, "a get missed"
        done += m
    c.s.close()

mode, port = sys.argv[1], int(sys.argv[2])
if mode == "flush":
    flushes(port, int(sys.argv[3]))
else:
    gets(port, sys.argv[3], int(sys.argv[4]))
PY

start() { # BIN ARGS... -> sets PORT, PID
    PORT=$(free_port)
    "$@" -p "$PORT" -l 127.0.0.1 -U 0 "${user[@]}" >>"$WORK/server.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
}
stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

median() { sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- 1. flush_prefix with 10 vs KEYS matching keys ----
echo "flush-prefix: flush_prefix round trips, 10 vs $KEYS matching keys ($REPS x A B B A)" >&2
: >"$WORK/A" && : >"$WORK/B"
for ((r = 0; r < REPS; r++)); do
    for side in A B B A; do
        n=10
        [ "$side" = B ] && n=$KEYS
        start "$MCD" -m 1024 -t 2
        python3 "$WORK/client.py" flush "$PORT" "$n" >>"$WORK/$side"
        stop "$PID"
    done
done
printf '%-44s %12s %12s %8s\n' "flush_prefix (mcd only: no memcached column)" "10 keys" "$KEYS keys" "B/A"
col=1
for what in "first call, µs" "again (bound raised), median µs" "new prefix, median µs"; do
    a=$(cut -d' ' -f$col "$WORK/A" | median)
    b=$(cut -d' ' -f$col "$WORK/B" | median)
    printf '%-44s %12s %12s %8.3f\n' "$what" "$a" "$b" "$(echo "$b $a" | awk '{ print $1 / $2 }')"
    col=$((col + 1))
done

# ---- 2. instructions per get hit (callgrind) ----
[ "$CG" = 1 ] || exit 0
command -v valgrind >/dev/null || { echo "flush-prefix.sh: no valgrind: no instruction counts" >&2; exit 0; }
N=20000
# cg_run BIN PREFIXES GETS -> "index Ir" per thread
cg_run() {
    local bin=$1 prefixes=$2 n=$3 dir
    dir=$(mktemp -d "$WORK/cg.XXXXXX")
    PORT=$(free_port)
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/cg.%p" -- \
        "$bin" -p "$PORT" -l 127.0.0.1 -U 0 -t 1 "${user[@]}" >>"$WORK/server.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    python3 "$WORK/client.py" get "$PORT" "$prefixes" "$n"
    stop "$PID"
    for f in "$dir"/cg.*; do
        awk -v t="${f##*-}" '/^summary:|^totals:/ { print t + 0, $2; exit }' "$f"
    done | sort -n
}
ir_per_get() { # BIN PREFIXES -> instructions per get, busiest thread
    local base run
    base=$(cg_run "$1" "$2" 0)
    run=$(cg_run "$1" "$2" "$N")
    awk -v n="$N" 'NR == FNR { b[$1] = $2; next } { d = $2 - b[$1]; if (d > mx) mx = d } END { printf "%.0f", mx / n }' \
        <(echo "$base") <(echo "$run")
}
echo "flush-prefix: instructions per get hit (callgrind, $N gets, -t 1)" >&2
none=$(ir_per_get "$MCD" none)
typical=$(ir_per_get "$MCD" typical)
lengths=$(ir_per_get "$MCD" lengths)
printf '%-44s %12s %8s\n' "get hit, instructions (busiest thread)" "per get" "ratio"
printf '%-44s %12s %8.3f\n' "no prefix registered" "$none" 1
printf '%-44s %12s %8.3f\n' "50 prefixes \"tenant:<0..49>:\"" "$typical" "$(echo "$typical $none" | awk '{ print $1 / $2 }')"
printf '%-44s %12s %8.3f\n' "50 prefixes of lengths 8..57" "$lengths" "$(echo "$lengths $none" | awk '{ print $1 / $2 }')"
if [ -n "$BASE" ] && [ -x "$BASE" ]; then
    base=$(ir_per_get "$BASE" plain)
    printf '%-44s %12s %8.3f\n' "build without flush_prefix ($BASE)" "$base" "$(echo "$base $none" | awk '{ print $1 / $2 }')"
fi
