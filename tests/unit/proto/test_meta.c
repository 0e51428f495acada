/*
 * test_meta.c - the meta command parser and encoders (proto/meta.c), on
 * plain memory. The expected outcomes are memcached 1.6.45's (see the table
 * at the top of proto/meta.c).
 */
#include <criterion/criterion.h>

#include "proto/meta.h"
#include "proto/reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum proto_status parse(const char *s, struct meta_request *m, size_t *consumed, const char **err,
                               size_t *swallow)
{
    return meta_parse(s, strlen(s), m, consumed, err, swallow);
}

/* Parses s, expecting a CLIENT_ERROR with message msg. */
static void expect_cerr(const char *s, const char *msg)
{
    struct meta_request m;
    size_t consumed, swallow;
    const char *err = NULL;
    enum proto_status st = parse(s, &m, &consumed, &err, &swallow);
    cr_assert_eq(st, PROTO_CLIENT_ERROR, "%s: status %d", s, st);
    cr_assert_str_eq(err, msg, "%s", s);
    cr_assert_eq(consumed, strlen(s), "%s", s);
}

static void expect_ok(const char *s, struct meta_request *m)
{
    size_t consumed, swallow;
    const char *err = NULL;
    enum proto_status st = parse(s, m, &consumed, &err, &swallow);
    cr_assert_eq(st, PROTO_OK, "%s: status %d (%s)", s, st, err ? err : "");
    cr_assert_eq(consumed, strlen(s));
    cr_assert_eq(swallow, 0);
}

/* Renders what the encoder produced into a NUL-terminated string. */
static char *flatten(struct reply *r)
{
    size_t n;
    const struct iovec *iov = reply_pending(r, &n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += iov[i].iov_len;
    char *s = malloc(total + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(s + o, iov[i].iov_base, iov[i].iov_len);
        o += iov[i].iov_len;
    }
    s[o] = '\0';
    return s;
}

Test(meta, is_meta)
{
    cr_assert(meta_is_meta("mg k\r\n", 6));
    cr_assert(meta_is_meta("mn\r\n", 4));
    cr_assert_not(meta_is_meta("  ms k 1\r\n", 10)); /* 1.6.45: ERROR */
    cr_assert(meta_is_meta("me k", 4));
    cr_assert_not(meta_is_meta("mgx k\r\n", 7));
    cr_assert_not(meta_is_meta("MG k\r\n", 6));
    cr_assert_not(meta_is_meta("mz k\r\n", 6));
    cr_assert_not(meta_is_meta("get k\r\n", 7));
    cr_assert_not(meta_is_meta("mg", 2)); /* cannot tell yet */
    cr_assert_not(meta_is_meta("mg\0 k\r\n", 7)); /* 1.6.45: ERROR */
}

Test(meta, commands)
{
    struct meta_request m;
    expect_ok("mg foo\r\n", &m);
    cr_assert_eq(m.cmd, META_CMD_MG);
    cr_assert_eq(m.nkey, 3);
    cr_assert_eq(memcmp(m.key, "foo", 3), 0);
    expect_ok("ms foo 5\r\n", &m);
    cr_assert_eq(m.cmd, META_CMD_MS);
    cr_assert_eq(m.vlen, 5);
    expect_ok("md foo\r\n", &m);
    cr_assert_eq(m.cmd, META_CMD_MD);
    expect_ok("ma foo\r\n", &m);
    cr_assert_eq(m.cmd, META_CMD_MA);
    cr_assert_eq(m.delta, 1);
    expect_ok("mn\r\n", &m);
    cr_assert_eq(m.cmd, META_CMD_MN);
    expect_ok("mn extra\r\n", &m);
    expect_ok("me foo\r\n", &m);
    cr_assert_eq(m.cmd, META_CMD_ME);
    expect_ok("me foo extra more\r\n", &m);
    expect_ok("mg  foo   v\r\n", &m);
    cr_assert(meta_has(&m, 'v'));
    expect_ok("mg foo v\n", &m);
    expect_ok("mg k\tv\r\n", &m);
    cr_assert_eq(m.nkey, 3);
    /* a NUL is an ordinary byte of a meta line (text lines end there) */
    const char nul[] = "mg k\0 v\0 t\r\n";
    size_t consumed, swallow;
    const char *err = NULL;
    cr_assert_eq(meta_parse(nul, sizeof(nul) - 1, &m, &consumed, &err, &swallow), PROTO_OK);
    cr_assert_eq(consumed, sizeof(nul) - 1);
    cr_assert_eq(m.nkey, 2);
    cr_assert(meta_has(&m, 'v') && meta_has(&m, 't'));
}

Test(meta, no_key_is_error)
{
    const char *lines[] = {"mg\r\n", "mg \r\n", "ms\r\n", "md\r\n", "ma\r\n"};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct meta_request m;
        size_t consumed, swallow;
        const char *err;
        cr_assert_eq(parse(lines[i], &m, &consumed, &err, &swallow), PROTO_CLIENT_ERROR, "%s", lines[i]);
        cr_assert_str_eq(err, "bad command line format");
        cr_assert_eq(consumed, strlen(lines[i]));
    }
    expect_cerr("me\r\n", "bad command line format");
    expect_cerr("ms k\r\n", "bad command line format");
}

