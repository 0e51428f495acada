#!/usr/bin/env bash
# syscalls.sh - deterministic guard on the server's syscalls per request:
# 16 pipelined gets arrive in one packet, and their 16 replies must leave in
# one write, so the server makes a handful of syscalls per burst, not per get
# (memcached 1.6 makes about one per get). Counted with strace -c on the
# server's threads; skipped (77) where strace or ptrace is unavailable.
set -u
BIN=${MCD_BIN:-server/mcd}
BURST=${BURST:-tests/perf/burst}
BOUND=${SYSCALLS_PER_GET_MAX:-0.30}   # per pipelined get; mcd measures ~0.19
BURSTS=500 PIPE=16

command -v strace >/dev/null || { echo "strace not installed: skipped"; exit 77; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null) ||
    port=$((20000 + RANDOM % 20000))
user=()
[ "$(id -u)" -ne 0 ] || user=(-u root)
"$BIN" -p "$port" -l 127.0.0.1 -U 0 -t 1 "${user[@]}" &
srv=$!
trace=$(mktemp)
cleanup() { kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; rm -f "$trace" "$trace.err"; }
trap cleanup EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
"$BURST" "$port" 1000 0 1 set || { echo "could not load keys"; exit 1; }

strace -f -c -e trace=%desc,%network,futex -o "$trace" -p "$srv" 2>"$trace.err" &
st=$!
for _ in $(seq 1 100); do grep -q attached "$trace.err" 2>/dev/null && break; sleep 0.05; done
if ! grep -q attached "$trace.err"; then
    kill "$st" 2>/dev/null
    echo "strace cannot attach here: skipped"
    exit 77
fi
"$BURST" "$port" 1000 "$BURSTS" "$PIPE" || { echo "load failed"; exit 1; }
kill -INT "$st"; wait "$st"
calls=$(awk '$NF == "total" { print $4 }' "$trace")
per=$(awk -v c="$calls" -v n=$((BURSTS * PIPE)) 'BEGIN { printf "%.3f", c / n }')
echo "syscalls per pipelined get: $per (bound $BOUND; $calls calls for $((BURSTS * PIPE)) gets)"
awk -v p="$per" -v b="$BOUND" 'BEGIN { exit !(p <= b) }'
