/*
 * test_process.c - the command layer (server/process.c, process_meta.c) on
 * plain buffers, through a session or a bare request_ctx: the classic text
 * commands, the binary opcodes, meta commands, noreply and quiet silence,
 * a get of many keys resumed (PROCESS_MORE) under a tiny out_cap, a reply
 * that cannot be buffered (malloc made to fail), and the counters `stats`
 * sums. The expected bytes were recorded from memcached 1.6.45.
 *
 * Linked with -Wl,--wrap=malloc,--wrap=realloc (tests/unit/server.am) so
 * that a test can make allocations fail.
 */
#include "config.h"

#include <criterion/criterion.h>

#include "fixture.h"

#include "proto/text.h"

#include <stdio.h>

/* Allocation failure on demand (see the file comment). */
static bool fail_allocs;
void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
    return fail_allocs ? NULL : __real_malloc(n);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_allocs ? NULL : __real_realloc(p, n);
}

TestSuite(process, .init = fx_start, .fini = fx_stop);

/* One text exchange on a fresh text session, compared with its bytes. */
static void expect_text(const char *in, const char *want)
{
    char *got = fx_text(in);
    cr_expect_str_eq(got, want, "for %s", in);
    free(got);
}

Test(process, text_storage_and_retrieval)
{
    expect_text("set a 5 0 3\r\nabc\r\nget a\r\ngets a\r\n",
                "STORED\r\nVALUE a 5 3\r\nabc\r\nEND\r\nVALUE a 5 3 2\r\nabc\r\nEND\r\n");
    expect_text("add a 0 0 1 noreply\r\nz\r\nappend a 0 0 1\r\nd\r\nprepend a 0 0 1\r\ne\r\nget a\r\n",
                "STORED\r\nSTORED\r\nVALUE a 5 5\r\neabcd\r\nEND\r\n");
    expect_text("replace nope 0 0 1\r\nx\r\nadd a 0 0 1\r\nx\r\n", "NOT_STORED\r\nNOT_STORED\r\n");
    expect_text("get a b c\r\n", "VALUE a 5 5\r\neabcd\r\nEND\r\n");
}

Test(process, text_cas_gat_arith)
{
    expect_text("get a b c\r\ngets a\r\ncas a 0 0 1 99\r\nx\r\nset a 1 0 1\r\nx\r\ngets a\r\ncas a 0 0 1 2\r\ny\r\n"
                "cas q 0 0 1 2\r\ny\r\ngat 100 a\r\ngats 100 a zz\r\nincr a 1\r\ndecr zz 1\r\nstats nope\r\n",
                "END\r\nEND\r\nNOT_FOUND\r\nSTORED\r\nVALUE a 1 1 3\r\nx\r\nEND\r\nEXISTS\r\nNOT_FOUND\r\n"
                "VALUE a 1 1\r\nx\r\nEND\r\nVALUE a 1 1 3\r\nx\r\nEND\r\n"
                "CLIENT_ERROR cannot increment or decrement non-numeric value\r\nNOT_FOUND\r\nERROR\r\n");
    expect_text("incr n 1\r\nset n 0 0 1\r\n5\r\nincr n 10\r\ndecr n 100\r\ntouch n 10\r\ndelete n\r\ndelete n\r\n",
                "NOT_FOUND\r\nSTORED\r\n15\r\n0\r\nTOUCHED\r\nDELETED\r\nNOT_FOUND\r\n");
}

Test(process, text_misc_commands)
{
    expect_text("verbosity 1\r\nversion\r\nflush_all\r\nget n\r\nbogus\r\n",
                "OK\r\nVERSION 1.6.45\r\nOK\r\nEND\r\nERROR\r\n");
    expect_text("shutdown\r\nshutdown graceful\r\n",
                "SERVER_ERROR: shutdown not enabled\r\nSERVER_ERROR: shutdown not enabled\r\n");
    expect_text("stats detail on\r\nstats detail dump\r\nstats detail\r\n",
                "OK\r\nEND\r\nCLIENT_ERROR usage: stats detail on|off|dump\r\n");
    char *st = fx_text("stats\r\n");
    cr_expect(strncmp(st, "STAT pid ", 9) == 0, "%s", st);
    cr_expect(strstr(st, "STAT version 1.6.45\r\n") != NULL);
    size_t n = strlen(st);
    cr_expect(n > 5 && strcmp(st + n - 5, "END\r\n") == 0);
    free(st);
}