Test(meta, every_flag)
{
    struct meta_request m;
    expect_ok("mg Zm9v b c f h k l Oop q s t u v N30 R5 T60 P/x L1\r\n", &m);
    cr_assert(m.key_binary);
    const char *all = "bcfhklOqstuvNRTPL";
    for (const char *p = all; *p; p++)
        cr_assert(meta_has(&m, *p), "flag %c", *p);
    expect_ok("mg k c f h k l Oop q s t u v N30 R5 T60 P L\r\n", &m);
    cr_assert_eq(m.vivify_ttl, 30);
    cr_assert_eq(m.recache, 5);
    cr_assert_eq(m.ttl, 60);
    cr_assert_eq(m.nopaque, 2);
    cr_assert_eq(memcmp(m.opaque, "op", 2), 0);
    cr_assert_eq(m.nflags, 16);
    cr_assert_eq(m.order[0], 'c');
    cr_assert_eq(m.order[15], 'L');
    expect_ok("ms k 1 c C5 F7 I k O1 q T9 MA\r\n", &m);
    cr_assert_eq(m.cas, 5);
    cr_assert_eq(m.client_flags, 7);
    cr_assert_eq(m.mode, 'A');
    cr_assert(meta_has(&m, 'I'));
    expect_ok("ma k N0 J42 D7 MD T1 t c v q\r\n", &m);
    cr_assert_eq(m.initial, 42);
    cr_assert_eq(m.delta, 7);
    cr_assert_eq(m.mode, 'D');
    expect_ok("md k C9 I T3 k O1 q\r\n", &m);
    cr_assert_eq(m.cas, 9);
    /* every pre-parse flag is accepted by every command */
    expect_ok("mg k C1 M5 J1 D1 I F1 P L E7 x\r\n", &m);
    cr_assert_eq(m.new_cas, 7);
    expect_ok("mg k Mset\r\n", &m); /* M is checked by ms and ma only */
    expect_ok("ms k 1 E18446744073709551615 s x MA N30\r\n", &m);
    cr_assert_eq(m.new_cas, UINT64_MAX);
    cr_assert_eq(m.vivify_ttl, 30);
    expect_ok("md k x E5 I T1\r\n", &m);
    cr_assert(meta_has(&m, 'x'));
    /* an opaque over 31 bytes is not a parse error for mg and ma */
    expect_ok("mg k O12345678901234567890123456789012\r\n", &m);
    cr_assert(m.opaque_too_long);
    expect_ok("ma k O12345678901234567890123456789012\r\n", &m);
    cr_assert(m.opaque_too_long);
    expect_ok("ms k 3 O12345678901234567890123456789012\r\n", &m); /* answered by process_meta */
    cr_assert(m.opaque_too_long);
    /* trailing bytes of a plain flag are ignored */
    expect_ok("mg k vv\r\n", &m);
    cr_assert(meta_has(&m, 'v'));
    expect_ok("mg k O\r\n", &m);
    cr_assert_eq(m.nopaque, 0);
    expect_ok("mg k O1234567890123456789012345678901\r\n", &m);
    cr_assert_eq(m.nopaque, 31);
}

