#!/usr/bin/python3
"""tls_checks.py - TLS (-Z) end to end: mcd and memcached 1.6.45 (the oracle,
built with TLS) started side by side on free 127.0.0.1 ports with a CA, two
server certificates and a client certificate made here with openssl(1).

Checks: start-up errors (message and exit status) as the oracle's; the same
bytes over TLS give the same replies (differential, large values too);
`stats` / `stats settings` ssl_* lines; notls: listeners; pymemcache's
tls_context; client certificate verification modes; refresh_certs and SIGHUP
with a connection kept open; hostile clients (plaintext, garbage, half-open
and stalled handshakes, a flood of handshakes) cost only their own
connection, and the counters match the oracle's.

Usage: tls_checks.py MCD_BIN MEMCACHED_BIN. Exit 0 pass, 1 fail, 77 skip.
"""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

MCD, ORACLE = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="mcd-tls.")
PROCS = []
FAILS = []
ROOT = ["-u", "root"] if os.getuid() == 0 else []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def path(name):
    return os.path.join(TMP, name)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_certs():
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("ca.key"), "-out", path("ca.pem"),
            "-days", "2", "-subj", "/CN=mcd test CA")
    for name, cn in (("srv1", "server one"), ("srv2", "server two"), ("client", "client")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", path(name + ".key"), "-out", path(name + ".csr"),
                "-subj", "/CN=" + cn)
        openssl("x509", "-req", "-in", path(name + ".csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                "-CAcreateserial", "-out", path(name + ".pem"), "-days", "2")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("rogue.key"), "-out",
            path("rogue.pem"), "-days", "2", "-subj", "/CN=rogue")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(binary, args, tls=True, extra_ports=0, ready=(b"VERSION",)):
    """Starts binary on free ports; returns (proc, port, [extra ports])."""
    for _ in range(5):
        port = free_port()
        extra = [free_port() for _ in range(extra_ports)]
        argv = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", *ROOT]
        argv += [a.replace("@X0@", str(extra[0])) if extra else a for a in args]
        log = open(path("srv-%d.log" % port), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=log)
        PROCS.append(p)
        deadline = time.time() + 10
        while time.time() < deadline and p.poll() is None:
            try:
                c = client(port, tls)
                c.sendall(b"version\r\n")
                if c.recv(100).startswith(ready):
                    c.close()
                    return p, port, extra
            except OSError:
                time.sleep(0.05)
        stop(p)
    raise RuntimeError("%s did not start: %s" % (binary, open(path("srv-%d.log" % port)).read()))


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def ctx_for(cert=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(path(cert + ".pem"), path(cert + ".key"))
    return ctx


def client(port, tls=True, cert=None, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls:
        s = ctx_for(cert).wrap_socket(s)
    return s


def exchange(s, data, until=None, idle=0.3):
    """Sends data, reads until the reply ends with `until` (or is idle)."""
    s.sendall(data)
    out = b""
    s.settimeout(idle if until is None else 5)
    try:
        while until is None or not out.endswith(until):
            d = s.recv(1 << 20)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    except (ssl.SSLError, ConnectionError):
        pass
    return out


def stats(port, group=b"", tls=True):
    s = client(port, tls)
    out = exchange(s, b"stats" + (b" " + group if group else b"") + b"\r\n", b"END\r\n")
    s.close()
    return [tuple(l.split(" ", 2)[1:]) for l in out.decode().splitlines() if l.startswith("STAT ")]


def subject(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    c = ctx_for().wrap_socket(s)
    der = c.getpeercert(binary_form=True)
    c.close()
    p = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"], input=der,
                       capture_output=True, check=True)
    return p.stdout.decode().strip()


SSL_OPTS = None


def tls_args(extra=""):
    return ["-Z", "-o", "ssl_chain_cert=%s,ssl_key=%s%s" % (path("srv1.pem"), path("srv1.key"), extra)]


# ---------------------------------------------------------------------------

def test_startup_errors():
    cases = [
        ["-Z"],
        ["-Z", "-o", "ssl_chain_cert=" + path("srv1.pem")],
        ["-Z", "-o", "ssl_chain_cert=" + path("nope.pem") + ",ssl_key=" + path("srv1.key")],
        ["-Z", "-o", "ssl_chain_cert=" + path("srv1.pem") + ",ssl_key=" + path("srv2.key")],
        ["-Z", "-o", "ssl_chain_cert=" + path("srv1.key") + ",ssl_key=" + path("srv1.key")],
        ["-Z", "-o", "ssl_chain_cert=" + path("srv1.pem") + ",ssl_key=" + path("srv1.key") + ",ssl_keyformat=2"],
        ["-Z", "-o", "ssl_chain_cert=" + path("srv1.pem") + ",ssl_key=" + path("srv1.key") + ",ssl_ciphers=BOGUS"],
        ["-Z", "-o", "ssl_chain_cert=" + path("srv1.pem") + ",ssl_key=" + path("srv1.key") + ",ssl_ca_cert=" +
         path("nope")],
        ["-o", "ssl_verify_mode=4"], ["-o", "ssl_verify_mode=-1"], ["-o", "ssl_verify_mode=x"],
        ["-o", "ssl_min_version=tlsv1.3"], ["-o", "ssl_min_version=9"], ["-o", "ssl_wbuf_size=-1"],
        ["-o", "ssl_key"], ["-o", "ssl_chain_cert"], ["-o", "ssl_verify_mode"],
    ]
    cases += [["-Z", "-p", "0"], ["-Z", "-s", path("sock")] + cases[3][1:], ["-Z", "-s", path("sock")],
]
    port = free_port()
    for args in cases:
        res = []
        for b in (MCD, ORACLE):
            try:
                p = subprocess.run([b, "-p", str(port), "-U", "0", *ROOT, *args] + ([] if "-Z" in args else ["-V"]),
                                   capture_output=True, timeout=5)
                # the last line is memcached's message; the lines before it are
                # OpenSSL's error queue (thread ids differ)
                lines = p.stderr.decode().strip().splitlines()
                res.append((p.returncode, lines[-1] if lines else ""))
            except subprocess.TimeoutExpired:
                res.append(("timeout", ""))
        check(res[0] == res[1], "start-up %s: mcd %r, memcached %r" % (" ".join(a.replace(TMP, "") for a in args),
                                                                         res[0], res[1]))


def test_differential():
    o, op, _ = start(ORACLE, tls_args())
    m, mp, _ = start(MCD, tls_args())
    big = b"v" * 70000
    seqs = [
        b"set a 5 0 3\r\nabc\r\nget a\r\ngets a b\r\n",
        b"set big 0 0 %d\r\n%s\r\nget big\r\nget big a big\r\n" % (len(big), big),
        b"incr n 1\r\nset n 0 0 1\r\n5\r\nincr n 10\r\ndecr n 100\r\n",
        b"append a 0 0 2\r\nde\r\nprepend a 0 0 2\r\nzz\r\nget a\r\n",
        b"bogus\r\nset x 0 0 1\r\nx\r\nget x\r\n",
        b"delete a\r\ndelete a\r\ntouch big 100\r\nmg big s v\r\nmn\r\n",
        b"ms m 2\r\nhi\r\nmg m v f t\r\nma n\r\nmd m q\r\nmn\r\n",
        b"set p 0 0 1 noreply\r\n1\r\nget p\r\nverbosity 1\r\nverbosity 0\r\n",
        b"".join(b"set k%d 0 0 %d\r\n%s\r\n" % (i, i * 97, b"x" * (i * 97)) for i in range(200)) +
        b"get " + b" ".join(b"k%d" % i for i in range(200)) + b"\r\n",
        b"version\r\n",
    ]
    def play(port, data, out, i):
        s = client(port)
        out[i] = exchange(s, data, idle=0.5)
        s.close()

    def both(data):
        """data to the oracle and to mcd at once (each reply ends with an
        idle wait): [oracle's reply, mcd's]"""
        out = [b"", b""]
        ts = [threading.Thread(target=play, args=(port, data, out, i)) for i, port in enumerate((op, mp))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return out

    for seq in seqs:
        replies = both(seq)
        check(replies[0] == replies[1], "same reply over TLS to %r...: %d / %d bytes%s" %
              (seq[:30], len(replies[1]), len(replies[0]),
               "" if replies[0] == replies[1] else " mcd %r oracle %r" % (replies[1][:200], replies[0][:200])))
    # binary protocol over TLS
    pkt = bytes([0x80, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0])
    r = [x[:6] for x in both(pkt)]
    check(r[0] == r[1], "binary version over TLS: %r / %r" % (r[1], r[0]))
    # stats: the ssl lines, their order, where they sit
    so, sm = stats(op), stats(mp)
    names = lambda st: [k for k, _ in st]
    check(names(so) == names(sm), "stats names and order as the oracle's under -Z")
    sso, ssm = stats(op, b"settings"), stats(mp, b"settings")
    ssl_o = [(k, v) for k, v in sso if k.startswith("ssl_")]
    ssl_m = [(k, v) for k, v in ssm if k.startswith("ssl_")]
    check(ssl_o == ssl_m, "stats settings ssl_* lines: %r / %r" % (ssl_m, ssl_o))
    t = dict(sm)["time_since_server_cert_refresh"]
    check(int(t) < 60, "time_since_server_cert_refresh counts from the load (%s s)" % t)
    stop(o)
    stop(m)


def test_settings_lines():
    extra = ",ssl_verify_mode=1,ssl_keyformat=1,ssl_ciphers=HIGH,ssl_ca_cert=%s,ssl_wbuf_size=3," \
            "ssl_session_cache,ssl_kernel_tls,ssl_min_version=3" % path("ca.pem")
    o, op, _ = start(ORACLE, tls_args(extra))
    m, mp, _ = start(MCD, tls_args(extra))
    so = [(k, v) for k, v in stats(op, b"settings") if k.startswith("ssl_")]
    sm = [(k, v) for k, v in stats(mp, b"settings") if k.startswith("ssl_")]
    check(so == sm, "stats settings with every ssl_ option: %r / %r" % (sm, so))
    check(names_of(stats(op)) == names_of(stats(mp)), "stats names with ssl_session_cache (ssl_new_sessions)")
    # session resumption works and is counted
    ctx = ctx_for()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    for port, who in ((mp, "mcd"), (op, "memcached")):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
        exchange(s, b"version\r\n", b"\r\n")
        sess = s.session
        s.close()
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), session=sess)
        exchange(s, b"version\r\n", b"\r\n")
        if who == "mcd":
            check(s.session_reused, "session resumed with ssl_session_cache (mcd)")
        s.close()
    no = int(dict(stats(op))["ssl_new_sessions"])
    nm = int(dict(stats(mp))["ssl_new_sessions"])
    check(nm > 0 and nm == no, "ssl_new_sessions counts: mcd %d, memcached %d" % (nm, no))
    stop(o)
    stop(m)


def names_of(st):
    return [k for k, _ in st]


def test_notls_and_plain():
    m, mp, (pp,) = start(MCD, tls_args() + ["-l", "notls:127.0.0.1:@X0@"], extra_ports=1)
    s = client(pp, tls=False)
    check(exchange(s, b"set q 0 0 1\r\nq\r\n", b"\r\n") == b"STORED\r\n", "notls: listener speaks plaintext")
    check(exchange(client(mp), b"get q\r\n", b"END\r\n") == b"VALUE q 0 1\r\nq\r\nEND\r\n",
          "the TLS listener sees the same cache")
    r = exchange(s, b"refresh_certs\r\n", b"\r\n")
    check(r == b"OK\r\n", "refresh_certs over the plain listener: %r" % r)
    stop(m)
    # without -Z
    for b in (MCD, ORACLE):
        p, port, _ = start(b, [], tls=False)
        r = exchange(client(port, tls=False), b"refresh_certs\r\n", b"\r\n")
        check(r == b"Error TLS not enabled\r\n", "%s without -Z: refresh_certs -> %r" % (os.path.basename(b), r))
        st = names_of(stats(port, tls=False))
        check(not any(k.startswith("ssl_") or k.startswith("time_since_server") for k in st),
              "%s without -Z: no ssl stats" % os.path.basename(b))
        stop(p)


def test_auth_file_over_tls():
    """-Y holds on the TLS listener and on a notls: one alike (memcached 1.6's
    issue #1283 was an auth bypass on extra listeners)."""
    af = path("auth-users")
    with open(af, "w") as f:
        f.write("alice:secret\n")
    unauth = b"CLIENT_ERROR unauthenticated\r\n"
    m, mp, (pp,) = start(MCD, tls_args() + ["-Y", af, "-l", "notls:127.0.0.1:@X0@"], extra_ports=1,
                         ready=(b"VERSION", b"CLIENT_ERROR unauthenticated"))
    for port, tls, name in ((mp, True, "TLS"), (pp, False, "notls")):
        s = client(port, tls=tls)
        r = exchange(s, b"get k\r\n", b"\r\n")
        check(r == unauth, "-Y -Z: %s listener refuses get before auth: %r" % (name, r))
        r = exchange(s, b"set auth 0 0 12\r\nalice wrong!\r\n", b"\r\n")
        check(r.startswith(b"CLIENT_ERROR"), "-Y -Z: %s listener refuses a wrong password: %r" % (name, r))
        s = client(port, tls=tls)
        r = exchange(s, b"set auth 0 0 12\r\nalice secret\r\n", b"\r\n")
        check(r == b"STORED\r\n", "-Y -Z: %s listener takes the right password: %r" % (name, r))
        r = exchange(s, b"get k\r\n", b"END\r\n")
        check(r == b"END\r\n", "-Y -Z: %s listener serves once authenticated: %r" % (name, r))
    stop(m)


def test_pymemcache():
    from pymemcache.client.base import Client
    m, mp, _ = start(MCD, tls_args())
    c = Client(("127.0.0.1", mp), tls_context=ctx_for(), timeout=5)
    c.set("k", b"v" * 100000)
    check(c.get("k") == b"v" * 100000, "pymemcache tls_context: set/get of 100 KB")
    c.set("n", "1")
    check(c.incr("n", 41) == 42, "pymemcache tls_context: incr")
    many = {"m%d" % i: b"%d" % i * 10 for i in range(500)}
    c.set_many(many)
    check(c.get_many(list(many)) == many, "pymemcache tls_context: set_many/get_many of 500 keys")
    check(c.delete("k") and c.get("k") is None, "pymemcache tls_context: delete")
    c.close()
    stop(m)


def test_verify_modes():
    base = ",ssl_ca_cert=" + path("ca.pem")
    for mode, anon_ok, cert_ok, rogue_ok in ((0, True, True, True), (1, True, True, False),
                                             (2, False, True, False), (3, True, True, False)):
        # memcached 1.6.45 serves nothing with ssl_verify_mode=3 (its accept
        # loop fails: memcached-compat.md); mcd alone is checked there
        for b in (MCD, ORACLE) if mode != 3 else (MCD,):
            p, port, _ = start(b, tls_args(base + ",ssl_verify_mode=%d" % mode), tls=(mode != 2)) \
                if mode != 2 else start_with_cert(b, tls_args(base + ",ssl_verify_mode=2"))
            res = []
            for cert in (None, "client", "rogue"):
                try:
                    s = client(port, cert=cert)
                    res.append(exchange(s, b"version\r\n", b"\r\n").startswith(b"VERSION"))
                    s.close()
                except (ssl.SSLError, OSError):
                    res.append(False)
            check(res == [anon_ok, cert_ok, rogue_ok],
                  "%s ssl_verify_mode=%d: no cert/CA's cert/rogue cert served %r" % (os.path.basename(b), mode, res))
            stop(p)
    # mtls: listener: a certificate required there only
    m, mp, (mt,) = start(MCD, tls_args(",ssl_ca_cert=" + path("ca.pem")) + ["-l", "mtls:127.0.0.1:@X0@"],
                         extra_ports=1)
    ok = []
    for cert in (None, "client"):
        try:
            s = client(mt, cert=cert)
            ok.append(exchange(s, b"version\r\n", b"\r\n").startswith(b"VERSION"))
        except (ssl.SSLError, OSError):
            ok.append(False)
    check(ok == [False, True], "mtls: listener requires a client certificate: %r" % ok)
    stop(m)


def start_with_cert(binary, args):
    """start() for servers that require a client certificate."""
    global ctx_for
    plain = ctx_for
    ctx_for = lambda cert=None: plain(cert or "client")
    try:
        return start(binary, args)
    finally:
        ctx_for = plain


def test_refresh():
    shutil.copy(path("srv1.pem"), path("live.pem"))
    shutil.copy(path("srv1.key"), path("live.key"))
    args = ["-Z", "-o", "ssl_chain_cert=%s,ssl_key=%s" % (path("live.pem"), path("live.key"))]
    m, mp, _ = start(MCD, args)
    o, op, _ = start(ORACLE, args)
    keep = client(mp)
    exchange(keep, b"set r 0 0 1\r\nr\r\n", b"\r\n")
    check("server one" in subject(mp), "serves the first certificate")
    shutil.copy(path("srv2.pem"), path("live.pem"))
    shutil.copy(path("srv2.key"), path("live.key"))
    r = exchange(keep, b"refresh_certs\r\n", b"\r\n")
    check(r == b"OK\r\n", "refresh_certs: %r" % r)
    check(exchange(keep, b"get r\r\n", b"END\r\n") == b"VALUE r 0 1\r\nr\r\nEND\r\n",
          "the connection that refreshed stays open and served")
    check("server two" in subject(mp), "new connections get the new certificate")
    # a certificate whose key does not match: memcached's message, the
    # current context stays (1.6.45 breaks new handshakes here)
    shutil.copy(path("srv1.pem"), path("live.pem"))
    r = exchange(keep, b"refresh_certs\r\n", b"\r\n")
    ro = exchange(client(op), b"refresh_certs\r\n", b"\r\n")
    check(r == ro and r.startswith(b"Error loading the key: "), "bad key: %r (memcached %r)" % (r, ro))
    check("server two" in subject(mp), "after a failed refresh the last good certificate is served")
    # SIGHUP
    shutil.copy(path("srv1.key"), path("live.key"))
    m.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while time.time() < deadline and "server one" not in subject(mp):
        time.sleep(0.05)
    check("server one" in subject(mp), "SIGHUP reloads the certificate, as 1.6.45")
    check(exchange(keep, b"get r\r\n", b"END\r\n") == b"VALUE r 0 1\r\nr\r\nEND\r\n",
          "the connection stays open across SIGHUP")
    t = int(dict(stats(mp))["time_since_server_cert_refresh"])
    check(t <= 2, "time_since_server_cert_refresh restarts at a reload (%d)" % t)
    stop(m)
    stop(o)


# Against a sanitized server (tests/sanitizers.sh sets MCD_BIN_SANITIZED=1)
# everything runs several times slower: the hostile part keeps its floods
# smaller and its time limits looser there.
SANITIZED = os.environ.get("MCD_BIN_SANITIZED") == "1"
SLOW_LIMIT = 5.0 if SANITIZED else 0.5
STALLED = 100 if SANITIZED else 300


def timed_get(port, n=20, s=None):
    """The slowest of n TLS round trips on one connection (`s`, or a new
    one), in seconds."""
    for attempt in range(0 if s else 10 if SANITIZED else 1):
        try:
            s = client(port)
            break
        except (ssl.SSLError, OSError):
            # a sanitized server may still be at -c, answering in plain text
            if attempt == 9 or not SANITIZED:
                raise
            time.sleep(0.5)
    worst = 0
    for _ in range(n):
        t = time.time()
        r = exchange(s, b"get hot\r\n", b"END\r\n")
        worst = max(worst, time.time() - t)
        if not r.endswith(b"END\r\n"):
            return 99
    s.close()
    return worst


def test_hostile():
    # the counters, for the same hostile inputs, as the oracle's: a peer
    # leaving mid-handshake is a protocol error in both; bad bytes are
    # counted by 1.6.45 as either kind depending on timing, so their sum
    # is compared
    res = []
    for b in (MCD, ORACLE):
        p, port, _ = start(b, tls_args())
        counts = []
        for batch in ((b"", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"\x16\x03\x01\x40\x00abc"),
                      (b"stats\r\n", b"\x16\x03\x01\x00\x05hello", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                       b"\x00" * 3000, b"\x17\x03\x03\x00\x10abcdefghijklmnop")):
            for data in batch:
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(data)
                time.sleep(0.05)
                s.close()
            time.sleep(0.3)
            st = dict(stats(port))
            counts.append(int(st["ssl_handshake_errors"]) + int(st["ssl_proto_errors"]))
            if len(counts) == 1:
                counts.append(int(st["ssl_proto_errors"]))
        res.append(counts)
        stop(p)
    # 1.6.45 sometimes spins on a failed handshake ("accept4(): Resource
    # temporarily unavailable", counting each turn): its counts, recorded on
    # runs where it did not, are the expected ones
    check(res[0] == [3, 3, 8], "TLS error counts (peers leaving mid-handshake: all, protocol; then with bad bytes: "
          "all): mcd %r, memcached %r on this run, [3, 3, 8] expected" % tuple(res))

    m, mp, _ = start(MCD, tls_args(",ssl_handshake_timeout=2") + ["-c", "4096"])
    exchange(client(mp), b"set hot 0 0 3\r\nhot\r\n", b"\r\n")
    base = timed_get(mp)
    # 300 half-open handshakes (a ClientHello cut short) and 300 silent ones
    held = []
    for i in range(STALLED):
        s = socket.create_connection(("127.0.0.1", mp))
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(40))
        held.append(s)
        held.append(socket.create_connection(("127.0.0.1", mp)))
    worst = timed_get(mp)
    check(worst < SLOW_LIMIT, "%d stalled handshakes: a TLS client's gets still take %.3f s at worst (alone %.3f)" %
          (2 * STALLED, worst, base))

    # plaintext, garbage and full handshakes in a loop from 4 threads
    stop_flag = []

    def flood(kind):
        while not stop_flag:
            try:
                s = socket.create_connection(("127.0.0.1", mp), timeout=2)
                if kind == 0:
                    s.sendall(b"get hot\r\n" * 50)
                elif kind == 1:
                    s.sendall(os.urandom(20000))
                elif kind == 2:
                    s = ctx_for().wrap_socket(s)
                    s.sendall(b"get hot\r\n")
                else:
                    s.sendall(b"\x16\x03\x01\x40\x00" + os.urandom(100))
                s.close()
            except OSError:
                pass

    # the measuring client connects before the flood: while it runs, the
    # server may be at -c and refuse new connections in plain text, as
    # memcached does (seen in a loaded distcheck run)
    measured = client(mp)
    threads = [threading.Thread(target=flood, args=(k,), daemon=True) for k in range(2 if SANITIZED else 4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        worst = timed_get(mp, 50, measured)
    finally:
        stop_flag.append(1)
        for t in threads:
            t.join()
    check(worst < SLOW_LIMIT, "handshake/plaintext/garbage flood: gets take %.3f s at worst" % worst)

    # the stalled ones are closed by the handshake timeout
    def all_closed():
        for s in held:
            s.settimeout(0.01)
            try:
                if s.recv(1) != b"":
                    return False
            except socket.timeout:
                return False
            except OSError:
                pass
        return True
    deadline = time.time() + 8
    while time.time() < deadline and not all_closed():
        time.sleep(0.2)
    check(all_closed(), "stalled handshakes closed after ssl_handshake_timeout")
    for s in held:
        s.close()
    measured.close()
    # the server sees the floods' closes as it gets to them (a sanitized
    # one takes seconds), and may still be at its descriptor limit meanwhile,
    # refusing new connections in plain text: poll
    curr = None
    deadline = time.time() + (30 if SANITIZED else 10)
    while time.time() < deadline:
        try:
            curr = int(dict(stats(mp))["curr_connections"])
        except (ssl.SSLError, OSError):
            curr = None
        if curr is not None and curr < 10:
            break
        time.sleep(0.2)
    check(curr is not None and curr < 10, "connections back to %r" % curr)
    check(m.poll() is None, "mcd still running")
    stop(m)

    # a client that disconnects halfway through a large reply
    m, mp, _ = start(MCD, tls_args())
    c = client(mp)
    exchange(c, b"set big 0 0 500000\r\n" + b"b" * 500000 + b"\r\n", b"\r\n")
    for _ in range(20):
        s = client(mp)
        s.sendall(b"get big big big big\r\n")
        s.recv(1000)
        s.close()
    check(exchange(c, b"get hot\r\nversion\r\n", b"\r\n").startswith(b"END") and m.poll() is None,
          "clients leaving mid-reply cost only their connection")
    stop(m)


def main():
    if shutil.which("openssl") is None:
        print("SKIP: no openssl(1)")
        return 77
    p = subprocess.run([MCD, "-Z", "-V"], capture_output=True)
    if b"not built with TLS" in p.stderr:
        print("SKIP: mcd built without TLS")
        return 77
    make_certs()
    tests = [test_startup_errors, test_differential, test_settings_lines, test_notls_and_plain, test_auth_file_over_tls,
             test_pymemcache, test_verify_modes, test_refresh, test_hostile]
    only = os.environ.get("TLS_TEST")
    for t in tests:
        if only and only not in t.__name__:
            continue
        print("--", t.__name__)
        t0 = time.time()
        try:
            t()
        except Exception as e:  # a crash is a failure, not an abort
            import traceback
            traceback.print_exc()
            check(False, "%s raised %r" % (t.__name__, e))
        finally:
            for p in PROCS:
                stop(p)
            print("-- %s: %.1f s" % (t.__name__, time.time() - t0))
    return 1 if FAILS else 0


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        for p in PROCS:
            stop(p)
        if not os.environ.get("TLS_KEEP"):  # keep the servers' logs to look at
            shutil.rmtree(TMP, ignore_errors=True)
        else:
            print("logs in", TMP)
    sys.exit(rc)