Test(process, text_noreply_is_silent)
{
    expect_text("set a 0 0 1 noreply\r\n1\r\nadd a 0 0 1 noreply\r\n2\r\nincr a 5 noreply\r\n"
                "delete zz noreply\r\ntouch a 0 noreply\r\nflush_all noreply\r\nverbosity 1 noreply\r\n"
                "bogus noreply\r\nget a\r\n",
                "END\r\n");
}

Test(process, text_quit_closes)
{
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_ASCII);
    const char in[] = "version\r\nquit\r\nversion\r\n";
    cr_expect_eq(fx_feed(&s, in, sizeof(in) - 1, &b), SESSION_CLOSE);
    cr_expect_str_eq(b.p, "VERSION 1.6.45\r\n");
    free(b.p);
    session_deinit(&s);
}

Test(process, text_shutdown_results)
{
    fx_stop();
    fx_start_with("-A");
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_ASCII);
    cr_expect_eq(fx_feed(&s, "shutdown graceful\r\n", 19, &b), SESSION_GRACEFUL);
    session_deinit(&s);
    fx_session(&s, PROTO_ASCII);
    cr_expect_eq(fx_feed(&s, "shutdown\r\n", 10, &b), SESSION_SHUTDOWN);
    cr_expect_eq(b.len, 0);
    session_deinit(&s);
}

Test(process, meta_commands)
{
    /* (`me` is left out: its size= differs, the store's item header is smaller) */
    expect_text("ms mk 3 T0 F7\r\nabc\r\nmg mk v f s k\r\nmg miss v\r\nmg miss v q\r\nmn\r\nma cnt N0 J5\r\n"
                "ma cnt D3 v\r\nmd mk q\r\nmd mk\r\nmg mk v\r\nms mk 2 I\r\nzz\r\nms bad S\r\nmz\r\n",
                "HD\r\nVA 3 f7 s3 kmk\r\nabc\r\nEN\r\nMN\r\nHD\r\nVA 1\r\n8\r\nNF\r\nEN\r\nHD\r\n"
                "CLIENT_ERROR bad command line format\r\nERROR\r\n");
}

/* A binary response: header fields, and where its body starts. */
struct bin_res {
    uint8_t opcode;
    uint16_t keylen, status;
    uint8_t extlen;
    uint32_t bodylen, opaque;
    uint64_t cas;
    const char *body;
};

