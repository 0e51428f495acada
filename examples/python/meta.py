"""meta.py - the few meta-protocol commands the examples need, on one socket.

pymemcache (3.x) speaks the classic text protocol only, so the lease and
stale-while-revalidate examples talk meta themselves: mg, ms, md, plus any
one-line command (flush_prefix). One MetaClient per thread; it is not
shared.
"""
import socket


class MetaClient:
    def __init__(self, host="127.0.0.1", port=11211, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def _data(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def command(self, line):
        """Sends one command line, returns the reply's first line."""
        self.sock.sendall(line.encode() + b"\r\n")
        return self._line()

    def mg(self, key, *flags):
        """Meta get. Returns (code, flags, value): code is "VA", "HD" or
        "EN"; flags maps each returned flag letter to its token ("" for a
        bare one such as W, X or Z); value is bytes or None."""
        reply = self.command(" ".join(("mg", key) + flags)).split()
        code, value = reply[0], None
        if code == "VA":
            value = self._data(int(reply[1]))
            reply = reply[2:]
        else:
            reply = reply[1:]
        return code, {t[0]: t[1:] for t in reply}, value

    def ms(self, key, value, *flags):
        """Meta set; returns the code: HD stored, NS not stored, EX a CAS
        mismatch, NF not found (a CAS store to a missing key)."""
        head = " ".join(("ms", key, str(len(value))) + flags)
        self.sock.sendall(head.encode() + b"\r\n" + value + b"\r\n")
        return self._line().split()[0]

    def md(self, key, *flags):
        """Meta delete; with "I" it marks the item stale instead."""
        return self.command(" ".join(("md", key) + flags)).split()[0]