Test(meta, numbers_are_strict)
{
    /* 1.6.45: decimal digits only, no '+', no wrap-around */
    struct meta_request m;
    expect_cerr("ms k 1 F4294967296\r\n", "bad command line format"); /* 32 bits, strictly */
    expect_cerr("ms k 1 F+5\r\n", "bad command line format");
    expect_cerr("ms k 1 F-0\r\n", "bad command line format");
    expect_ok("ms k 1 F4294967295\r\n", &m);
    cr_assert_eq(m.client_flags, UINT32_MAX);
    expect_cerr("mg k T4294967306\r\n", "bad token in command line format");
    expect_cerr("mg k T2147483648\r\n", "bad token in command line format");
    expect_cerr("mg k T-2147483649\r\n", "bad token in command line format");
    expect_cerr("mg k T+5\r\n", "bad token in command line format");
    expect_cerr("mg k T5x\r\n", "bad token in command line format");
    expect_cerr("mg k C+5\r\n", "bad token in command line format");
    expect_cerr("ma k D+5\r\n", "invalid or duplicate flag");
    expect_cerr("ma k D-1\r\n", "invalid or duplicate flag");
    expect_cerr("ms k +1\r\n", "bad command line format");
    expect_cerr("ms k 4294967297\r\n", "bad command line format");
    /* at most 11 bytes for 32-bit numbers, 22 for 64-bit ones, zeros too */
    expect_cerr("mg k T000000000000\r\n", "bad token in command line format");
    expect_cerr("mg k T-00000000001\r\n", "bad token in command line format");
    expect_cerr("mg k F000000000000\r\n", "bad command line format");
    expect_cerr("mg k C00000000000000000000000\r\n", "bad token in command line format");
    expect_cerr("ma k J00000000000000000000000\r\n", "invalid or duplicate flag");
    expect_ok("mg k T00000000000 C0000000000000000000000 N-0000000001\r\n", &m);
    cr_assert_eq(m.vivify_ttl, -1);
    expect_ok("mg k T-\r\n", &m); /* "-" alone is 0 */
    cr_assert_eq(m.ttl, 0);
    expect_cerr("mg k F-\r\n", "bad command line format");
    expect_ok("mg k T05\r\n", &m);
    cr_assert_eq(m.ttl, 5);
    expect_ok("mg k T2147483647 N-2147483648\r\n", &m);
    cr_assert_eq(m.vivify_ttl, INT32_MIN);
    expect_ok("mg k N-1\r\n", &m);
    cr_assert_eq(m.vivify_ttl, -1);
    expect_ok("ma k J18446744073709551615\r\n", &m);
    cr_assert_eq(m.initial, UINT64_MAX);
    /* the mode is the byte after M, whatever follows */
    expect_ok("ms k 1 MEE\r\n", &m);
    cr_assert_eq(m.mode, 'E');
    expect_ok("ma k MII\r\n", &m);
    cr_assert_eq(m.mode, 'I');
}