/* Reads the response at *pos of r (len bytes); false at the end. */
static bool next_res(const char *r, size_t len, size_t *pos, struct bin_res *res)
{
    if (*pos == len)
        return false;
    cr_assert_geq(len - *pos, 24);
    const char *h = r + *pos;
    cr_assert_eq((uint8_t)h[0], 0x81);
    res->opcode = (uint8_t)h[1];
    res->keylen = fx_be16(h + 2);
    res->extlen = (uint8_t)h[4];
    res->status = fx_be16(h + 6);
    res->bodylen = fx_be32(h + 8);
    res->opaque = fx_be32(h + 12);
    res->cas = fx_be64(h + 16);
    res->body = h + 24;
    cr_assert_geq(len - *pos - 24, res->bodylen);
    *pos += 24 + res->bodylen;
    return true;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

enum {
    OP_GET = 0x00, OP_SET = 0x01, OP_ADD = 0x02, OP_REPLACE = 0x03, OP_DELETE = 0x04, OP_INCR = 0x05,
    OP_DECR = 0x06, OP_QUIT = 0x07, OP_FLUSH = 0x08, OP_GETQ = 0x09, OP_NOOP = 0x0a, OP_VERSION = 0x0b,
    OP_GETK = 0x0c, OP_APPEND = 0x0e, OP_STAT = 0x10, OP_SETQ = 0x11, OP_APPENDQ = 0x19, OP_TOUCH = 0x1c,
    OP_GAT = 0x1d,
};

Test(process, binary_opcodes)
{
    uint8_t in[2048], ext[20];
    size_t n = 0;
    put32(ext, 7);  /* flags */
    put32(ext + 4, 0);
    n += fx_bin(in + n, OP_SET, ext, 8, "k", "val", 3, 1, 0);
    n += fx_bin(in + n, OP_GET, NULL, 0, "k", NULL, 0, 2, 0);
    n += fx_bin(in + n, OP_GETK, NULL, 0, "k", NULL, 0, 3, 0);
    n += fx_bin(in + n, OP_ADD, ext, 8, "k", "x", 1, 4, 0);
    n += fx_bin(in + n, OP_REPLACE, ext, 8, "zz", "x", 1, 5, 0);
    n += fx_bin(in + n, OP_APPEND, NULL, 0, "k", "!", 1, 6, 0);
    n += fx_bin(in + n, OP_SETQ, ext, 8, "q", "1", 1, 7, 0);      /* silent */
    n += fx_bin(in + n, OP_GETQ, NULL, 0, "miss", NULL, 0, 8, 0); /* silent */
    n += fx_bin(in + n, OP_APPENDQ, NULL, 0, "miss", "x", 1, 9, 0);
    put64(ext, 5);
    put64(ext + 8, 0);
    put32(ext + 16, 0);
    n += fx_bin(in + n, OP_INCR, ext, 20, "q", NULL, 0, 10, 0);
    n += fx_bin(in + n, OP_DECR, ext, 20, "q", NULL, 0, 11, 0);
    put32(ext, 100);
    n += fx_bin(in + n, OP_TOUCH, ext, 4, "k", NULL, 0, 12, 0);
    n += fx_bin(in + n, OP_GAT, ext, 4, "k", NULL, 0, 13, 0);
    n += fx_bin(in + n, OP_DELETE, NULL, 0, "k", NULL, 0, 14, 0);
    n += fx_bin(in + n, OP_DELETE, NULL, 0, "k", NULL, 0, 15, 0);
    n += fx_bin(in + n, OP_VERSION, NULL, 0, NULL, NULL, 0, 16, 0);
    n += fx_bin(in + n, OP_FLUSH, NULL, 0, NULL, NULL, 0, 17, 0);
    n += fx_bin(in + n, OP_NOOP, NULL, 0, NULL, NULL, 0, 18, 0);
    n += fx_bin(in + n, OP_QUIT, NULL, 0, NULL, NULL, 0, 19, 0);
    n += fx_bin(in + n, OP_NOOP, NULL, 0, NULL, NULL, 0, 20, 0); /* after quit: not run */

    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_AUTO);
    cr_expect_eq(fx_feed(&s, in, n, &b), SESSION_CLOSE);
    cr_expect_eq(s.proto, PROTO_BINARY);

    static const struct {
        uint8_t opcode;
        uint32_t opaque;
        uint16_t status;
        const char *value; /* after extras and key; NULL: not checked */
    } want[] = {
        {OP_SET, 1, 0, ""},         {OP_GET, 2, 0, "val"},       {OP_GETK, 3, 0, "val"},
        {OP_ADD, 4, 0x02, NULL},    {OP_REPLACE, 5, 0x01, NULL}, {OP_APPEND, 6, 0, ""},
        {OP_APPENDQ, 9, 0x05, "Not stored."},
        {OP_INCR, 10, 0, NULL},     {OP_DECR, 11, 0, NULL},      {OP_TOUCH, 12, 0, ""},
        {OP_GAT, 13, 0, "val!"},    {OP_DELETE, 14, 0, ""},      {OP_DELETE, 15, 0x01, NULL},
        {OP_VERSION, 16, 0, "1.6.45"}, {OP_FLUSH, 17, 0, ""},    {OP_NOOP, 18, 0, ""},
        {OP_QUIT, 19, 0, ""},
    };
    size_t pos = 0, i = 0;
    struct bin_res r;
    while (next_res(b.p, b.len, &pos, &r)) {
        cr_assert_lt(i, sizeof(want) / sizeof(want[0]), "an extra response, opcode 0x%02x", r.opcode);
        cr_expect_eq(r.opcode, want[i].opcode, "response %zu", i);
        cr_expect_eq(r.opaque, want[i].opaque, "response %zu", i);
        cr_expect_eq(r.status, want[i].status, "response %zu", i);
        if (want[i].value != NULL) {
            size_t off = (size_t)r.extlen + r.keylen;
            cr_expect_eq(r.bodylen - off, strlen(want[i].value), "response %zu", i);
            cr_expect(memcmp(r.body + off, want[i].value, r.bodylen - off) == 0, "response %zu", i);
        }
        if (r.opcode == OP_INCR)
            cr_expect_eq(fx_be64(r.body), 6);   /* "1" + 5 */
        if (r.opcode == OP_DECR)
            cr_expect_eq(fx_be64(r.body), 1);
        if (r.opcode == OP_GET || r.opcode == OP_GETK)
            cr_expect_eq(fx_be32(r.body), 7); /* flags */
        i++;
    }
    cr_expect_eq(i, sizeof(want) / sizeof(want[0]));
    free(b.p);
    session_deinit(&s);
}

