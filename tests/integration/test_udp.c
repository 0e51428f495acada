/*
 * test_udp.c - the UDP transport (-U): the same request datagrams sent to
 * memcached 1.6.45 (the oracle) and to mcd, their reply datagrams compared
 * byte for byte (header and payload: the request id echoed, the sequence
 * numbers and the count); a 100 KB value reassembled in order; what mcd
 * answers with one message where 1.6.45 sends several; frames that are
 * dropped; the stats memcached keeps for UDP; UDP off by default.
 *
 * Both servers run with -t 1: 1.6.45 keeps a parse state per thread's UDP
 * connection, so with one thread its replies do not depend on which thread
 * the kernel woke. Floods of bad datagrams are in test_udp_hostile.c.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/udpc.h"

#define FIRST_MS 2000      /* a reply that is due */
#define NONE_MS 200        /* how long "no reply" is waited for */
#define QUIET_MS 40        /* after the last datagram: nothing more comes */

static const char *const one_thread[] = {"-t", "1", NULL};

struct side {
    struct mcd_server *srv;
    int port;
    int fd;
};

static void side_start(struct side *s, const char *bin, const char *const extra[])
{
    s->srv = udpc_start(bin, extra, &s->port);
    cr_assert_not_null(s->srv, "cannot start %s with -U", bin ? bin : "mcd");
    s->fd = udpc_open();
    cr_assert(s->fd >= 0);
}

static void side_stop(struct side *s)
{
    if (s->fd >= 0)
        close(s->fd);
    mcd_kill(s->srv);
}

/* One request datagram, its reply datagrams. */
static size_t ask(struct side *s, uint16_t rid, uint16_t seq, uint16_t total, uint16_t res, const void *p,
                  size_t n, int first_ms, struct udpc_reply *r)
{
    cr_assert(udpc_send(s->fd, s->port, rid, seq, total, res, p, n));
    return udpc_collect(s->fd, rid, first_ms, QUIET_MS, r);
}

static void need_oracle(void)
{
    if (mcd_target_is_memcached() || mcd_oracle_bin() == NULL)
        cr_skip_test("needs mcd and the memcached oracle");
}

/* A binary request packet (magic 0x80), opaque 0x0a0b0c0d, into buf. */
static size_t bin_req(char *buf, unsigned op, const char *key, const char *extra, size_t nextra, const char *val)
{
    size_t nkey = key ? strlen(key) : 0, nval = val ? strlen(val) : 0;
    size_t body = nkey + nextra + nval;
    unsigned char h[24] = {0x80, (unsigned char)op, (unsigned char)(nkey >> 8), (unsigned char)nkey,
                           (unsigned char)nextra, 0, 0, 0,
                           (unsigned char)(body >> 24), (unsigned char)(body >> 16), (unsigned char)(body >> 8),
                           (unsigned char)body, 0x0a, 0x0b, 0x0c, 0x0d};
    memcpy(buf, h, 24);
    if (nextra > 0) /* memcpy() may not be handed NULL, even for 0 bytes (UBSan) */
        memcpy(buf + 24, extra, nextra);
    if (nkey > 0)
        memcpy(buf + 24 + nextra, key, nkey);
    if (nval > 0)
        memcpy(buf + 24 + nextra + nkey, val, nval);
    return 24 + body;
}

struct ucase {
    const char *what;
    const char *payload;
    size_t len;                    /* 0: strlen(payload) */
    uint16_t seq, total, reserved;
    bool silent;                   /* no reply expected */
};

#define T(what, p) {what, p, 0, 0, 1, 0, false}
#define SILENT(what, p, seq, total, res) {what, p, 0, seq, total, res, true}

/* Sends the case to both and compares every reply datagram. */
static void same_datagrams(struct side *mine, struct side *theirs, const struct ucase *c, uint16_t rid)
{
    size_t n = c->len ? c->len : strlen(c->payload);
    struct udpc_reply a, b;
    int wait = c->silent ? NONE_MS : FIRST_MS;
    ask(mine, rid, c->seq, c->total, c->reserved, c->payload, n, wait, &a);
    ask(theirs, rid, c->seq, c->total, c->reserved, c->payload, n, wait, &b);
    cr_expect_eq(a.n, b.n, "%s: mcd sent %zu datagrams, memcached %zu", c->what, a.n, b.n);
    if (c->silent)
        cr_expect_eq(a.n, 0, "%s: mcd answered a datagram it must drop", c->what);
    else
        cr_expect_gt(a.n, 0, "%s: no reply", c->what);
    for (size_t i = 0; i < a.n && i < b.n; i++) {
        bool same = a.len[i] == b.len[i] && memcmp(a.dgram[i], b.dgram[i], a.len[i]) == 0;
        if (!same) {
            char *x = mcd_escape(a.dgram[i], a.len[i]), *y = mcd_escape(b.dgram[i], b.len[i]);
            cr_expect(same, "%s: datagram %zu differs:\n  mcd:       %s\n  memcached: %s", c->what, i, x, y);
            free(x);
            free(y);
        }
    }
    udpc_reply_free(&a);
    udpc_reply_free(&b);
}