Test(meta, flag_errors)
{
    /* a flag starting with a byte that is neither a digit nor 'A'..'z':
     * the whole line is "bad command line format", before anything else */
    expect_cerr("mg k !\r\n", "bad command line format");
    expect_cerr("mg k v v !\r\n", "bad command line format");
    expect_cerr("mg k \xc3\xa9\r\n", "bad command line format");
    expect_cerr("md k @\r\n", "bad command line format");
    expect_cerr("ma k {\r\n", "bad command line format");
    expect_cerr("me k ~\r\n", "bad command line format");
    expect_cerr("mg k v v v v v v v v v v v v v v v v v v v v v v v v v !\r\n", "bad command line format");
    expect_cerr("mg k 1\r\n", "invalid flag");
    expect_cerr("mg k [\r\n", "invalid flag");
    expect_cerr("mg k v v\r\n", "duplicate flag");
    expect_cerr("mg k Oa Ob\r\n", "duplicate flag");
    expect_cerr("mg k Tabc\r\n", "bad token in command line format");
    expect_cerr("mg k T\r\n", "bad token in command line format");
    expect_cerr("mg k Nabc\r\n", "bad token in command line format");
    expect_cerr("mg k Rabc\r\n", "bad token in command line format");
    expect_cerr("mg k E\r\n", "bad token in command line format");
    expect_cerr("mg k E-1\r\n", "bad token in command line format");
    expect_cerr("mg k E18446744073709551616\r\n", "bad token in command line format");
    expect_cerr("mg k Fabc\r\n", "bad command line format");
    expect_cerr("mg k Fabc Tx\r\n", "bad token in command line format");
    expect_cerr("mg k Tx Fabc\r\n", "bad token in command line format");
    expect_cerr("mg k v Tabc v\r\n", "duplicate flag");
    expect_cerr("mg k S5\r\n", "invalid flag");
    expect_cerr("mg Zm9 b\r\n", "error decoding key");
    expect_cerr("mg Zm9v= b\r\n", "error decoding key");
    expect_cerr("mg @@@@ b\r\n", "error decoding key");
    /* md passes the pre-parse message through; ma has one message */
    expect_cerr("md k q q\r\n", "duplicate flag");
    expect_cerr("md k Tabc\r\n", "bad token in command line format");
    expect_cerr("md k D\r\n", "invalid numeric delta value");
    expect_cerr("md k 1\r\n", "invalid flag");
    expect_cerr("md k O12345678901234567890123456789012\r\n", "opaque token too long");
    expect_cerr("ma k 1\r\n", "invalid or duplicate flag");
    expect_cerr("ma k Dabc\r\n", "invalid or duplicate flag");
    expect_cerr("ma k Jabc\r\n", "invalid or duplicate flag");
    expect_cerr("ma k D18446744073709551616\r\n", "invalid or duplicate flag");
    expect_cerr("ma k M\r\n", "invalid mode for ma M token");
    expect_cerr("ma k Mset\r\n", "invalid mode for ma M token");
    expect_cerr("ma k MZ\r\n", "invalid mode for ma M token");
    expect_cerr("ma k Mi\r\n", "invalid mode for ma M token");
    expect_cerr("ma k11 k b\r\n", "invalid or duplicate flag");
}

Test(meta, ms_errors_and_swallow)
{
    struct meta_request m;
    size_t consumed, swallow;
    const char *err;
    /* before the data length: nothing swallowed */
    cr_assert_eq(parse("ms k abc\r\n", &m, &consumed, &err, &swallow), PROTO_CLIENT_ERROR);
    cr_assert_str_eq(err, "bad command line format");
    cr_assert_eq(swallow, 0);
    cr_assert_eq(parse("ms k -1\r\n", &m, &consumed, &err, &swallow), PROTO_CLIENT_ERROR);
    cr_assert_eq(swallow, 0);
    cr_assert_eq(parse("ms k 1 !\r\n", &m, &consumed, &err, &swallow), PROTO_CLIENT_ERROR);
    cr_assert_str_eq(err, "bad command line format");
    cr_assert_eq(swallow, 0);
    cr_assert_eq(parse("ms k 1 P P P P P P P P P P P P P P P P P P\r\n", &m, &consumed, &err, &swallow),
                 PROTO_CLIENT_ERROR);
    cr_assert_str_eq(err, "options flags are too long");
    cr_assert_eq(swallow, 3);
    /* after it: the data block is swallowed */
    const char *after[][2] = {
        {"ms k 3 Zz\r\n", "invalid flag"},
        {"ms k 3 v v\r\n", "duplicate flag"},
        {"ms k 3 MZ\r\n", "invalid mode for ms M token"},
        {"ms k 3 Ms\r\n", "invalid mode for ms M token"},
        {"ms k 3 M\r\n", "invalid mode for ms M token"},
        {"ms k 3 Mset\r\n", "invalid mode for ms M token"},
        {"ms k 3 F4294967296\r\n", "bad command line format"},
        {"ms k 3 E-1\r\n", "bad token in command line format"},
        {"ms k 3 Tabc\r\n", "bad token in command line format"},
        {"ms k 3 C-1\r\n", "bad token in command line format"},
        {"ms k 3 F-1\r\n", "bad command line format"},
        {"ms k 3 b\r\n", "error decoding key"},
        {"ms k 3 S3\r\n", "invalid flag"},
    };
    for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++) {
        cr_assert_eq(parse(after[i][0], &m, &consumed, &err, &swallow), PROTO_CLIENT_ERROR, "%s", after[i][0]);
        cr_assert_str_eq(err, after[i][1], "%s", after[i][0]);
        cr_assert_eq(swallow, 5, "%s", after[i][0]);
    }
}

