/*
 * test_flush_prefix.c - mcd's flush_prefix over the wire: its syntax, its
 * stats, and that every command of the text, meta and binary protocols
 * misses a key it flushed (an add stores), while other keys and keys
 * written afterwards stay. mcd-only: skipped against memcached, which
 * answers ERROR.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

static struct mcd_server *srv;
static struct mcd_conn *conn;

static void
setup(void)
{
    if (mcd_target_is_memcached())
        cr_skip_test("flush_prefix is an mcd extension");
    srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    conn = mcd_conn_open(srv);
    cr_assert_not_null(conn);
}

static void
teardown(void)
{
    if (conn != NULL)
        mcd_conn_close(conn);
    if (srv != NULL)
        mcd_stop(srv);
    conn = NULL;
    srv = NULL;
}

TestSuite(flush_prefix, .init = setup, .fini = teardown, .timeout = 30);

#define RT(req, reply) cr_expect(mcd_roundtrip(conn, req, reply), "%s", req)

/* sets key=5 for each of the keys */
static void
fill(struct mcd_conn *c, const char *const keys[], size_t n)
{
    char line[300];
    for (size_t i = 0; i < n; i++) {
        snprintf(line, sizeof(line), "set %s 0 0 1\r\n5\r\n", keys[i]);
        cr_assert(mcd_roundtrip(c, line, "STORED\r\n"), "%s", line);
    }
}

Test(flush_prefix, syntax)
{
    RT("flush_prefix\r\n", "CLIENT_ERROR bad command line format\r\n");
    RT("flush_prefix a b\r\n", "CLIENT_ERROR bad command line format\r\n");
    RT("flush_prefix a b noreply\r\n", "");
    RT("flush_prefix a noreply\r\nflush_prefix b\r\n", "OK\r\n");
    char line[300];
    memset(line, 0, sizeof(line));
    memcpy(line, "flush_prefix ", 13);
    memset(line + 13, 'k', 251);
    memcpy(line + 13 + 251, "\r\n", 2);
    RT(line, "CLIENT_ERROR bad command line format\r\n");
    line[13 + 250] = '\r';
    line[13 + 251] = '\n';
    line[13 + 252] = '\0';
    RT(line, "OK\r\n");
    RT("flush_prefixx a\r\n", "ERROR\r\n");
    RT("FLUSH_PREFIX a\r\n", "ERROR\r\n");
}

Test(flush_prefix, refused_under_F)
{
    static const char *const flags[] = {"-F", NULL};
    struct mcd_server *s = mcd_start(flags);
    cr_assert_not_null(s);
    struct mcd_conn *c = mcd_conn_open(s);
    cr_assert_not_null(c);
    cr_expect(mcd_roundtrip(c, "set a:1 0 0 1\r\nx\r\n", "STORED\r\n"));
    cr_expect(mcd_roundtrip(c, "flush_prefix a:\r\n", "CLIENT_ERROR flush_prefix not allowed\r\n"));
    cr_expect(mcd_roundtrip(c, "get a:1\r\n", "VALUE a:1 0 1\r\nx\r\nEND\r\n"));
    mcd_conn_close(c);
    mcd_stop(s);
}

