/*
 * test_session.c - request framing on plain buffers (server/session.c):
 * a stream split at any byte gives the replies it gives whole, pipelined
 * requests, values read straight into their item, a value with a wrong
 * terminator ("bad data chunk"), the data block of a too-large value
 * swallowed unparsed, the -R budget, protocol sniffing, and closing. The
 * expected bytes were recorded from memcached 1.6.45.
 */
#include "config.h"

#include <criterion/criterion.h>

#include "fixture.h"

#include "proto/text.h"

#include <stdio.h>

TestSuite(session, .init = fx_start, .fini = fx_stop);

/* The replies to `in` fed in pieces: cut at `cut` (0: whole; SIZE_MAX: a
 * byte at a time), on a fresh store and session. */
static char *replies_cut(const char *in, size_t len, size_t cut, enum proto_binding proto, size_t *outlen)
{
    fx_stop();
    fx_start();
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, proto);
    if (cut == SIZE_MAX) {
        for (size_t i = 0; i < len; i++)
            fx_feed(&s, in + i, 1, &b);
    } else {
        fx_feed(&s, in, cut, &b);
        fx_feed(&s, in + cut, len - cut, &b);
    }
    fx_drain(&s, &b);
    session_deinit(&s);
    *outlen = b.len;
    return b.p;
}

static void expect_same_at_every_cut(const char *in, size_t len, enum proto_binding proto, const char *want,
                                     size_t wantlen)
{
    size_t n;
    char *whole = replies_cut(in, len, 0, proto, &n);
    cr_assert_eq(n, wantlen);
    cr_assert(memcmp(whole, want, n) == 0, "whole: %s", whole);
    free(whole);
    for (size_t cut = 1; cut < len; cut++) {
        char *got = replies_cut(in, len, cut, proto, &n);
        cr_assert(n == wantlen && memcmp(got, want, n) == 0, "cut at %zu: %s", cut, got);
        free(got);
    }
    char *got = replies_cut(in, len, SIZE_MAX, proto, &n);
    cr_assert(n == wantlen && memcmp(got, want, n) == 0, "a byte at a time: %s", got);
    free(got);
}

Test(session, text_split_at_every_byte)
{
    static const char in[] =
        "set a 5 0 3\r\nabc\r\nget a b\r\nset b 0 0 2\r\nxyz\r\nget b\r\nbogus\r\n"
        "ms mk 3 T0 F7\r\nabc\r\nmg mk v f\r\nincr a 1\r\nset n 0 0 1 noreply\r\n5\r\nincr n 10\r\n"
        "get " "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
        "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
        "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\r\nversion\r\n";
    static const char want[] =
        "STORED\r\nVALUE a 5 3\r\nabc\r\nEND\r\nCLIENT_ERROR bad data chunk\r\n"
        "CLIENT_ERROR bad command line format\r\nEND\r\nERROR\r\nHD\r\nVA 3 f7\r\nabc\r\n"
        "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n15\r\n"
        "CLIENT_ERROR bad command line format\r\nVERSION 1.6.45\r\n";
    expect_same_at_every_cut(in, sizeof(in) - 1, PROTO_ASCII, want, sizeof(want) - 1);
}

Test(session, binary_split_at_every_byte)
{
    uint8_t in[512], ext[8] = {0, 0, 0, 9, 0, 0, 0, 0};
    size_t n = 0;
    n += fx_bin(in + n, 0x01, ext, 8, "key", "value", 5, 1, 0);       /* set */
    n += fx_bin(in + n, 0x0c, NULL, 0, "key", NULL, 0, 2, 0);         /* getk */
    n += fx_bin(in + n, 0x09, NULL, 0, "nokey", NULL, 0, 3, 0);       /* getq miss: silent */
    n += fx_bin(in + n, 0x44, NULL, 0, "x", "body", 4, 4, 0);         /* unknown: answered, body skipped */
    n += fx_bin(in + n, 0x0a, NULL, 0, NULL, NULL, 0, 5, 0);          /* noop */
    size_t wn;
    char *want = replies_cut((const char *)in, n, 0, PROTO_AUTO, &wn);
    cr_assert_gt(wn, 4 * 24);
    /* set, getk, the unknown opcode's error, noop: in that order */
    static const uint8_t ops[] = {0x01, 0x0c, 0x44, 0x0a};
    size_t pos = 0;
    for (size_t i = 0; i < sizeof(ops); i++) {
        cr_assert_leq(pos + 24, wn);
        cr_expect_eq((uint8_t)want[pos + 1], ops[i], "response %zu", i);
        pos += 24 + fx_be32(want + pos + 8);
    }
    cr_expect_eq(pos, wn);
    expect_same_at_every_cut((const char *)in, n, PROTO_AUTO, want, wn);
    free(want);
}