Test(meta, too_many_flags)
{
    struct meta_request m;
    /* 18 flags are parsed (and fail on an unknown one), 19 are too many */
    expect_cerr("mg k a b c d e f g h i j k l m n o p q r\r\n", "invalid flag");
    expect_cerr("mg k P P P P P P P P P P P P P P P P P P\r\n", "duplicate flag");
    expect_cerr("mg k P P P P P P P P P P P P P P P P P P P\r\n", "options flags are too long");
    expect_cerr("md k P P P P P P P P P P P P P P P P P P P\r\n", "options flags are too long");
    expect_cerr("ma k P P P P P P P P P P P P P P P P P P P\r\n", "invalid or duplicate flag");
    expect_ok("mg Zm9v b0 c f h k l O s t u v q P L N1 R1 T1 x\r\n", &m); /* 18 */
}

Test(meta, key_length)
{
    char line[400];
    char key[252];
    memset(key, 'a', 251);
    key[251] = '\0';
    const char *fmt[] = {"mg %s v\r\n", "ms %s 1\r\n", "ms %s 1 b\r\n", "md %s\r\n", "me %s\r\n"};
    for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
        snprintf(line, sizeof(line), fmt[i], key);
        expect_cerr(line, "bad command line format");
    }
    snprintf(line, sizeof(line), "ma %s\r\n", key);
    expect_cerr(line, "invalid or duplicate flag");
    key[250] = '\0';
    struct meta_request m;
    snprintf(line, sizeof(line), "mg %s v\r\n", key);
    expect_ok(line, &m);
    cr_assert_eq(m.nkey, 250);
}

Test(meta, base64_keys)
{
    struct meta_request m;
    expect_ok("mg Zm9v b k\r\n", &m);
    cr_assert(m.key_binary);
    cr_assert_eq(m.nkey, 3);
    cr_assert_eq(memcmp(m.key, "foo", 3), 0);
    /* me <b64> b decodes the key, also when b is the last token */
    expect_ok("me YWJj b\r\n", &m);
    cr_assert(m.key_binary);
    cr_assert_eq(m.nkey, 3);
    cr_assert_eq(memcmp(m.key, "abc", 3), 0);
    expect_cerr("me abc b\r\n", "bad command line format");
    expect_ok("me abc x b\r\n", &m); /* b elsewhere means nothing */
    cr_assert_not(m.key_binary);
    /* decoding as lax as memcached's */
    expect_ok("mg YjE=YjE= b\r\n", &m);
    cr_assert_eq(m.nkey, 2);
    cr_assert_eq(memcmp(m.key, "b1", 2), 0);
    expect_ok("mg Yj=E b\r\n", &m);
    cr_assert_eq(memcmp(m.key, "b0", 2), 0);
    expect_ok("mg YW.Jj b\r\n", &m);
    cr_assert_eq(memcmp(m.key, "abc", 3), 0);
    char out[16];
    cr_assert_eq(meta_base64_encode("\x00\x01\x02", 3, out, sizeof(out)), 4);
    cr_assert_eq(memcmp(out, "AAEC", 4), 0);
    cr_assert_eq(meta_base64_encode("fo", 2, out, sizeof(out)), 4);
    cr_assert_eq(memcmp(out, "Zm8=", 4), 0);
    cr_assert_eq(meta_base64_decode("Zm8=", 4, out, sizeof(out)), 2);
    cr_assert_eq(meta_base64_decode("Zg==", 4, out, sizeof(out)), 1);
    cr_assert_eq(meta_base64_decode("Z===", 4, out, sizeof(out)), 0);
    cr_assert_eq(meta_base64_decode("Zg=a", 4, out, sizeof(out)), 2); /* '=' counts as 0 */
    cr_assert_eq(meta_base64_decode("Zg==Zg==", 8, out, sizeof(out)), 1); /* stops at the pad */
    cr_assert_eq(meta_base64_decode("Zm9v=", 5, out, sizeof(out)), 0);
    cr_assert_eq(meta_base64_decode("Zm9vZg", 6, out, sizeof(out)), 0);
}

