#!/usr/bin/env python3
"""slab_shift.py - the load of bench/slab-shift.sh against one server.

Fills the cache with 100-byte values, then serves 5-10 KB values cache-aside
(get; on a miss, set) for N requests over a key space larger than memory, and
prints one line: the hit ratio over the N requests, over their last fifth,
and the pages the server moved (stats slabs_moved) during the shift.
"""
import random
import socket
import sys


def main():
    port, nreq, nkeys, fill, seed = (int(a) for a in sys.argv[1:6])
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")

    def line():
        return f.readline()

    def stat(name):
        s.sendall(b"stats\r\n")
        val = None
        while True:
            l = line()
            if l == b"END\r\n":
                return val
            p = l.split()
            if p[1] == name:
                val = int(p[2])

    # fill: 100-byte values, pipelined, noreply
    small = b"s" * 100
    batch = []
    for i in range(fill):
        batch.append(b"set small:%d 0 0 100 noreply\r\n%s\r\n" % (i, small))
        if len(batch) == 1000:
            s.sendall(b"".join(batch))
            batch = []
    s.sendall(b"".join(batch) + b"version\r\n")
    line()
    moved0 = stat(b"slabs_moved")

    rnd = random.Random(seed)
    sizes = [rnd.randint(5000, 10000) for _ in range(nkeys)]
    hits = 0
    failed = 0
    first_failure = None
    tail_hits = 0
    tail_from = nreq - nreq // 5
    for n in range(nreq):
        k = rnd.randrange(nkeys)
        key = b"big:%d" % k
        s.sendall(b"get " + key + b"\r\n")
        l = line()
        if l.startswith(b"VALUE"):
            ln = int(l.split()[3])
            f.read(ln + 2)
            line()  # END
            hits += 1
            if n >= tail_from:
                tail_hits += 1
        else:
            # not noreply: memcached answers SERVER_ERROR even then
            v = bytes([97 + k % 26]) * sizes[k]
            s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(v), v))
            reply = line()
            if reply != b"STORED\r\n":
                failed += 1
                if first_failure is None:
                    first_failure = "%d:%r" % (n, reply)
    moved = stat(b"slabs_moved") - moved0
    print("hit_ratio=%.4f tail_hit_ratio=%.4f pages_moved=%d set_failures=%d" %
          (hits / nreq, tail_hits / (nreq - tail_from), moved, failed))
    if first_failure is not None:
        sys.stderr.write("first failed set: request %s\n" % first_failure)


if __name__ == "__main__":
    main()