Test(session, pipelined_equals_one_by_one)
{
    static const char *const reqs[] = {
        "set a 0 0 1\r\n1\r\n", "get a\r\n", "incr a 41\r\n", "gets a\r\n", "append a 0 0 1\r\nx\r\n",
        "get a a a\r\n",        "delete a\r\n", "get a\r\n",  "mn\r\n",      "version\r\n",
    };
    struct fx_buf all = {0}, one = {0};
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
        fx_buf_add(&all, reqs[i], strlen(reqs[i]));

    struct session s;
    fx_session(&s, PROTO_ASCII);
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
        fx_feed(&s, reqs[i], strlen(reqs[i]), &one);
    session_deinit(&s);

    fx_stop();
    fx_start();
    char *piped = fx_text(all.p);
    cr_expect_str_eq(piped, one.p);
    cr_expect_str_eq(piped, "STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\n42\r\nVALUE a 0 2 3\r\n42\r\nEND\r\nSTORED\r\n"
                            "VALUE a 0 3\r\n42x\r\nVALUE a 0 3\r\n42x\r\nVALUE a 0 3\r\n42x\r\nEND\r\nDELETED\r\n"
                            "END\r\nMN\r\nVERSION 1.6.45\r\n");
    free(piped);
    free(all.p);
    free(one.p);
}

/* A value's terminator that is not "\r\n": the value is dropped, and the
 * next request starts right after the announced length + 2 bytes. */
Test(session, bad_data_chunk)
{
    char *r = fx_text("set b 0 0 2\r\nxyzw\r\nget b\r\n");
    cr_expect_str_eq(r, "CLIENT_ERROR bad data chunk\r\nCLIENT_ERROR bad command line format\r\nEND\r\n");
    free(r);
    r = fx_text("set b 0 0 2 noreply\r\nxy\n\nget b\r\n"); /* silent under noreply */
    cr_expect_str_eq(r, "END\r\n");
    free(r);
}

/* A large value is read straight into its item (session_read_space names
 * the item), and its terminator is checked all the same. */
Test(session, large_value_read_into_its_item)
{
    static char val[20000];
    memset(val, 'q', sizeof(val));
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_ASCII);
    const char hdr[] = "set big 0 0 20000\r\n";
    fx_feed(&s, hdr, sizeof(hdr) - 1, &b);
    cr_assert_eq(s.state, SESSION_NREAD);
    size_t room;
    char *p = session_read_space(&s, &room);
    cr_expect(s.direct);
    cr_expect_eq(room, sizeof(val));
    memcpy(p, val, 100);
    session_read_done(&s, 100);
    fx_feed(&s, val + 100, sizeof(val) - 100, &b);
    fx_feed(&s, "\r\nget big\r\n", 11, &b);
    cr_expect_eq(b.len, strlen("STORED\r\nVALUE big 0 20000\r\n") + sizeof(val) + strlen("\r\nEND\r\n"));
    cr_expect(strncmp(b.p, "STORED\r\nVALUE big 0 20000\r\nqqq", 30) == 0);
    free(b.p);
    b = (struct fx_buf){0};

    fx_feed(&s, "set big 0 0 20000\r\n", 19, &b);
    fx_feed(&s, val, sizeof(val), &b);
    fx_feed(&s, "XXget big\r\n", 11, &b);
    cr_expect_eq(b.len, strlen("CLIENT_ERROR bad data chunk\r\nVALUE big 0 20000\r\n") + sizeof(val) + 7);
    cr_expect(strncmp(b.p, "CLIENT_ERROR bad data chunk\r\nVALUE big 0 20000\r\n", 47) == 0);
    free(b.p);
    session_deinit(&s);
}

/* A value over the item size: answered at once, then its data block is
 * swallowed unparsed (made of requests here, none of which may run). */
Test(session, swallow_after_a_too_large_value)
{
    const size_t vlen = 2000000;
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_ASCII);
    char hdr[64];
    int n = snprintf(hdr, sizeof(hdr), "set c 0 0 %zu\r\n", vlen);
    fx_feed(&s, hdr, (size_t)n, &b);
    cr_expect_str_eq(b.p, "SERVER_ERROR object too large for cache\r\n");
    cr_expect_eq(s.state, SESSION_SWALLOW);
    static const char bait[] = "set x 0 0 1\r\n1\r\n";  /* 16 bytes */
    for (size_t done = 0; done < vlen; done += 16)
        fx_feed(&s, bait, vlen - done < 16 ? vlen - done : 16, &b);
    fx_feed(&s, "\r\nget c x\r\n", 11, &b);
    cr_expect_str_eq(b.p, "SERVER_ERROR object too large for cache\r\nEND\r\n");
    cr_expect_eq(s.state, SESSION_NEW_CMD);
    free(b.p);
    session_deinit(&s);
}

/* -R: at most *budget requests per run; the rest waits in the buffer. */
Test(session, budget_bounds_a_run)
{
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_ASCII);
    const char in[] = "mn\r\nmn\r\nmn\r\nmn\r\nmn\r\n";
    cr_assert_eq(session_feed(&s, in, sizeof(in) - 1), sizeof(in) - 1);
    unsigned budget = 2;
    cr_expect_eq(session_run(&s, &budget), SESSION_BUDGET);
    cr_expect_eq(budget, 0);
    fx_drain(&s, &b);
    cr_expect_str_eq(b.p, "MN\r\nMN\r\n");
    budget = 2;
    cr_expect_eq(session_run(&s, &budget), SESSION_BUDGET);
    budget = 2;
    cr_expect_eq(session_run(&s, &budget), SESSION_NEED_INPUT);
    cr_expect_eq(budget, 1);
    fx_drain(&s, &b);
    cr_expect_str_eq(b.p, "MN\r\nMN\r\nMN\r\nMN\r\nMN\r\n");
    cr_expect_eq(s.commands, 5);
    free(b.p);
    session_deinit(&s);
}