Test(meta, every_split_point_needs_more)
{
    const char *lines[] = {
        "mg foo v c f h k l Oop q s t u N30 R5 T60\r\n",
        "ms foo 5 c C5 F7 I k O1 q T9 MA\r\n",
        "md foo C9 I T3 k O1 q\r\n",
        "ma foo N0 J42 D7 MD T1 t c v q\r\n",
        "mn\r\n",
        "me foo\r\n",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        size_t n = strlen(lines[i]);
        for (size_t cut = 0; cut < n; cut++) {
            struct meta_request m;
            size_t consumed = 99, swallow;
            const char *err;
            cr_assert_eq(meta_parse(lines[i], cut, &m, &consumed, &err, &swallow), PROTO_NEED_MORE,
                         "%s cut at %zu", lines[i], cut);
            cr_assert_eq(consumed, 0);
        }
        struct meta_request m;
        expect_ok(lines[i], &m);
    }
}

Test(meta, endless_line_closes)
{
    char buf[3000];
    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "mg ", 3);
    struct meta_request m;
    size_t consumed, swallow;
    const char *err;
    cr_assert_eq(meta_parse(buf, sizeof(buf), &m, &consumed, &err, &swallow), PROTO_CLOSE);
}

Test(meta, quiet_rules)
{
    struct meta_request m;
    expect_ok("mg k q\r\n", &m);
    cr_assert(meta_quiet(&m, META_EN));
    cr_assert_not(meta_quiet(&m, META_HD));
    cr_assert_not(meta_quiet(&m, META_VA));
    expect_ok("ms k 1 q\r\n", &m);
    cr_assert(meta_quiet(&m, META_HD));
    cr_assert_not(meta_quiet(&m, META_NS));
    cr_assert_not(meta_quiet(&m, META_EX));
    cr_assert_not(meta_quiet(&m, META_NF));
    expect_ok("md k q\r\n", &m);
    cr_assert(meta_quiet(&m, META_HD));
    cr_assert_not(meta_quiet(&m, META_NF));
    expect_ok("ma k q\r\n", &m);
    cr_assert(meta_quiet(&m, META_HD));
    cr_assert(meta_quiet(&m, META_VA));
    cr_assert_not(meta_quiet(&m, META_NF));
    expect_ok("mg k\r\n", &m);
    cr_assert_not(meta_quiet(&m, META_EN));
}

static void expect_encoded(const char *line, const struct meta_result *res, const char *want)
{
    struct meta_request m;
    expect_ok(line, &m);
    struct reply r;
    reply_init(&r, NULL);
    cr_assert_eq(meta_encode(&r, &m, res), 0);
    char *got = flatten(&r);
    cr_assert_str_eq(got, want, "%s", line);
    free(got);
    reply_deinit(&r);
}

