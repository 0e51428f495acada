#!/bin/bash
# bench/tls-get.sh - TLS GET cost per request, mcd against memcached 1.6.45,
# both with -Z, side by side in one run (A B B A; A = memcached, B = mcd):
# a Python ssl client does N gets (pipelined P deep) over one TLS connection
# per value size, and the server CPU time per request is read from
# /proc/PID/stat (utime + stime) around each run. Prints µs per get for
# each server and the ratio B/A per value size.
#
#   bench/tls-get.sh [MEMCACHED_BIN] [MCD_BIN]        (N=400000 P=16 SIZES="100 16384")
set -eu
cd "$(dirname "${BASH_SOURCE[0]}")/.."
A=${1:-../shared/oracle/memcached-1.6.45/memcached}
B=${2:-server/mcd}
N=${N:-400000}
P=${P:-16}
SIZES=${SIZES:-"100 16384"}
PY=/usr/bin/python3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tls-get.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 1 \
    -subj /CN=bench >/dev/null 2>&1
ROOT=()
[ "$(id -u)" = 0 ] && ROOT=(-u root)

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
start() {  # start BIN: sets SPID and SPORT (in this shell, so cleanup kills it)
    SPORT=$(free_port)
    "$1" -l 127.0.0.1 -p "$SPORT" -U 0 -t 1 -m 256 "${ROOT[@]}" -Z \
        -o "ssl_chain_cert=$TMP/cert.pem,ssl_key=$TMP/key.pem" >/dev/null 2>&1 &
    SPID=$!
    PIDS+=("$SPID")
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

cat >"$TMP/client.py" <<'EOF'
import socket, ssl, sys, time
port, n, depth, size, mode = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
for _ in range(100):
    try:
        raw = socket.create_connection(("127.0.0.1", port))
        break
    except OSError:
        time.sleep(0.05)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(raw)
key = b"k%d" % size
if mode == "load":
    s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (key, size, b"v" * size))
    assert s.recv(100) == b"STORED\r\n"
    sys.exit(0)
batch = b"get %s\r\n" % key * depth
reply_len = (len(b"VALUE %s 0 %d\r\n" % (key, size)) + size + 2 + 5) * depth
buf = bytearray(reply_len)
for _ in range(n // depth):
    s.sendall(batch)
    view, got = memoryview(buf), 0
    while got < reply_len:
        got += s.recv_into(view[got:])
s.close()
EOF

start "$A"
PA=$SPID PORTA=$SPORT
start "$B"
PB=$SPID PORTB=$SPORT
HZ=$(getconf CLK_TCK)
for size in $SIZES; do
    "$PY" "$TMP/client.py" "$PORTA" 0 1 "$size" load
    "$PY" "$TMP/client.py" "$PORTB" 0 1 "$size" load
    declare -A us=([A]=0 [B]=0)
    for who in A B B A; do
        if [ "$who" = A ]; then pid=$PA port=$PORTA; else pid=$PB port=$PORTB; fi
        t0=$(cpu_ticks "$pid")
        "$PY" "$TMP/client.py" "$port" "$N" "$P" "$size" get
        t1=$(cpu_ticks "$pid")
        us[$who]=$(awk -v a="${us[$who]}" -v d=$((t1 - t0)) -v hz="$HZ" -v n="$N" \
            'BEGIN { printf "%.4f", a + d / hz * 1e6 / n / 2 }')
    done
    awk -v s="$size" -v a="${us[A]}" -v b="${us[B]}" -v n="$N" -v p="$P" 'BEGIN {
        printf "TLS get %6d B  (%d gets, depth %d)  server CPU us/get: memcached %.2f  mcd %.2f  B/A %.3f\n",
               s, n, p, a, b, (a > 0 ? b / a : 0) }'
done