Test(udp, same_datagrams_as_memcached)
{
    need_oracle();
    struct side mine, theirs;
    side_start(&mine, NULL, one_thread);
    side_start(&theirs, mcd_oracle_bin(), one_thread);

    char bget[64], bset[64], bnoop[32], bver[32], bmiss[64];
    size_t nbget = bin_req(bget, 0x00, "a", NULL, 0, NULL);
    size_t nbset = bin_req(bset, 0x01, "bk", "\0\0\0\x07\0\0\0\0", 8, "bval");
    size_t nbnoop = bin_req(bnoop, 0x0a, NULL, NULL, 0, NULL);
    size_t nbver = bin_req(bver, 0x0b, NULL, NULL, 0, NULL);
    size_t nbmiss = bin_req(bmiss, 0x00, "nope", NULL, 0, NULL);

    const struct ucase cases[] = {
        T("version", "version\r\n"),
        T("set", "set a 0 0 1\r\nx\r\n"),
        T("get hit", "get a\r\n"),
        T("get miss", "get zz\r\n"),
        T("add exists", "add a 0 0 1\r\ny\r\n"),
        T("set n", "set n 5 0 1\r\n5\r\n"),
        T("incr", "incr n 37\r\n"),
        T("decr", "decr n 2\r\n"),
        T("touch", "touch n 100\r\n"),
        T("append", "append a 0 0 2\r\nyz\r\n"),
        T("get appended", "get a\r\n"),
        T("delete", "delete n\r\n"),
        T("delete miss", "delete n\r\n"),
        T("unknown command", "bogus\r\n"),
        T("empty line", "\r\n"),
        T("bad data chunk", "set a 0 0 2\r\nxxyy"),
        T("sequence number ignored", "get a\r\n"),
        {"reserved bytes ignored", "get a\r\n", 0, 0, 1, 0x1234, false},
        {"sequence 7", "version\r\n", 0, 7, 1, 0, false},
        T("meta mn", "mn\r\n"),
        T("meta ms", "ms m 2 T0\r\nhi\r\n"),
        T("meta mg", "mg m v f t\r\n"),
        T("meta md", "md m q\r\nmn\r\n"),
        {"binary noop", bnoop, nbnoop, 0, 1, 0, false},
        {"binary version", bver, nbver, 0, 1, 0, false},
        {"binary get", bget, nbget, 0, 1, 0, false},
        {"binary get miss", bmiss, nbmiss, 0, 1, 0, false},
        {"binary set", bset, nbset, 0, 1, 0, false},
        T("text get of the binary set", "get bk\r\n"),
        SILENT("noreply set", "set q 0 0 1 noreply\r\nq\r\n", 0, 1, 0),
        T("get after noreply", "get q\r\n"),
        SILENT("count 0", "version\r\n", 0, 0, 0),
        SILENT("count 2", "version\r\n", 0, 2, 0),
        SILENT("count 2, second", "version\r\n", 1, 2, 0),
        SILENT("header only", "", 0, 1, 0),
        SILENT("line with no end", "get a", 0, 1, 0),
    };
    uint16_t rid = 100;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        same_datagrams(&mine, &theirs, &cases[i], rid++);

    /* shorter than a frame header: dropped by both */
    struct udpc_reply r;
    const char shortd[] = "\x00\x01\x00";
    cr_assert(udpc_send_raw(mine.fd, mine.port, shortd, 3));
    cr_expect_eq(udpc_collect(mine.fd, 1, NONE_MS, QUIET_MS, &r), 0);
    udpc_reply_free(&r);
    cr_assert(udpc_send_raw(theirs.fd, theirs.port, shortd, 3));
    cr_expect_eq(udpc_collect(theirs.fd, 1, NONE_MS, QUIET_MS, &r), 0);
    udpc_reply_free(&r);

    /* A 100 KB value, stored over TCP: 72 datagrams of 1400 bytes but the
     * last, the same on both. */
    char *block = mcd_data_block(100000, 'v');
    const struct side *both[] = {&mine, &theirs};
    for (int i = 0; i < 2; i++) {
        struct mcd_conn *c = mcd_conn_open(both[i]->srv);
        cr_assert_not_null(c);
        cr_assert(mcd_sendstr(c, "set big 3 0 100000\r\n") && mcd_send(c, block, 100002));
        cr_assert(mcd_expectstr(c, "STORED\r\n"));
        mcd_conn_close(c);
    }
    free(block);
    const struct ucase big = T("get 100 KB", "get big\r\n");
    same_datagrams(&mine, &theirs, &big, 0xbeef);
    /* last: this one leaves 1.6.45's connection waiting for the value */
    const struct ucase cut = SILENT("value cut short", "set t 0 0 10\r\nxx\r\n", 0, 1, 0);
    same_datagrams(&mine, &theirs, &cut, 0xbef0);

    side_stop(&mine);
    side_stop(&theirs);
}