Test(meta, encode_mg)
{
    struct meta_result res = {.status = META_VA, .key = "foo", .nkey = 3, .data = "abc", .nbytes = 3,
                              .flags = 5, .cas = 1, .size = 3, .ttl_before = -1};
    expect_encoded("mg foo v f t c s k h l O123 q\r\n", &res, "VA 3 f5 t-1 c1 s3 kfoo h0 l0 O123\r\nabc\r\n");
    res.status = META_HD;
    res.token_sent = true;
    res.stale = true;
    expect_encoded("mg foo k\r\n", &res, "HD kfoo Z X\r\n");
    res.token_sent = false;
    res.win = true;
    expect_encoded("mg foo\r\n", &res, "HD X W\r\n");
    struct meta_result miss = {.status = META_EN, .key = "bar", .nkey = 3, .key_binary = true};
    expect_encoded("mg YmFy b k O1 v t\r\n", &miss, "EN kYmFy b O1\r\n");
    expect_encoded("mg bar v\r\n", &miss, "EN\r\n");
    /* k shows the key the way the item was stored, not by the request's b */
    struct meta_result bin = {.status = META_HD, .key = "b1", .nkey = 2, .key_binary = false};
    expect_encoded("mg YjE= b k\r\n", &bin, "HD kb1\r\n");
    bin.key_binary = true;
    expect_encoded("mg b1 k\r\n", &bin, "HD kYjE= b\r\n");
}

Test(meta, encode_ttl_in_flag_order)
{
    struct meta_result res = {.status = META_HD, .ttl_before = -1, .ttl_vivify = 30, .ttl_touch = 60,
                              .created = true, .touched = true, .win = true};
    expect_encoded("mg k t N30\r\n", &res, "HD t-1 W\r\n");
    expect_encoded("mg k N30 t\r\n", &res, "HD t30 W\r\n");
    expect_encoded("mg k N30 T60 t\r\n", &res, "HD t60 W\r\n");
    expect_encoded("mg k T60 N30 t\r\n", &res, "HD t30 W\r\n");
    struct meta_result hit = {.status = META_HD, .ttl_before = 100, .ttl_touch = 60, .touched = true};
    expect_encoded("mg k t T60\r\n", &hit, "HD t100\r\n");
    expect_encoded("mg k T60 t\r\n", &hit, "HD t60\r\n");
}

Test(meta, encode_ms_md_ma)
{
    struct meta_result res = {.status = META_HD, .key = "k", .nkey = 1, .cas = 20};
    expect_encoded("ms k 1 c k O1 F3 T5 I\r\n", &res, "HD c20 kk O1\r\n");
    res.status = META_EX;
    res.cas = 0;
    res.size = 1;
    expect_encoded("ms k 1 C1 k O1 c t s\r\n", &res, "EX kk O1 c0 s1\r\n");
    res.status = META_NF;
    expect_encoded("md k q k O5 c t\r\n", &res, "NF kk O5\r\n");
    struct meta_result ma = {.status = META_VA, .key = "a3", .nkey = 2, .number = 42, .cas = 32, .ttl_before = 100};
    expect_encoded("ma a3 N100 J42 v t c k O7 s f\r\n", &ma, "VA 2 t100 c32 ka3 O7\r\n42\r\n");
    ma.status = META_NF;
    expect_encoded("ma a3 k O1 c t v\r\n", &ma, "NF ka3 O1\r\n");
}

Test(meta, encode_mn_me)
{
    struct reply r;
    reply_init(&r, NULL);
    cr_assert_eq(meta_encode_mn(&r), 0);
    struct meta_request m;
    expect_ok("me YWJj b\r\n", &m);
    struct meta_debug d = {.key_binary = true, .exp = -30, .la = 2, .cas = 3, .fetched = true, .cls = 1, .size = 63};
    cr_assert_eq(meta_encode_debug(&r, &m, &d), 0);
    char *got = flatten(&r);
    cr_assert_str_eq(got, "MN\r\nME YWJj exp=-30 la=2 cas=3 fetch=yes cls=1 size=63\r\n");
    free(got);
    reply_deinit(&r);
}