Test(process, binary_stats_end_with_an_empty_packet)
{
    uint8_t in[64];
    size_t n = fx_bin(in, OP_STAT, NULL, 0, NULL, NULL, 0, 42, 0);
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_BINARY);
    cr_expect_eq(fx_feed(&s, in, n, &b), SESSION_NEED_INPUT);
    size_t pos = 0, count = 0;
    struct bin_res r = {0};
    while (next_res(b.p, b.len, &pos, &r)) {
        cr_expect_eq(r.opcode, OP_STAT);
        cr_expect_eq(r.opaque, 42);
        count++;
    }
    cr_expect_gt(count, 10);
    cr_expect_eq(r.keylen, 0);
    cr_expect_eq(r.bodylen, 0);
    free(b.p);
    session_deinit(&s);
}

/* memcached 1.6.45: an Increment that creates its key counts one item and
 * neither a hit nor a miss. */
Test(process, binary_incr_create_counts_an_item_not_a_miss)
{
    uint8_t in[128], ext[20];
    put64(ext, 1);
    put64(ext + 8, 7);
    put32(ext + 16, 0);
    size_t n = fx_bin(in, OP_INCR, ext, 20, "cnt", NULL, 0, 0, 0);
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_BINARY);
    fx_feed(&s, in, n, &b);
    struct bin_res r;
    size_t pos = 0;
    cr_assert(next_res(b.p, b.len, &pos, &r));
    cr_expect_eq(r.status, 0);
    cr_expect_eq(fx_be64(r.body), 7);
    free(b.p);
    session_deinit(&s);

    cr_expect_eq(fx_stat("total_items"), 1);
    cr_expect_eq(fx_stat("curr_items"), 1);
    cr_expect_eq(fx_stat("incr_misses"), 0);
    cr_expect_eq(fx_stat("incr_hits"), 0);
}

Test(process, text_counters)
{
    free(fx_text("set a 0 0 1\r\n1\r\nget a b\r\nincr a 1\r\nincr zz 1\r\ndecr zz 1\r\ntouch a 0\r\n"));
    cr_expect_eq(fx_stat("cmd_get"), 2);
    cr_expect_eq(fx_stat("get_hits"), 1);
    cr_expect_eq(fx_stat("get_misses"), 1);
    cr_expect_eq(fx_stat("cmd_set"), 1);
    cr_expect_eq(fx_stat("incr_hits"), 1);
    cr_expect_eq(fx_stat("incr_misses"), 1);
    cr_expect_eq(fx_stat("decr_misses"), 1);
    cr_expect_eq(fx_stat("cmd_touch"), 1);
    cr_expect_eq(fx_stat("touch_hits"), 1);
    cr_expect_eq(fx_stat("total_items"), 1);
}

/* The command layer alone: a get of many keys under an out_cap of a few
 * bytes stops after every key (PROCESS_MORE) and resumes at mget_pos;
 * drained in between, the bytes are the whole reply. */
Test(process, get_resumes_under_a_tiny_out_cap)
{
    char line[512] = "get";
    struct fx_buf want = {0};
    for (int i = 0; i < 20; i++) {
        char cmd[64], key[16];
        snprintf(key, sizeof(key), "key%d", i);
        snprintf(cmd, sizeof(cmd), "set %s %d 0 2\r\nv%d\r\n", key, i, i % 10);
        free(fx_text(cmd));
        strcat(line, " ");
        strcat(line, key);
        snprintf(cmd, sizeof(cmd), "VALUE %s %d 2\r\nv%d\r\n", key, i, i % 10);
        fx_buf_add(&want, cmd, strlen(cmd));
    }
    strcat(line, " nokey\r\n");
    fx_buf_add(&want, "END\r\n", 5);

    struct request req = {.kind = REQUEST_CLASSIC};
    size_t consumed;
    const char *err = NULL;
    cr_assert_eq(text_parse(line, strlen(line), &req.mc, &consumed, &err), PROTO_OK);
    cr_assert_eq(consumed, strlen(line));

    struct session s; /* for its reply builder */
    fx_session(&s, PROTO_ASCII);
    struct request_ctx x = s.cmd;
    x.out_cap = 8;
    struct fx_buf got = {0};
    int more = 0;
    enum process_next next;
    while ((next = process_request(&x, &req)) == PROCESS_MORE) {
        cr_assert_lt(++more, 100);
        cr_expect_neq(x.mget_pos, 0);
        fx_drain(&s, &got);
    }
    fx_drain(&s, &got);
    cr_expect_eq(next, PROCESS_CONTINUE);
    cr_expect_eq(more, 20, "one stop after each of the 20 values (the miss adds nothing big)");
    cr_expect_eq(x.mget_pos, 0);
    cr_expect_str_eq(got.p, want.p);
    free(got.p);
    free(want.p);
    session_deinit(&s);
}