/* A value larger than any datagram: 1.6.45's UDP connection waits for it
 * forever and takes every later datagram of that thread as its bytes (one
 * datagram stops its UDP service); a value cut short likewise eats the next
 * datagram. Each mcd datagram stands alone. */
Test(udp, value_beyond_the_datagram_is_dropped)
{
    struct side mine;
    side_start(&mine, NULL, one_thread);
    struct udpc_reply r;
    cr_expect_eq(ask(&mine, 1, 0, 1, 0, "set a 0 0 70000\r\n", 17, NONE_MS, &r), 0);
    udpc_reply_free(&r);
    cr_assert_eq(ask(&mine, 2, 0, 1, 0, "version\r\n", 9, FIRST_MS, &r), 1);
    cr_expect_eq(r.len[0], 8 + strlen("VERSION 1.6.45\r\n"));
    udpc_reply_free(&r);
    /* a value cut short, then the next datagram is a request of its own */
    cr_expect_eq(ask(&mine, 3, 0, 1, 0, "set t 0 0 10\r\nxx\r\n", 18, NONE_MS, &r), 0);
    udpc_reply_free(&r);
    cr_assert_eq(ask(&mine, 4, 0, 1, 0, "get t\r\n", 7, FIRST_MS, &r), 1);
    cr_expect(r.len[0] == 13 && memcmp(r.dgram[0] + 8, "END\r\n", 5) == 0);
    udpc_reply_free(&r);
    side_stop(&mine);
}

/* Every request of one datagram is answered as one message (protocol.txt:
 * the response to a request id, sequence 0..n-1 of n) whose payload is
 * what TCP answers for the same bytes. 1.6.45 sends the same bytes, but as
 * several messages that all reuse the id with sequence 0 (one per key of a
 * get, per command), plus empty 8-byte datagrams of count 0 for misses. */
Test(udp, one_message_per_datagram)
{
    struct side mine;
    side_start(&mine, NULL, one_thread);
    struct mcd_conn *c = mcd_conn_open(mine.srv);
    cr_assert_not_null(c);
    cr_assert(mcd_roundtrip(c, "set a 0 0 1\r\nx\r\n", "STORED\r\n"));
    cr_assert(mcd_roundtrip(c, "set b 1 0 2\r\nyy\r\n", "STORED\r\n"));

    static const char *const reqs[] = {
        "get a zz b a\r\n",
        "get a\r\nmn\r\nversion\r\n",
        "get zz zz\r\n",
        "mg a v\r\nmg zz v\r\nmg b v k\r\nmn\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        struct udpc_reply r;
        ask(&mine, 0x4000 + (uint16_t)i, 0, 1, 0, reqs[i], strlen(reqs[i]), FIRST_MS, &r);
        char *payload = NULL;
        size_t len = 0;
        cr_expect(udpc_message(&r, &payload, &len), "%s: not one message (%zu datagrams)", reqs[i], r.n);
        cr_assert(mcd_sendstr(c, reqs[i]));
        size_t tlen = 0;
        char *tcp = mcd_read_until(c, i == 3 ? "MN\r\n" : i == 1 ? "VERSION 1.6.45\r\n" : "END\r\n", &tlen);
        cr_assert_not_null(tcp);
        cr_expect(payload != NULL && len == tlen && memcmp(payload, tcp, len) == 0,
                  "%s: UDP payload differs from the TCP reply", reqs[i]);
        free(payload);
        free(tcp);
        udpc_reply_free(&r);
    }
    mcd_conn_close(c);
    side_stop(&mine);
}

