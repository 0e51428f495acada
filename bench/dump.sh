#!/usr/bin/env bash
# dump.sh - `lru_crawler metadump all` on mcd and memcached 1.6.45 side by
# side: both loaded with the same N keys, then each dumped in turn A B B A
# (A = memcached, B = mcd) while a second client runs gets, so that drift
# on a shared machine hits both. Prints, per server, the dump's wall time
# and items/s, and the gets/s the other client got meanwhile, then the
# ratios B/A (median of the runs).
#
# usage: bench/dump.sh [--keys N] [--reps R] [MEMCACHED MCD]
set -euo pipefail
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.."

KEYS=500000 REPS=2
while [ $# -gt 0 ]; do
    case "$1" in
        --keys) KEYS=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
A=${1:-../shared/oracle/memcached-1.6.45/memcached}
B=${2:-server/mcd}
[ -x "$A" ] && [ -x "$B" ] || { echo "dump.sh: $A or $B is not executable" >&2; exit 2; }
user=()
[ "$(id -u)" -ne 0 ] || user=(-u root)

exec python3 - "$A" "$B" "$KEYS" "$REPS" "${user[@]}" <<'PY'
import os, socket, statistics, subprocess, sys, threading, time

a_bin, b_bin, keys, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
user = sys.argv[5:]

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def start(binary):
    port = free_port()
    p = subprocess.Popen([binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "1024", "-t", "4"] + user,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close(); return p, port
        except OSError:
            time.sleep(0.02)
    raise SystemExit("server did not start: " + binary)

def load(port):
    s = socket.create_connection(("127.0.0.1", port))
    batch = []
    for i in range(keys):
        batch.append(b"set bench_dump_%d 0 0 32 noreply\r\n%s\r\n" % (i, b"v" * 32))
        if len(batch) == 2000:
            s.sendall(b"".join(batch)); batch = []
    s.sendall(b"".join(batch) + b"mn\r\n")
    buf = b""
    while not buf.endswith(b"MN\r\n"):
        buf += s.recv(65536)
    s.close()

def dump(port):
    """Seconds for one metadump, items seen, gets/s another client got meanwhile."""
    stop = threading.Event(); gets = [0]
    def getter():
        g = socket.create_connection(("127.0.0.1", port))
        while not stop.is_set():
            g.sendall(b"get bench_dump_7\r\n")
            buf = b""
            while not buf.endswith(b"END\r\n"):
                buf += g.recv(4096)
            gets[0] += 1
        g.close()
    t = threading.Thread(target=getter); t.start()
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.monotonic()
    s.sendall(b"lru_crawler metadump all\r\n")
    buf = bytearray(); n = 0
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        buf += d
        if buf.endswith(b"\nEND\r\n"):
            break
    dt = time.monotonic() - t0
    stop.set(); t.join(); s.close()
    n = buf.count(b"key=bench_dump_")
    return dt, n, gets[0] / dt

servers = {}
for label, binary in (("A", a_bin), ("B", b_bin)):
    p, port = start(binary); load(port); servers[label] = (p, port)
res = {"A": [], "B": []}
for r in range(reps):
    for label in ("A", "B", "B", "A"):
        res[label].append(dump(servers[label][1]))
for p, _ in servers.values():
    p.terminate(); p.wait()
print("keys %d, %d runs each (A B B A)" % (keys, 2 * reps))
print("%-28s %14s %14s %10s" % ("metric", "memcached (A)", "mcd (B)", "B/A"))
for i, name in ((0, "dump seconds"), (1, "items listed"), (2, "gets/s during the dump")):
    a = statistics.median(x[i] for x in res["A"]); b = statistics.median(x[i] for x in res["B"])
    print("%-28s %14.3f %14.3f %10.3f" % (name, a, b, b / a if a else float("nan")))
a = statistics.median(x[1] / x[0] for x in res["A"]); b = statistics.median(x[1] / x[0] for x in res["B"])
print("%-28s %14.0f %14.0f %10.3f" % ("items/s", a, b, b / a))
PY