/* The same through a session at the real cap: 24 values of 100 KB; the
 * session stops (MWRITE) while they are unsent and resumes as they drain. */
Test(process, session_get_resumes_at_the_output_cap)
{
    static char val[100 * 1024];
    memset(val, 'v', sizeof(val));
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_ASCII);
    char line[512] = "get";
    for (int i = 0; i < 24; i++) {
        char hdr[64];
        int n = snprintf(hdr, sizeof(hdr), "set k%d 0 0 %zu\r\n", i, sizeof(val));
        fx_feed(&s, hdr, (size_t)n, &b);
        fx_feed(&s, val, sizeof(val), &b);
        fx_feed(&s, "\r\n", 2, &b);
        snprintf(line + strlen(line), sizeof(line) - strlen(line), " k%d", i);
    }
    strcat(line, "\r\n");
    free(b.p);
    b = (struct fx_buf){0};

    cr_assert_eq(session_feed(&s, line, strlen(line)), strlen(line));
    unsigned budget = 1000;
    int stops = 0;
    enum session_result r;
    while ((r = session_run(&s, &budget)) == SESSION_OUTPUT_FULL) {
        cr_expect_eq(s.state, SESSION_MWRITE);
        cr_expect_leq(reply_weight(&s.out), SESSION_OUT_HIGH + sizeof(val) + 1024);
        stops++;
        fx_drain(&s, &b);
    }
    fx_drain(&s, &b);
    cr_expect_eq(r, SESSION_NEED_INPUT);
    cr_expect_eq(s.state, SESSION_NEW_CMD);
    cr_expect_geq(stops, 2);
    size_t one = strlen("VALUE k00 0 102400\r\n") - 1 + sizeof(val) + 2;
    cr_expect_eq(b.len, 10 * one + 14 * (one + 1) + 5);
    cr_expect_str_eq(b.p + b.len - 5, "END\r\n");
    free(b.p);
    session_deinit(&s);
}

/* A reply that cannot be buffered (every allocation fails): the command
 * layer marks the context broken, the session closes, nothing leaks. */
Test(process, unbufferable_reply_closes)
{
    free(fx_text("set a 0 0 3\r\nabc\r\n"));
    struct session s;
    fx_session(&s, PROTO_ASCII);
    const char in[] = "get a a a\r\nversion\r\n";
    cr_assert_eq(session_feed(&s, in, sizeof(in) - 1), sizeof(in) - 1);
    unsigned budget = 100;
    fail_allocs = true;
    enum session_result r = session_run(&s, &budget);
    fail_allocs = false;
    cr_expect_eq(r, SESSION_CLOSE);
    cr_expect(s.cmd.broken);
    session_deinit(&s);

    /* every reference the failed replies took was given back */
    uint64_t used = 0, linked = 0;
    for (unsigned id = 1; id <= store_class_count(); id++) {
        struct store_class_info ci;
        if (store_class_info(id, &ci)) {
            used += ci.used_chunks;
            linked += ci.curr_items;
        }
    }
    cr_expect_eq(used, linked);
    expect_text("get a\r\n", "VALUE a 0 3\r\nabc\r\nEND\r\n");
}

/* ms in an append mode whose combined value is over the item size limit:
 * NS, as memcached 1.6.45 answers (and as classic append's NOT_STORED),
 * not a SERVER_ERROR; nothing counted as too large. */
Test(process, meta_append_past_the_limit_is_not_stored)
{
    size_t n = 600000;
    char *v = malloc(n + 1);
    memset(v, 'a', n);
    v[n] = '\0';
    size_t cap = 3 * n + 128;
    char *in = malloc(cap);
    snprintf(in, cap, "ms big %zu\r\n%s\r\nms big %zu MA\r\n%s\r\nms big %zu MP s\r\n%s\r\nmn\r\n", n, v, n, v, n, v);
    char *got = fx_text(in); /* not expect_text: a failure must not print the 1.8 MB input */
    cr_expect_str_eq(got, "HD\r\nNS\r\nNS s600000\r\nMN\r\n");
    free(got);
    cr_expect_eq(fx_ws.store_too_large, 0);
    free(in);
    free(v);
}