/* A 100 KB value comes back as one message of 72 datagrams in order, which
 * joined are the TCP reply; a 1 MB value (-I 2m) as 754. */
Test(udp, large_value_reassembled)
{
    static const char *const flags[] = {"-t", "2", "-I", "2m", NULL};
    struct side mine;
    side_start(&mine, NULL, flags);
    struct mcd_conn *c = mcd_conn_open(mine.srv);
    cr_assert_not_null(c);
    static const size_t sizes[] = {100000, 1048576};
    for (size_t k = 0; k < 2; k++) {
        size_t size = sizes[k];
        char hdr[64];
        char *block = mcd_data_block(size, (char)('a' + k));
        snprintf(hdr, sizeof(hdr), "set v%zu 0 0 %zu\r\n", k, size);
        cr_assert(mcd_sendstr(c, hdr) && mcd_send(c, block, size + 2));
        cr_assert(mcd_expectstr(c, "STORED\r\n"));
        snprintf(hdr, sizeof(hdr), "get v%zu\r\n", k);
        cr_assert(mcd_sendstr(c, hdr));
        size_t tlen;
        char *tcp = mcd_read_until(c, "END\r\n", &tlen);
        cr_assert_not_null(tcp);

        struct udpc_reply r;
        ask(&mine, (uint16_t)(0x7000 + k), 0, 1, 0, hdr, strlen(hdr), FIRST_MS, &r);
        size_t want = (tlen + 1391) / 1392;
        cr_expect_eq(r.n, want, "%zu bytes: %zu datagrams, want %zu", tlen, r.n, want);
        char *payload = NULL;
        size_t len = 0;
        cr_expect(udpc_message(&r, &payload, &len), "%zu bytes: not one message in order", size);
        for (size_t i = 0; i + 1 < r.n; i++)
            cr_expect_eq(r.len[i], 1400, "datagram %zu is %zu bytes", i, r.len[i]);
        cr_expect(payload != NULL && len == tlen && memcmp(payload, tcp, len) == 0);
        free(payload);
        free(tcp);
        free(block);
        udpc_reply_free(&r);
    }
    mcd_conn_close(c);
    side_stop(&mine);
}

static long long stat_of(const char *stats, const char *name)
{
    char v[64];
    return mcd_stat_find(stats, name, v, sizeof(v)) ? atoll(v) : -1;
}

/* curr_connections once it is `want`, or what it is after 3 s. */
static long long curr_connections(struct mcd_conn *c, long long want)
{
    long long v = -1;
    for (long long deadline = mcd_now_ms() + 3000; mcd_now_ms() < deadline; mcd_poll_pause()) {
        v = mcd_stat_ll(c, NULL, "curr_connections");
        if (v == want)
            break;
    }
    return v;
}

/* memcached counts a UDP connection per thread (curr_connections,
 * connection_structures), lists them in `stats conns`, and prints -U in
 * `stats settings`. */
Test(udp, stats)
{
    need_oracle();
    static const char *const flags[] = {"-t", "3", NULL};
    struct side mine, theirs;
    side_start(&mine, NULL, flags);
    side_start(&theirs, mcd_oracle_bin(), flags);
    struct mcd_conn *a = mcd_conn_open(mine.srv), *b = mcd_conn_open(theirs.srv);
    cr_assert(a != NULL && b != NULL);
    /* a UDP connection per thread, and this client (the harness's
     * readiness probe may take a moment to be counted out) */
    cr_expect_eq(curr_connections(a, 4), 4, "mcd");
    cr_expect_eq(curr_connections(b, 4), 4, "memcached");
    char *sa = mcd_stats(a, "settings");
    cr_assert_not_null(sa);
    cr_expect_eq(stat_of(sa, "udpport"), mine.port);
    cr_expect_eq(stat_of(sa, "num_threads_per_udp"), 3);
    free(sa);
    sa = mcd_stats(a, "conns");
    cr_assert_not_null(sa);
    char want[64];
    snprintf(want, sizeof(want), ":addr udp:127.0.0.1:%d\r\n", mine.port);
    size_t udp_lines = 0, addr_lines = 0;
    for (const char *p = sa; (p = strstr(p, ":UDP UDP\r\n")) != NULL; p++)
        udp_lines++;
    for (const char *p = sa; (p = strstr(p, want)) != NULL; p++)
        addr_lines++;
    cr_expect_eq(udp_lines, 3, "stats conns lists %zu UDP connections, want one per thread", udp_lines);
    cr_expect_eq(addr_lines, 3);
    free(sa);
    /* stats over UDP is one message too */
    struct udpc_reply r;
    ask(&mine, 9, 0, 1, 0, "stats\r\n", 7, FIRST_MS, &r);
    char *payload = NULL;
    size_t len = 0;
    cr_expect(udpc_message(&r, &payload, &len) && len > 5 && memcmp(payload + len - 5, "END\r\n", 5) == 0);
    free(payload);
    udpc_reply_free(&r);
    mcd_conn_close(a);
    mcd_conn_close(b);
    side_stop(&mine);
    side_stop(&theirs);
}