Test(session, protocol_sniffed_from_the_first_byte)
{
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_AUTO);
    fx_feed(&s, "mn\r\n", 4, &b);
    cr_expect_eq(s.proto, PROTO_ASCII);
    cr_expect_str_eq(b.p, "MN\r\n");
    free(b.p);
    session_deinit(&s);
}

/* A text line on a binary-only session is a bad magic once a header's
 * worth has arrived: close, no reply. */
Test(session, text_on_a_binary_session_closes)
{
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_BINARY);
    cr_expect_eq(fx_feed(&s, "mn\r\n", 4, &b), SESSION_NEED_INPUT);
    const char more[] = "get aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    cr_expect_eq(fx_feed(&s, more, sizeof(more) - 1, &b), SESSION_CLOSE);
    cr_expect_eq(b.len, 0);
    session_deinit(&s);
}

/* After session_close_input nothing more is parsed. */
Test(session, closed_input_parses_nothing)
{
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_ASCII);
    cr_assert_eq(session_feed(&s, "mn\r\n", 4), 4);
    session_close_input(&s);
    unsigned budget = 10;
    cr_expect_eq(session_run(&s, &budget), SESSION_CLOSE);
    cr_expect_eq(s.state, SESSION_CLOSING);
    fx_drain(&s, &b);
    cr_expect_eq(b.len, 0);
    cr_expect_eq(s.commands, 0);
    free(b.p);
    session_deinit(&s);
}

/* The read buffer grows while one line does not fit, and shrinks back
 * once it is empty. */
Test(session, read_buffer_grows_then_shrinks)
{
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_ASCII);
    static char line[40000];
    size_t n = 0;
    n += (size_t)sprintf(line, "get");
    while (n < sizeof(line) - 16)
        n += (size_t)sprintf(line + n, " k%zu", n);
    n += (size_t)sprintf(line + n, "\r\n");
    fx_feed(&s, line, n, &b);
    cr_expect_gt(s.rsize, SESSION_RBUF_INIT);
    cr_expect_str_eq(b.p, "END\r\n");
    session_trim(&s);
    cr_expect_eq(s.rsize, SESSION_RBUF_INIT);
    free(b.p);
    session_deinit(&s);
}

/* More than TEXT_LINE_MAX bytes with no newline (and not a get line): the
 * requests before it are answered, then the session closes. (1.6.45
 * closes too but drops those replies: memcached-compat.md, (t3).) */
Test(session, overlong_line_closes_after_earlier_replies)
{
    static char in[16 + TEXT_LINE_MAX + 100];
    memcpy(in, "get b\r\n", 7);
    memset(in + 7, 'x', sizeof(in) - 7);
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_ASCII);
    cr_expect_eq(fx_feed(&s, in, sizeof(in), &b), SESSION_CLOSE);
    cr_expect_str_eq(b.p, "END\r\n");
    free(b.p);
    session_deinit(&s);
}

/* session_reset() (a UDP session reused per datagram): a value cut short
 * is dropped with its item, unsent replies and a suspended get line go,
 * the protocol is sniffed again, and the next input is a request of its
 * own. */
Test(session, reset_drops_the_rest_of_a_datagram)
{
    struct session s;
    fx_session(&s, PROTO_AUTO);
    char *r = fx_talk(&s, "set a 0 0 10\r\nxx\r\n");
    cr_expect_str_eq(r, "");
    free(r);
    cr_expect_eq(s.state, SESSION_NREAD);
    session_reset(&s, PROTO_AUTO);
    cr_expect_eq(s.state, SESSION_NEW_CMD);
    cr_expect_null(s.nread_it);
    r = fx_talk(&s, "get a\r\n");
    cr_expect_str_eq(r, "END\r\n");
    free(r);

    /* replies not sent yet are dropped */
    session_feed(&s, "version\r\n", 9);
    unsigned budget = UINT_MAX;
    session_run(&s, &budget);
    cr_expect(!reply_empty(&s.out));
    session_reset(&s, PROTO_AUTO);
    cr_expect(reply_empty(&s.out));

    /* text, then binary: sniffed again */
    static const unsigned char noop[24] = {0x80, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    struct fx_buf b = {0};
    fx_feed(&s, noop, sizeof(noop), &b);
    cr_assert_eq(b.len, 24);
    cr_expect_eq((unsigned char)b.p[0], 0x81);
    free(b.p);
    session_reset(&s, PROTO_AUTO);
    r = fx_talk(&s, "mn\r\n");
    cr_expect_str_eq(r, "MN\r\n");
    free(r);
    session_deinit(&s);
}