Test(flush_prefix, text_commands)
{
    static const char *const keys[] = {"t:get", "t:gets", "t:gat", "t:gats", "t:incr", "t:decr", "t:touch",
                                       "t:append", "t:prepend", "t:cas", "t:replace", "t:add", "t:delete",
                                       "t:set", "other", "t"};
    fill(conn, keys, sizeof(keys) / sizeof(keys[0]));
    RT("gets t:cas\r\n", "VALUE t:cas 0 1 {cas}\r\n5\r\nEND\r\n");
    RT("flush_prefix t:\r\n", "OK\r\n");
    RT("get t:get\r\n", "END\r\n");
    RT("gets t:gets\r\n", "END\r\n");
    RT("gat 0 t:gat\r\n", "END\r\n");
    RT("gats 0 t:gats\r\n", "END\r\n");
    RT("incr t:incr 1\r\n", "NOT_FOUND\r\n");
    RT("decr t:decr 1\r\n", "NOT_FOUND\r\n");
    RT("touch t:touch 0\r\n", "NOT_FOUND\r\n");
    RT("append t:append 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    RT("prepend t:prepend 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    RT("cas t:cas 0 0 1 2\r\nx\r\n", "NOT_FOUND\r\n");
    RT("replace t:replace 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    RT("add t:add 0 0 1\r\nx\r\n", "STORED\r\n");
    RT("delete t:delete\r\n", "NOT_FOUND\r\n");
    RT("set t:set 0 0 1\r\nx\r\n", "STORED\r\n");
    RT("get t:add t:set other t\r\n",
       "VALUE t:add 0 1\r\nx\r\nVALUE t:set 0 1\r\nx\r\nVALUE other 0 1\r\n5\r\nVALUE t 0 1\r\n5\r\nEND\r\n");
    cr_expect_eq(mcd_stat_ll(conn, NULL, "cmd_flush_prefix"), 1);
    cr_expect_eq(mcd_stat_ll(conn, NULL, "prefix_live"), 1);
    cr_expect_geq(mcd_stat_ll(conn, NULL, "get_flushed"), 1);
}

Test(flush_prefix, meta_commands)
{
    static const char *const keys[] = {"m:mg", "m:ma", "m:md", "m:msa", "m:mse", "m:msr", "m:me", "m:mn"};
    fill(conn, keys, sizeof(keys) / sizeof(keys[0]));
    RT("ms m:own 1 E12345\r\nx\r\n", "HD\r\n");
    RT("flush_prefix m:\r\n", "OK\r\n");
    RT("mg m:mg v\r\n", "EN\r\n");
    RT("mg m:own v\r\n", "EN\r\n");
    RT("ma m:ma\r\n", "NF\r\n");
    RT("md m:md\r\n", "NF\r\n");
    RT("ms m:msa 1 MA\r\nx\r\n", "NS\r\n");
    RT("ms m:msr 1 MR\r\nx\r\n", "NS\r\n");
    RT("ms m:mse 1 ME\r\nx\r\n", "HD\r\n");
    RT("me m:me\r\n", "EN\r\n");
    RT("mg m:mn v N30\r\n", "VA 0 W\r\n\r\n"); /* vivified: a miss */
    RT("mg m:mse v\r\n", "VA 1\r\nx\r\n");
}

/* the binary protocol: a 24-byte header, extras, key, value */
static void
bin_send(struct mcd_conn *c, uint8_t op, const void *ext, uint8_t extlen, const char *key, const char *val)
{
    uint8_t pkt[512] = {0};
    size_t nkey = strlen(key), nval = val != NULL ? strlen(val) : 0;
    uint32_t body = (uint32_t)(extlen + nkey + nval);
    pkt[0] = 0x80;
    pkt[1] = op;
    pkt[2] = (uint8_t)(nkey >> 8);
    pkt[3] = (uint8_t)nkey;
    pkt[4] = extlen;
    pkt[8] = (uint8_t)(body >> 24);
    pkt[9] = (uint8_t)(body >> 16);
    pkt[10] = (uint8_t)(body >> 8);
    pkt[11] = (uint8_t)body;
    if (extlen > 0) /* memcpy() may not be handed NULL, even for 0 bytes (UBSan) */
        memcpy(pkt + 24, ext, extlen);
    if (nkey > 0)
        memcpy(pkt + 24 + extlen, key, nkey);
    if (nval > 0)
        memcpy(pkt + 24 + extlen + nkey, val, nval);
    cr_assert(mcd_send(c, pkt, 24 + body));
}

/* The status of the next response (its body is skipped). */
static int
bin_status(struct mcd_conn *c)
{
    while (c->len < 24)
        if (mcd_fill(c, 5000) <= 0)
            return -1;
    const uint8_t *h = (const uint8_t *)c->buf;
    uint32_t body = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
    int st = h[6] << 8 | h[7];
    while (c->len < 24 + body)
        if (mcd_fill(c, 5000) <= 0)
            return -1;
    mcd_consume(c, 24 + body);
    return st;
}

#define ENOENT 0x01
#define NOT_STORED 0x05

Test(flush_prefix, binary_commands)
{
    static const char *const keys[] = {"b:get", "b:incr", "b:touch", "b:gat", "b:delete", "b:replace", "b:append",
                                       "b:add", "b:cas"};
    fill(conn, keys, sizeof(keys) / sizeof(keys[0]));
    RT("flush_prefix b:\r\n", "OK\r\n");
    struct mcd_conn *b = mcd_conn_open(srv);
    cr_assert_not_null(b);
    static const uint8_t set_ext[8] = {0};
    static const uint8_t arith_ext[20] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t touch_ext[4] = {0};
    bin_send(b, 0x00, NULL, 0, "b:get", NULL);
    cr_expect_eq(bin_status(b), ENOENT, "get");
    bin_send(b, 0x05, arith_ext, 20, "b:incr", NULL);
    cr_expect_eq(bin_status(b), ENOENT, "incr");
    bin_send(b, 0x1c, touch_ext, 4, "b:touch", NULL);
    cr_expect_eq(bin_status(b), ENOENT, "touch");
    bin_send(b, 0x1d, touch_ext, 4, "b:gat", NULL);
    cr_expect_eq(bin_status(b), ENOENT, "gat");
    bin_send(b, 0x04, NULL, 0, "b:delete", NULL);
    cr_expect_eq(bin_status(b), ENOENT, "delete");
    bin_send(b, 0x03, set_ext, 8, "b:replace", "x");
    cr_expect_eq(bin_status(b), ENOENT, "replace");
    bin_send(b, 0x0e, NULL, 0, "b:append", "x");
    cr_expect_eq(bin_status(b), NOT_STORED, "append");
    bin_send(b, 0x02, set_ext, 8, "b:add", "x");
    cr_expect_eq(bin_status(b), 0, "add");
    bin_send(b, 0x00, NULL, 0, "b:add", NULL);
    cr_expect_eq(bin_status(b), 0, "get after add");
    mcd_conn_close(b);
}

/* writers keep setting fresh keys under the prefix on their own
 * connections while another flushes it: a key stored before a flush was
 * sent is gone once it answered OK, a key stored after that is there */
#define WRITERS 3
struct writer {
    int id;
    _Atomic int done;   /* keys w:<id>:0 .. done-1 are stored */
    _Atomic bool stop;
    bool failed;
};

static void *
write_keys(void *arg)
{
    struct writer *w = arg;
    struct mcd_conn *c = mcd_conn_open(srv);
    if (c == NULL) {
        w->failed = true;
        return NULL;
    }
    char line[64];
    for (int i = 0; !atomic_load(&w->stop) && i < 1000000; i++) {
        snprintf(line, sizeof(line), "set w:%d:%d 0 0 1\r\nv\r\n", w->id, i);
        if (!mcd_roundtrip(c, line, "STORED\r\n")) {
            w->failed = true;
            break;
        }
        atomic_store(&w->done, i + 1);
    }
    mcd_conn_close(c);
    return NULL;
}

static bool
present(int id, int i)
{
    char line[64];
    snprintf(line, sizeof(line), "mg w:%d:%d\r\n", id, i);
    mcd_sendstr(conn, line);
    char *reply = mcd_read_line(conn);
    bool hit = reply != NULL && strcmp(reply, "HD") == 0;
    cr_assert(reply != NULL && (hit || strcmp(reply, "EN") == 0), "mg: %s", reply ? reply : "(none)");
    free(reply);
    return hit;
}

Test(flush_prefix, writers_during_flush, .timeout = 60)
{
    static struct writer w[WRITERS];
    pthread_t th[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.id = i};
        cr_assert_eq(pthread_create(&th[i], NULL, write_keys, &w[i]), 0);
    }
    for (int round = 0; round < 30; round++) {
        int before[WRITERS], after[WRITERS];
        for (int i = 0; i < WRITERS; i++)
            before[i] = atomic_load(&w[i].done);
        cr_assert(mcd_roundtrip(conn, "flush_prefix w:\r\n", "OK\r\n"));
        for (int i = 0; i < WRITERS; i++)
            after[i] = atomic_load(&w[i].done);
        for (int i = 0; i < WRITERS; i++) {
            if (before[i] > 0)
                cr_expect(!present(i, before[i] - 1), "round %d: w:%d:%d stored before the flush", round, i,
                          before[i] - 1);
            long long deadline = mcd_now_ms() + 10000;
            while (atomic_load(&w[i].done) < after[i] + 2 && !w[i].failed) {
                cr_assert_lt(mcd_now_ms(), deadline);
                mcd_poll_pause();
            }
            int k = atomic_load(&w[i].done) - 1;
            cr_expect(present(i, k), "round %d: w:%d:%d stored after the flush", round, i, k);
        }
    }
    for (int i = 0; i < WRITERS; i++) {
        atomic_store(&w[i].stop, true);
        pthread_join(th[i], NULL);
        cr_expect(!w[i].failed, "writer %d", i);
    }
}