/* Off unless -U is given (memcached's default since 1.5.6). */
Test(udp, off_by_default)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    int fd = udpc_open();
    cr_assert(fd >= 0);
    struct udpc_reply r;
    cr_assert(udpc_send(fd, srv->port, 1, 0, 1, 0, "version\r\n", 9));
    cr_expect_eq(udpc_collect(fd, 1, NONE_MS, QUIET_MS, &r), 0);
    udpc_reply_free(&r);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    char *st = mcd_stats(c, "settings");
    cr_assert_not_null(st);
    cr_expect_eq(stat_of(st, "udpport"), 0);
    free(st);
    mcd_conn_close(c);
    close(fd);
    mcd_stop(srv);
}

/* Over UDP 1.6.45 reads each datagram as text or binary by its first byte,
 * whatever -B says; so does mcd. */
Test(udp, protocol_of_each_datagram_whatever_B)
{
    need_oracle();
    static const char *const flags[] = {"-t", "1", "-B", "ascii", NULL};
    struct side mine, theirs;
    side_start(&mine, NULL, flags);
    side_start(&theirs, mcd_oracle_bin(), flags);
    char bnoop[32], bver[32];
    size_t nbnoop = bin_req(bnoop, 0x0a, NULL, NULL, 0, NULL);
    size_t nbver = bin_req(bver, 0x0b, NULL, NULL, 0, NULL);
    const struct ucase cases[] = {
        T("text version", "version\r\n"),
        {"binary noop under -B ascii", bnoop, nbnoop, 0, 1, 0, false},
        {"binary version under -B ascii", bver, nbver, 0, 1, 0, false},
        T("text again", "version\r\n"),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        same_datagrams(&mine, &theirs, &cases[i], (uint16_t)(200 + i));
    side_stop(&mine);
    side_stop(&theirs);
}

/* A UDP port another server holds is refused, as memcached refuses it,
 * even though mcd's own sockets share theirs with SO_REUSEPORT: a second
 * mcd on the same -U must not split the first one's datagrams. */
Test(udp, port_in_use_refused)
{
    struct side first;
    side_start(&first, NULL, one_thread);
    char port[16];
    snprintf(port, sizeof(port), "%d", first.port);
    const char *const flags[] = {"-U", port, NULL};
    struct mcd_server *second = mcd_start(flags);
    cr_expect_null(second, "a second server took UDP port %s", port);
    mcd_kill(second);
    struct udpc_reply r;
    cr_expect_eq(ask(&first, 5, 0, 1, 0, "version\r\n", 9, FIRST_MS, &r), 1);
    udpc_reply_free(&r);
    side_stop(&first);
}

/* -p 0 -U PORT: a UDP-only server, as memcached runs it. */
Test(udp, udp_only_with_p_0)
{
    int port = udpc_free_port();
    cr_assert(port > 0);
    char uport[16];
    snprintf(uport, sizeof(uport), "%d", port);
    char *argv[] = {(char *)mcd_bin(), "-l", "127.0.0.1", "-p", "0", "-U", uport, "-u", "root", NULL};
    if (geteuid() != 0)
        argv[7] = NULL;   /* -u only as root */
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, mcd_bin(), NULL, NULL, argv, NULL), 0);
    int fd = udpc_open();
    cr_assert(fd >= 0);
    size_t got = 0;
    struct udpc_reply r;
    for (long long deadline = mcd_now_ms() + 10000; got == 0 && mcd_now_ms() < deadline;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = 0;
            break;
        }
        udpc_send(fd, port, 3, 0, 1, 0, "version\r\n", 9);
        got = udpc_collect(fd, 3, 100, QUIET_MS, &r);
        if (got > 0)
            cr_expect(r.len[0] == 24 && memcmp(r.dgram[0] + 8, "VERSION ", 8) == 0);
        udpc_reply_free(&r);
    }
    cr_expect_neq(pid, 0, "mcd -p 0 -U %d exited", port);
    cr_expect_eq(got, 1, "no UDP reply from mcd -p 0 -U %d", port);
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    close(fd);
}
