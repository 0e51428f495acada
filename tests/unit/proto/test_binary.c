/*
 * test_binary.c - unit tests of proto/binary.c: every opcode parsed field by
 * field, every split point of every packet, every malformed header, and the
 * exact bytes of every encoder (including zero-copy values and their owner).
 *
 * Requests and expected responses are built here byte by byte, independently
 * of binary_header_encode(), so a byte-order slip in the codec shows up.
 */
#include "config.h"

#include "proto/binary.h"
#include "proto/proto.h"
#include "proto/reply.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- request builder ----------------------------------------------------- */

#define PKT_MAX 2048

struct pkt {
    unsigned char b[PKT_MAX];
    size_t len;
};

static void be16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void be64(unsigned char *p, uint64_t v)
{
    be32(p, (uint32_t)(v >> 32));
    be32(p + 4, (uint32_t)v);
}

/* A packet with explicit lengths (keylen/bodylen may lie; -1 = true length). */
static struct pkt mkraw(unsigned magic, unsigned op, const void *ext, size_t next, const char *key, size_t nkey,
                        const char *val, size_t nval, uint64_t cas, uint32_t opaque, long keylen, long long bodylen)
{
    struct pkt p;

    memset(&p, 0, sizeof(p));
    p.b[0] = (unsigned char)magic;
    p.b[1] = (unsigned char)op;
    be16(p.b + 2, keylen >= 0 ? (uint32_t)keylen : (uint32_t)nkey);
    p.b[4] = (unsigned char)next;
    p.b[5] = 0;
    be16(p.b + 6, 0);
    be32(p.b + 8, bodylen >= 0 ? (uint32_t)bodylen : (uint32_t)(next + nkey + nval));
    be32(p.b + 12, opaque);
    be64(p.b + 16, cas);
    p.len = 24;
    cr_assert(p.len + next + nkey + nval <= PKT_MAX);
    if (next)
        memcpy(p.b + p.len, ext, next);
    p.len += next;
    if (nkey)
        memcpy(p.b + p.len, key, nkey);
    p.len += nkey;
    if (nval)
        memcpy(p.b + p.len, val, nval);
    p.len += nval;
    return p;
}

static struct pkt mkreq(unsigned op, const void *ext, size_t next, const char *key, const char *val, uint64_t cas,
                        uint32_t opaque)
{
    return mkraw(0x80, op, ext, next, key, key ? strlen(key) : 0, val, val ? strlen(val) : 0, cas, opaque, -1, -1);
}

/* ---- parse helpers ------------------------------------------------------- */

#define SENTINEL 0xA5
#define ERR_SENTINEL 0xBEEF

/* Parses exactly buf[0..len) from a heap copy of that size (so an over-read
 * trips the sanitizer). */
static enum proto_status parse_n(const struct pkt *p, size_t len, char **copy, struct mc_request *req,
                                 size_t *consumed, uint16_t *err)
{
    *copy = malloc(len ? len : 1);
    cr_assert_not_null(*copy);
    memcpy(*copy, p->b, len);
    return binary_parse(*copy, len, req, consumed, err);
}

/* Every prefix shorter than `need` gives NEED_MORE with no side effect. */
static void check_splits(const struct pkt *p, size_t need)
{
    struct mc_request req, pristine;
    memset(&pristine, SENTINEL, sizeof(pristine));

    for (size_t i = 0; i < need; i++) {
        char *copy;
        size_t consumed = 777;
        uint16_t err = ERR_SENTINEL;
        memcpy(&req, &pristine, sizeof(req));
        enum proto_status st = parse_n(p, i, &copy, &req, &consumed, &err);
        cr_assert_eq(st, PROTO_NEED_MORE, "opcode 0x%02x split at %zu of %zu: status %d", p->b[1], i, need, st);
        cr_assert_eq(consumed, 0, "split at %zu: consumed %zu", i, consumed);
        cr_assert_eq(err, ERR_SENTINEL, "split at %zu touched err_status", i);
        cr_assert(memcmp(&req, &pristine, sizeof(req)) == 0, "split at %zu touched the request", i);
        free(copy);
    }
}

/* Parses a well-formed request: checks splits, then OK with `need` bytes and
 * with the whole packet. Leaves the request in *req, pointing into *buf
 * (caller frees). */
static void parse_ok(const struct pkt *p, size_t need, struct mc_request *req, char **buf)
{
    check_splits(p, need);

    size_t consumed = 0;
    uint16_t err = ERR_SENTINEL;
    char *copy;
    /* the minimum: header + extras + key */
    enum proto_status st = parse_n(p, need, &copy, req, &consumed, &err);
    cr_assert_eq(st, PROTO_OK, "opcode 0x%02x with %zu bytes: status %d", p->b[1], need, st);
    cr_assert_eq(consumed, need);
    free(copy);
    /* the whole packet, plus a following byte that must not matter */
    struct pkt q = *p;
    q.b[q.len] = 0x80;
    st = parse_n(&q, q.len + 1, buf, req, &consumed, &err);
    cr_assert_eq(st, PROTO_OK);
    cr_assert_eq(consumed, need);
    cr_assert_eq(err, ERR_SENTINEL, "OK must not touch err_status");
}

static void check_key(const struct mc_request *req, const char *buf, size_t off, const char *key)
{
    size_t n = strlen(key);
    cr_assert_eq(req->nkey, n);
    cr_assert_eq(req->key, buf + off, "key must point into the buffer");
    cr_assert(memcmp(req->key, key, n) == 0);
}

static void check_common(const struct mc_request *req, enum mc_cmd cmd, unsigned op, uint32_t opaque, bool quiet,
                         bool return_key)
{
    cr_assert_eq(req->cmd, cmd, "opcode 0x%02x: cmd %d, want %d", op, req->cmd, cmd);
    cr_assert_eq(req->opcode, op);
    cr_assert_eq(req->opaque, opaque);
    cr_assert_eq(req->quiet, quiet, "opcode 0x%02x quiet", op);
    cr_assert_eq(req->return_key, return_key, "opcode 0x%02x return_key", op);
    cr_assert_eq(req->noreply, false);
}

/* ---- parsing: every opcode ----------------------------------------------- */

struct get_case {
    unsigned op;
    bool quiet, rkey;
};

Test(binary_parse, get_family)
{
    const struct get_case cases[] = {
        {BINARY_OP_GET, false, false},
        {BINARY_OP_GETQ, true, false},
        {BINARY_OP_GETK, false, true},
        {BINARY_OP_GETKQ, true, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pkt p = mkreq(cases[i].op, NULL, 0, "foo bar", NULL, 0, 0x01020304u + (uint32_t)i);
        struct mc_request req;
        char *buf;
        parse_ok(&p, p.len, &req, &buf);
        check_common(&req, MC_CMD_GET, cases[i].op, 0x01020304u + (uint32_t)i, cases[i].quiet, cases[i].rkey);
        check_key(&req, buf, 24, "foo bar");
        cr_assert_eq(req.keys, req.key);
        cr_assert_eq(req.keys_len, 7);
        cr_assert_eq(req.vlen, 0);
        cr_assert_eq(req.cas, 0);
        cr_assert_eq(req.exptime, 0);
        free(buf);
    }
}

Test(binary_parse, gat_family_and_touch)
{
    const struct get_case cases[] = {
        {BINARY_OP_GAT, false, false},
        {BINARY_OP_GATQ, true, false},
        {BINARY_OP_GATK, false, true},
        {BINARY_OP_GATKQ, true, true},
        {BINARY_OP_TOUCH, false, false},
    };
    unsigned char ext[4];
    be32(ext, 0xfffffff0u);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pkt p = mkreq(cases[i].op, ext, 4, "k", NULL, 0, 42);
        struct mc_request req;
        char *buf;
        parse_ok(&p, p.len, &req, &buf);
        bool touch = cases[i].op == BINARY_OP_TOUCH;
        check_common(&req, touch ? MC_CMD_TOUCH : MC_CMD_GAT, cases[i].op, 42, cases[i].quiet, cases[i].rkey);
        check_key(&req, buf, 28, "k");
        cr_assert_eq(req.exptime, (int64_t)0xfffffff0u, "exptime is unsigned as sent");
        if (!touch) {
            cr_assert_eq(req.keys, req.key);
            cr_assert_eq(req.keys_len, 1);
        }
        cr_assert_eq(req.vlen, 0);
        free(buf);
    }
}

struct store_case {
    unsigned op;
    enum mc_cmd cmd;
    bool quiet;
};

Test(binary_parse, set_add_replace)
{
    const struct store_case cases[] = {
        {BINARY_OP_SET, MC_CMD_SET, false},     {BINARY_OP_SETQ, MC_CMD_SET, true},
        {BINARY_OP_ADD, MC_CMD_ADD, false},     {BINARY_OP_ADDQ, MC_CMD_ADD, true},
        {BINARY_OP_REPLACE, MC_CMD_REPLACE, false}, {BINARY_OP_REPLACEQ, MC_CMD_REPLACE, true},
    };
    unsigned char ext[8];
    be32(ext, 0xdeadbeefu);
    be32(ext + 4, 3600);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pkt p = mkreq(cases[i].op, ext, 8, "key1", "hello world", 0x1122334455667788ull, 7);
        struct mc_request req;
        char *buf;
        /* the value is not part of the parse: header + extras + key only */
        parse_ok(&p, 24 + 8 + 4, &req, &buf);
        check_common(&req, cases[i].cmd, cases[i].op, 7, cases[i].quiet, false);
        check_key(&req, buf, 32, "key1");
        cr_assert_eq(req.flags, 0xdeadbeefu);
        cr_assert_eq(req.exptime, 3600);
        cr_assert_eq(req.vlen, 11);
        cr_assert_eq(req.cas, 0x1122334455667788ull);
        cr_assert(memcmp(buf + 36, "hello world", 11) == 0);
        free(buf);
    }
}

Test(binary_parse, set_empty_value_and_large_value_announced)
{
    unsigned char ext[8] = {0};
    struct pkt p = mkreq(BINARY_OP_SET, ext, 8, "k", NULL, 0, 1);
    struct mc_request req;
    char *buf;
    parse_ok(&p, p.len, &req, &buf);
    cr_assert_eq(req.vlen, 0);
    free(buf);

    /* a 1 GiB body (memcached 1.6.45's largest) is announced, not awaited */
    p = mkraw(0x80, BINARY_OP_SET, ext, 8, "k", 1, NULL, 0, 0, 1, -1, 0x40000000ll);
    size_t consumed;
    uint16_t err = ERR_SENTINEL;
    cr_assert_eq(binary_parse((const char *)p.b, p.len, &req, &consumed, &err), PROTO_OK);
    cr_assert_eq(consumed, 33);
    cr_assert_eq(req.vlen, 0x40000000u - 9);
}

/* memcached 1.6.45: a body length over 1 GiB is 0x04 and a close, for every
 * opcode, decided from the header alone */
Test(binary_parse, body_over_one_gib_closes)
{
    unsigned char ext[8] = {0};
    const struct {
        unsigned op;
        const unsigned char *ext;
        uint8_t extlen;
        const char *key;
        uint16_t keylen;
    } cases[] = {
        {BINARY_OP_SET, ext, 8, "k", 1},
        {BINARY_OP_GET, NULL, 0, "k", 1},
        {0x30, NULL, 0, NULL, 0},
        {BINARY_OP_SASL_AUTH, NULL, 0, "PLAIN", 5},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long long sizes[] = {0x40000001ll, 0xC0000000ll, 0xffffffffll};
        for (size_t j = 0; j < 3; j++) {
            struct pkt p = mkraw(0x80, cases[i].op, cases[i].ext, cases[i].extlen, cases[i].key, cases[i].keylen,
                                 NULL, 0, 0, 7, -1, sizes[j]);
            struct mc_request req;
            size_t consumed;
            uint16_t err = ERR_SENTINEL;
            cr_assert_eq(binary_parse((const char *)p.b, p.len - 1, &req, &consumed, &err), PROTO_NEED_MORE);
            cr_assert_eq(binary_parse((const char *)p.b, p.len, &req, &consumed, &err), PROTO_CLOSE);
            cr_assert_eq(err, BINARY_STATUS_EINVAL);
            cr_assert_eq(consumed, 24);
            cr_assert_eq(req.opaque, 7);
            cr_assert_eq(req.opcode, cases[i].op);
        }
    }
}

Test(binary_parse, append_prepend)
{
    const struct store_case cases[] = {
        {BINARY_OP_APPEND, MC_CMD_APPEND, false},
        {BINARY_OP_APPENDQ, MC_CMD_APPEND, true},
        {BINARY_OP_PREPEND, MC_CMD_PREPEND, false},
        {BINARY_OP_PREPENDQ, MC_CMD_PREPEND, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pkt p = mkreq(cases[i].op, NULL, 0, "kk", "tail", 99, 8);
        struct mc_request req;
        char *buf;
        parse_ok(&p, 26, &req, &buf);
        check_common(&req, cases[i].cmd, cases[i].op, 8, cases[i].quiet, false);
        check_key(&req, buf, 24, "kk");
        cr_assert_eq(req.vlen, 4);
        cr_assert_eq(req.cas, 99);
        cr_assert_eq(req.flags, 0);
        cr_assert_eq(req.exptime, 0);
        free(buf);
    }
}

Test(binary_parse, delete)
{
    const struct store_case cases[] = {
        {BINARY_OP_DELETE, MC_CMD_DELETE, false},
        {BINARY_OP_DELETEQ, MC_CMD_DELETE, true},
    };
    for (size_t i = 0; i < 2; i++) {
        struct pkt p = mkreq(cases[i].op, NULL, 0, "gone", NULL, 12345, 9);
        struct mc_request req;
        char *buf;
        parse_ok(&p, p.len, &req, &buf);
        check_common(&req, MC_CMD_DELETE, cases[i].op, 9, cases[i].quiet, false);
        check_key(&req, buf, 24, "gone");
        cr_assert_eq(req.cas, 12345);
        cr_assert_eq(req.vlen, 0);
        cr_assert_null(req.keys);
        free(buf);
    }
}

Test(binary_parse, incr_decr)
{
    const struct store_case cases[] = {
        {BINARY_OP_INCREMENT, MC_CMD_INCR, false},
        {BINARY_OP_INCREMENTQ, MC_CMD_INCR, true},
        {BINARY_OP_DECREMENT, MC_CMD_DECR, false},
        {BINARY_OP_DECREMENTQ, MC_CMD_DECR, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int create = 0; create < 2; create++) {
            unsigned char ext[20];
            be64(ext, 0x0102030405060708ull);
            be64(ext + 8, 0x1112131415161718ull);
            be32(ext + 16, create ? 300 : 0xffffffffu);
            struct pkt p = mkreq(cases[i].op, ext, 20, "ctr", NULL, 5, 10);
            struct mc_request req;
            char *buf;
            parse_ok(&p, p.len, &req, &buf);
            check_common(&req, cases[i].cmd, cases[i].op, 10, cases[i].quiet, false);
            check_key(&req, buf, 44, "ctr");
            cr_assert_eq(req.delta, 0x0102030405060708ull);
            cr_assert_eq(req.initial, 0x1112131415161718ull);
            cr_assert_eq(req.create, create != 0);
            if (create)
                cr_assert_eq(req.exptime, 300);
            cr_assert_eq(req.cas, 5);
            cr_assert_eq(req.vlen, 0);
            free(buf);
        }
    }
}

Test(binary_parse, quit_noop_version)
{
    const struct store_case cases[] = {
        {BINARY_OP_QUIT, MC_CMD_QUIT, false},
        {BINARY_OP_QUITQ, MC_CMD_QUIT, true},
        {BINARY_OP_NOOP, MC_CMD_NOOP, false},
        {BINARY_OP_VERSION, MC_CMD_VERSION, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pkt p = mkreq(cases[i].op, NULL, 0, NULL, NULL, 0, 0xffffffffu);
        struct mc_request req;
        char *buf;
        parse_ok(&p, 24, &req, &buf);
        check_common(&req, cases[i].cmd, cases[i].op, 0xffffffffu, cases[i].quiet, false);
        cr_assert_null(req.key);
        cr_assert_eq(req.nkey, 0);
        cr_assert_eq(req.vlen, 0);
        free(buf);
    }
}

Test(binary_parse, flush)
{
    unsigned op[] = {BINARY_OP_FLUSH, BINARY_OP_FLUSHQ};
    for (size_t i = 0; i < 2; i++) {
        struct pkt p = mkreq(op[i], NULL, 0, NULL, NULL, 0, 3);
        struct mc_request req;
        char *buf;
        parse_ok(&p, 24, &req, &buf);
        check_common(&req, MC_CMD_FLUSH_ALL, op[i], 3, i == 1, false);
        cr_assert_eq(req.has_delay, false);
        cr_assert_eq(req.delay, 0);
        free(buf);

        unsigned char ext[4];
        be32(ext, 86400);
        p = mkreq(op[i], ext, 4, NULL, NULL, 0, 4);
        parse_ok(&p, 28, &req, &buf);
        check_common(&req, MC_CMD_FLUSH_ALL, op[i], 4, i == 1, false);
        cr_assert_eq(req.has_delay, true);
        cr_assert_eq(req.delay, 86400);
        free(buf);
    }
}

Test(binary_parse, stat)
{
    struct pkt p = mkreq(BINARY_OP_STAT, NULL, 0, NULL, NULL, 0, 5);
    struct mc_request req;
    char *buf;
    parse_ok(&p, 24, &req, &buf);
    check_common(&req, MC_CMD_STATS, BINARY_OP_STAT, 5, false, false);
    cr_assert_null(req.args);
    cr_assert_eq(req.args_len, 0);
    free(buf);

    p = mkreq(BINARY_OP_STAT, NULL, 0, "settings", NULL, 0, 6);
    parse_ok(&p, 32, &req, &buf);
    check_common(&req, MC_CMD_STATS, BINARY_OP_STAT, 6, false, false);
    cr_assert_eq(req.args_len, 8);
    cr_assert(memcmp(req.args, "settings", 8) == 0);
    cr_assert_null(req.key);
    free(buf);
}

/* A Stat key comes out as the group the text protocol names, by
 * memcached's binary matching rules (prefixes for reset/settings/detail). */
Test(binary_parse, stat_key_names_the_text_group)
{
    static const struct {
        const char *key, *args;
    } cases[] = {
        {"reset x", "reset"},         {"settings ", "settings"},  {"items", "items"},
        {"items ", BINARY_STAT_UNKNOWN_NAME}, {"conns", BINARY_STAT_UNKNOWN_NAME},
        {"detail on", "detail on"},   {"detail offx", "detail off"}, {"detail dump", "detail dump"},
        {"detail", BINARY_STAT_UNKNOWN_NAME}, {"slabs", "slabs"}, {"sizes", "sizes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pkt p = mkreq(BINARY_OP_STAT, NULL, 0, cases[i].key, NULL, 0, 7);
        struct mc_request req;
        char *buf;
        parse_ok(&p, 24 + strlen(cases[i].key), &req, &buf);
        cr_assert_eq(req.args_len, strlen(cases[i].args), "%s", cases[i].key);
        cr_assert(memcmp(req.args, cases[i].args, req.args_len) == 0, "%s -> %.*s", cases[i].key,
                  (int)req.args_len, req.args);
        free(buf);
    }
}

Test(binary_parse, two_packets_back_to_back)
{
    struct pkt a = mkreq(BINARY_OP_GETK, NULL, 0, "a", NULL, 0, 1);
    struct pkt b = mkreq(BINARY_OP_NOOP, NULL, 0, NULL, NULL, 0, 2);
    char buf[128];
    memcpy(buf, a.b, a.len);
    memcpy(buf + a.len, b.b, b.len);
    struct mc_request req;
    size_t consumed;
    uint16_t err;
    cr_assert_eq(binary_parse(buf, a.len + b.len, &req, &consumed, &err), PROTO_OK);
    cr_assert_eq(consumed, a.len);
    cr_assert_eq(req.opaque, 1);
    cr_assert_eq(binary_parse(buf + consumed, b.len, &req, &consumed, &err), PROTO_OK);
    cr_assert_eq(consumed, 24);
    cr_assert_eq(req.cmd, MC_CMD_NOOP);
    cr_assert_eq(req.opaque, 2);
}

Test(binary_parse, key_of_250_is_fine)
{
    char key[251];
    memset(key, 'k', 250);
    key[250] = '\0';
    struct pkt p = mkreq(BINARY_OP_GET, NULL, 0, key, NULL, 0, 1);
    struct mc_request req;
    char *buf;
    parse_ok(&p, p.len, &req, &buf);
    cr_assert_eq(req.nkey, 250);
    free(buf);
}

/* ---- parsing: malformed headers ------------------------------------------ */

/* Header + extras + key, as the header announces them: what memcached
 * 1.6.45 buffers before it judges a header. */
static size_t head_need(const struct pkt *p)
{
    return 24 + (size_t)p->b[4] + ((size_t)p->b[2] << 8 | p->b[3]);
}

/* Expects `st` with `err` and `consumed` from header + extras + key and from
 * the full packet (bytes past p->len read as zeros); below, NEED_MORE. */
static void expect_error(const struct pkt *p, enum proto_status want, uint16_t want_err, size_t want_consumed)
{
    size_t need = head_need(p);
    cr_assert(need <= PKT_MAX);
    check_splits(p, need);
    size_t lens[2] = {need, p->len > need ? p->len : need};
    for (size_t i = 0; i < 2; i++) {
        struct mc_request req;
        memset(&req, SENTINEL, sizeof(req));
        size_t consumed = 777;
        uint16_t err = ERR_SENTINEL;
        char *copy;
        enum proto_status st = parse_n(p, lens[i], &copy, &req, &consumed, &err);
        cr_assert_eq(st, want, "opcode 0x%02x (%zu bytes): status %d, want %d", p->b[1], lens[i], st, want);
        cr_assert_eq(err, want_err, "opcode 0x%02x: err 0x%x, want 0x%x", p->b[1], err, want_err);
        cr_assert_eq(consumed, want_consumed, "opcode 0x%02x: consumed %zu", p->b[1], consumed);
        if (want_err != 0) {
            /* enough for the caller's error reply */
            cr_assert_eq(req.opcode, p->b[1]);
            cr_assert_eq(req.opaque, 0xabcdef01u);
            cr_assert_eq(req.cmd, MC_CMD_NONE);
        }
        free(copy);
    }
}

Test(binary_parse, wrong_magic_closes_silently)
{
    unsigned magics[] = {0x81, 0x00, 'g', 0x7f, 0xff};
    for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
        struct pkt p = mkraw(magics[i], BINARY_OP_NOOP, NULL, 0, NULL, 0, NULL, 0, 0, 1, -1, -1);
        struct mc_request req, pristine;
        memset(&req, SENTINEL, sizeof(req));
        memcpy(&pristine, &req, sizeof(req));
        size_t consumed = 777;
        uint16_t err = ERR_SENTINEL;
        cr_assert_eq(binary_parse((const char *)p.b, p.len, &req, &consumed, &err), PROTO_CLOSE);
        cr_assert_eq(err, 0);
        cr_assert_eq(consumed, 0);
        cr_assert(memcmp(&req, &pristine, sizeof(req)) == 0);
    }
}

Test(binary_parse, key_too_long)
{
    char key[252];
    memset(key, 'k', 251);
    key[251] = '\0';
    unsigned ops[] = {BINARY_OP_GET, BINARY_OP_DELETE, BINARY_OP_STAT, 0x30};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        struct pkt p = mkreq(ops[i], NULL, 0, key, NULL, 0, 0xabcdef01u);
        expect_error(&p, PROTO_CLOSE, BINARY_STATUS_EINVAL, 24);
    }
    unsigned char ext[8] = {0};
    struct pkt p = mkreq(BINARY_OP_SET, ext, 8, key, "v", 0, 0xabcdef01u);
    expect_error(&p, PROTO_CLOSE, BINARY_STATUS_EINVAL, 24);
}

Test(binary_parse, inconsistent_lengths)
{
    /* extlen + keylen > bodylen: memcached answers 0x81 and closes */
    struct pkt p = mkraw(0x80, BINARY_OP_GET, NULL, 0, "kk", 2, NULL, 0, 0, 0xabcdef01u, -1, 1);
    expect_error(&p, PROTO_CLOSE, BINARY_STATUS_UNKNOWN_COMMAND, 24);
    unsigned char ext[8] = {0};
    p = mkraw(0x80, BINARY_OP_SET, ext, 8, "k", 1, NULL, 0, 0, 0xabcdef01u, -1, 8);
    expect_error(&p, PROTO_CLOSE, BINARY_STATUS_UNKNOWN_COMMAND, 24);
    /* keylen alone > bodylen */
    p = mkraw(0x80, BINARY_OP_GET, NULL, 0, "ab", 2, NULL, 0, 0, 0xabcdef01u, 5, 2);
    expect_error(&p, PROTO_CLOSE, BINARY_STATUS_UNKNOWN_COMMAND, 24);
    /* an unknown opcode too: the length check comes first */
    p = mkraw(0x80, 0x30, NULL, 0, "ab", 2, NULL, 0, 0, 0xabcdef01u, -1, 1);
    expect_error(&p, PROTO_CLOSE, BINARY_STATUS_UNKNOWN_COMMAND, 24);
}

/* memcached 1.6.45 buffers header + extras + key before it judges a header;
 * when they cannot fit its 16 KB read buffer, it closes without a reply once
 * the buffer is full (and waits until then). */
Test(binary_parse, extras_and_key_over_16k_close_silently)
{
    const struct {
        unsigned op;
        unsigned extlen;
        unsigned keylen;
        unsigned bodylen;
    } cases[] = {
        {BINARY_OP_GET, 0xff, 0xffff, 0xffff}, /* the sum must not wrap */
        {BINARY_OP_GET, 0, 16361, 100},        /* 24 + 16361 > 16384 */
        {BINARY_OP_SET, 8, 16353, 0x7fffffff},
        {0x30, 255, 16200, 16455},
    };
    char *buf = calloc(1, BINARY_HEAD_MAX);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pkt p = mkraw(0x80, cases[i].op, NULL, 0, NULL, 0, NULL, 0, 0, 1, cases[i].keylen, cases[i].bodylen);
        p.b[4] = (unsigned char)cases[i].extlen;
        memcpy(buf, p.b, 24);
        struct mc_request req;
        size_t consumed = 777;
        uint16_t err = ERR_SENTINEL;
        for (size_t len = 24; len < BINARY_HEAD_MAX; len += 4093) {
            cr_assert_eq(binary_parse(buf, len, &req, &consumed, &err), PROTO_NEED_MORE, "case %zu, %zu bytes", i, len);
            cr_assert_eq(consumed, 0);
        }
        cr_assert_eq(binary_parse(buf, BINARY_HEAD_MAX - 1, &req, &consumed, &err), PROTO_NEED_MORE);
        cr_assert_eq(binary_parse(buf, BINARY_HEAD_MAX, &req, &consumed, &err), PROTO_CLOSE, "case %zu", i);
        cr_assert_eq(err, 0);
        cr_assert_eq(consumed, 0);
    }
    /* exactly 16 KB of header, extras and key is judged as usual */
    struct pkt p = mkraw(0x80, BINARY_OP_GET, NULL, 0, NULL, 0, NULL, 0, 0, 1, 16360, 16360);
    memcpy(buf, p.b, 24);
    struct mc_request req;
    size_t consumed;
    uint16_t err = ERR_SENTINEL;
    cr_assert_eq(binary_parse(buf, BINARY_HEAD_MAX - 1, &req, &consumed, &err), PROTO_NEED_MORE);
    cr_assert_eq(binary_parse(buf, BINARY_HEAD_MAX, &req, &consumed, &err), PROTO_CLOSE);
    cr_assert_eq(err, BINARY_STATUS_EINVAL, "a key over 250 bytes");
    free(buf);
}

struct bad_case {
    const char *what;
    unsigned op;
    size_t next;
    const char *key;
    const char *val;
};

Test(binary_parse, bad_shapes_are_invalid_arguments)
{
    const struct bad_case cases[] = {
        {"get with extras", BINARY_OP_GET, 4, "k", NULL},
        {"getq with extras", BINARY_OP_GETQ, 4, "k", NULL},
        {"get without key", BINARY_OP_GET, 0, NULL, NULL},
        {"getk without key", BINARY_OP_GETK, 0, NULL, NULL},
        {"get with value", BINARY_OP_GET, 0, "k", "v"},
        {"getkq with value", BINARY_OP_GETKQ, 0, "k", "v"},
        {"set without extras", BINARY_OP_SET, 0, "k", "v"},
        {"set with 4 extras", BINARY_OP_SET, 4, "k", "v"},
        {"addq with 20 extras", BINARY_OP_ADDQ, 20, "k", "v"},
        {"replace without key", BINARY_OP_REPLACE, 8, NULL, "v"},
        {"append with extras", BINARY_OP_APPEND, 4, "k", "v"},
        {"prependq without key", BINARY_OP_PREPENDQ, 0, NULL, "v"},
        {"delete with extras", BINARY_OP_DELETE, 4, "k", NULL},
        {"delete with value", BINARY_OP_DELETE, 0, "k", "v"},
        {"deleteq without key", BINARY_OP_DELETEQ, 0, NULL, NULL},
        {"incr without extras", BINARY_OP_INCREMENT, 0, "k", NULL},
        {"incr with 8 extras", BINARY_OP_INCREMENT, 8, "k", NULL},
        {"incr with value", BINARY_OP_INCREMENT, 20, "k", "v"},
        {"decrq without key", BINARY_OP_DECREMENTQ, 20, NULL, NULL},
        {"quit with key", BINARY_OP_QUIT, 0, "k", NULL},
        {"quitq with value", BINARY_OP_QUITQ, 0, NULL, "v"},
        {"flush with 8 extras", BINARY_OP_FLUSH, 8, NULL, NULL},
        {"flush with key", BINARY_OP_FLUSH, 0, "k", NULL},
        {"flushq with value", BINARY_OP_FLUSHQ, 4, NULL, "v"},
        {"noop with key", BINARY_OP_NOOP, 0, "k", NULL},
        {"noop with extras", BINARY_OP_NOOP, 4, NULL, NULL},
        {"noop with value", BINARY_OP_NOOP, 0, NULL, "xx"},
        {"version with key", BINARY_OP_VERSION, 0, "k", NULL},
        {"stat with extras", BINARY_OP_STAT, 4, NULL, NULL},
        {"stat with value", BINARY_OP_STAT, 0, "items", "zz"},
        {"touch without extras", BINARY_OP_TOUCH, 0, "k", NULL},
        {"touch without key", BINARY_OP_TOUCH, 4, NULL, NULL},
        {"gat with 8 extras", BINARY_OP_GAT, 8, "k", NULL},
        {"gat with value", BINARY_OP_GAT, 4, "k", "zz"},
        {"gatkq without key", BINARY_OP_GATKQ, 4, NULL, NULL},
        {"sasl list with body", BINARY_OP_SASL_LIST_MECHS, 0, "k", "v"},
        {"sasl auth without key", BINARY_OP_SASL_AUTH, 0, NULL, "v"},
        {"sasl step with extras", BINARY_OP_SASL_STEP, 4, "PLAIN", "v"},
    };
    unsigned char ext[32];
    memset(ext, 0, sizeof(ext));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_log_info("case: %s", cases[i].what);
        struct pkt p = mkreq(cases[i].op, ext, cases[i].next, cases[i].key, cases[i].val, 0, 0xabcdef01u);
        expect_error(&p, PROTO_CLOSE, BINARY_STATUS_EINVAL, 24);
    }
}

Test(binary_parse, unknown_opcodes_skip_the_body)
{
    unsigned ops[] = {0x1b, 0x25, 0x30, 0x3c, 0x7f, 0xff};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        struct pkt p = mkreq(ops[i], "ext", 3, "key", "value", 0, 0xabcdef01u);
        expect_error(&p, PROTO_ERROR, BINARY_STATUS_UNKNOWN_COMMAND, 30);
        struct mc_request req;
        size_t consumed;
        uint16_t err;
        cr_assert_eq(binary_parse((const char *)p.b, p.len, &req, &consumed, &err), PROTO_ERROR);
        cr_assert_eq(req.vlen, 5, "the caller skips the rest of the body");
        cr_assert_eq(binary_opcode_name((uint8_t)ops[i]), NULL);
    }
    /* a large body is announced from the header alone */
    struct pkt p = mkraw(0x80, 0x30, NULL, 0, NULL, 0, NULL, 0, 0, 0xabcdef01u, -1, 0x40000000ll);
    struct mc_request req;
    size_t consumed;
    uint16_t err;
    cr_assert_eq(binary_parse((const char *)p.b, 24, &req, &consumed, &err), PROTO_ERROR);
    cr_assert_eq(consumed, 24);
    cr_assert_eq(req.vlen, 0x40000000u);
    cr_assert_eq(err, BINARY_STATUS_UNKNOWN_COMMAND);
}

Test(binary_parse, sasl_is_unknown)
{
    struct pkt p = mkreq(BINARY_OP_SASL_LIST_MECHS, NULL, 0, NULL, NULL, 0, 0xabcdef01u);
    expect_error(&p, PROTO_ERROR, BINARY_STATUS_UNKNOWN_COMMAND, 24);
    unsigned ops[] = {BINARY_OP_SASL_AUTH, BINARY_OP_SASL_STEP};
    for (size_t i = 0; i < 2; i++) {
        p = mkreq(ops[i], NULL, 0, "PLAIN", "\0user\0pass", 0, 0xabcdef01u);
        expect_error(&p, PROTO_ERROR, BINARY_STATUS_UNKNOWN_COMMAND, 29);
        struct mc_request req;
        size_t consumed;
        uint16_t err;
        binary_parse((const char *)p.b, p.len, &req, &consumed, &err);
        cr_assert_eq(req.vlen, 0);
    }
    cr_assert_str_eq(binary_opcode_name(BINARY_OP_SASL_AUTH), "sasl_auth");
}

Test(binary_parse, opcode_names)
{
    cr_assert_str_eq(binary_opcode_name(BINARY_OP_GET), "get");
    cr_assert_str_eq(binary_opcode_name(BINARY_OP_GATKQ), "gatkq");
    cr_assert_str_eq(binary_opcode_name(BINARY_OP_TOUCH), "touch");
    cr_assert_null(binary_opcode_name(BINARY_OP_VERBOSITY));
}

Test(binary_header, round_trip)
{
    struct binary_header h = {0x81, 0x0c, 0x1234, 4, 0, 0x0102, 0xa0b0c0d0u, 0x11223344u, 0x0102030405060708ull};
    unsigned char b[24];
    binary_header_encode(b, &h);
    const unsigned char want[24] = {0x81, 0x0c, 0x12, 0x34, 4,    0,    0x01, 0x02, 0xa0, 0xb0, 0xc0, 0xd0,
                                    0x11, 0x22, 0x33, 0x44, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    cr_assert(memcmp(b, want, 24) == 0);
    struct binary_header d;
    binary_header_decode(b, &d);
    cr_assert(memcmp(&d, &h, sizeof(d)) == 0 ||
              (d.magic == h.magic && d.opcode == h.opcode && d.keylen == h.keylen && d.extlen == h.extlen &&
               d.datatype == h.datatype && d.status == h.status && d.bodylen == h.bodylen && d.opaque == h.opaque &&
               d.cas == h.cas));
}

/* ---- encoders ------------------------------------------------------------ */

static int releases;
static void *released_owner;

static void count_release(void *owner)
{
    releases++;
    released_owner = owner;
}

static struct reply rep;

static void enc_setup(void)
{
    releases = 0;
    released_owner = NULL;
    reply_init(&rep, count_release);
}

static void enc_teardown(void)
{
    reply_deinit(&rep);
}

/* The reply's pending bytes gathered into one buffer. */
static size_t gather(unsigned char *out, size_t cap)
{
    size_t n, len = 0;
    const struct iovec *iov = reply_pending(&rep, &n);
    for (size_t i = 0; i < n; i++) {
        cr_assert(len + iov[i].iov_len <= cap);
        if (iov[i].iov_len)
            memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    cr_assert_eq(len, rep.bytes);
    return len;
}

/* An expected response, built by hand. */
static struct pkt mkres(unsigned op, unsigned status, const void *ext, size_t next, const char *key, size_t nkey,
                        const void *val, size_t nval, uint64_t cas, uint32_t opaque)
{
    struct pkt p = mkraw(0x81, op, ext, next, key, nkey, val, nval, cas, opaque, -1, -1);
    be16(p.b + 6, status);
    return p;
}

static void expect_bytes(const struct pkt *want)
{
    unsigned char got[PKT_MAX];
    size_t n = gather(got, sizeof(got));
    cr_assert_eq(n, want->len, "reply is %zu bytes, want %zu", n, want->len);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(got[i], want->b[i], "byte %zu: 0x%02x, want 0x%02x", i, got[i], want->b[i]);
}

static struct mc_request mkr(unsigned op, const char *key)
{
    /* parse a real request so the encoder sees what the server would */
    static char bufs[8][PKT_MAX];
    static int next;
    unsigned char ext[20] = {0};
    size_t next_len = 0;
    const char *val = NULL;
    switch (op) {
    case BINARY_OP_SET: case BINARY_OP_SETQ: case BINARY_OP_ADD: case BINARY_OP_ADDQ:
    case BINARY_OP_REPLACE: case BINARY_OP_REPLACEQ:
        next_len = 8;
        val = "v";
        break;
    case BINARY_OP_APPEND: case BINARY_OP_APPENDQ: case BINARY_OP_PREPEND: case BINARY_OP_PREPENDQ:
        val = "v";
        break;
    case BINARY_OP_INCREMENT: case BINARY_OP_INCREMENTQ: case BINARY_OP_DECREMENT: case BINARY_OP_DECREMENTQ:
        next_len = 20;
        break;
    case BINARY_OP_TOUCH: case BINARY_OP_GAT: case BINARY_OP_GATQ: case BINARY_OP_GATK: case BINARY_OP_GATKQ:
        next_len = 4;
        break;
    default:
        break;
    }
    struct pkt p = mkreq(op, ext, next_len, key, val, 0, 0x5eed0000u + op);
    char *b = bufs[next++ % 8];
    memcpy(b, p.b, p.len);
    struct mc_request req;
    size_t consumed;
    uint16_t err;
    cr_assert_eq(binary_parse(b, p.len, &req, &consumed, &err), PROTO_OK, "opcode 0x%02x", op);
    return req;
}

TestSuite(binary_encode, .init = enc_setup, .fini = enc_teardown);

Test(binary_encode, get_hit_references_the_value)
{
    static char item[] = "KEYhello value";
    const char *data = item + 3;
    struct mc_request req = mkr(BINARY_OP_GET, "KEY");
    struct mc_result res = {.status = MC_VALUE, .key = item, .nkey = 3, .flags = 0xcafef00du,
                            .data = data, .nbytes = 11, .cas = 0x0a0b0c0d0e0f1011ull, .owner = item};
    cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);

    unsigned char fl[4];
    be32(fl, 0xcafef00du);
    struct pkt want = mkres(BINARY_OP_GET, 0, fl, 4, NULL, 0, "hello value", 11, 0x0a0b0c0d0e0f1011ull,
                            0x5eed0000u + BINARY_OP_GET);
    expect_bytes(&want);

    /* the value is one iovec pointing at the item, not a copy */
    size_t n;
    const struct iovec *iov = reply_pending(&rep, &n);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (iov[i].iov_base == (void *)data && iov[i].iov_len == 11)
            found = true;
    cr_assert(found, "value not referenced in place");

    /* the owner is released once, only when the value has been sent */
    reply_consume(&rep, 28 + 10);
    cr_assert_eq(releases, 0);
    reply_consume(&rep, 1);
    cr_assert_eq(releases, 1);
    cr_assert_eq(released_owner, item);
    cr_assert(reply_empty(&rep));
    reply_clear(&rep);
    cr_assert_eq(releases, 1);
}

Test(binary_encode, getk_and_gatk_hits_carry_the_key)
{
    static char val[] = "0123456789";
    unsigned ops[] = {BINARY_OP_GETK, BINARY_OP_GETKQ, BINARY_OP_GATK, BINARY_OP_GATKQ};
    for (size_t i = 0; i < 4; i++) {
        reply_clear(&rep);
        struct mc_request req = mkr(ops[i], "mykey");
        struct mc_result res = {.status = MC_VALUE, .key = "mykey", .nkey = 5, .flags = 7, .data = val,
                                .nbytes = 10, .cas = 99, .owner = val};
        cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
        unsigned char fl[4];
        be32(fl, 7);
        struct pkt want = mkres(ops[i], 0, fl, 4, "mykey", 5, val, 10, 99, 0x5eed0000u + ops[i]);
        expect_bytes(&want);
    }
    reply_clear(&rep);
    cr_assert_eq(releases, 4);
}

Test(binary_encode, key_from_request_when_result_has_none)
{
    struct mc_request req = mkr(BINARY_OP_GETK, "rk");
    struct mc_result res = {.status = MC_VALUE, .flags = 0, .data = "v", .nbytes = 1, .cas = 1};
    cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
    unsigned char fl[4] = {0};
    struct pkt want = mkres(BINARY_OP_GETK, 0, fl, 4, "rk", 2, "v", 1, 1, req.opaque);
    expect_bytes(&want);
}

Test(binary_encode, quiet_gets_send_hits_and_drop_misses)
{
    unsigned ops[] = {BINARY_OP_GETQ, BINARY_OP_GATQ};
    for (size_t i = 0; i < 2; i++) {
        reply_clear(&rep);
        struct mc_request req = mkr(ops[i], "k");
        struct mc_result res = {.status = MC_VALUE, .flags = 1, .data = "abc", .nbytes = 3, .cas = 2};
        cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
        unsigned char fl[4];
        be32(fl, 1);
        struct pkt want = mkres(ops[i], 0, fl, 4, NULL, 0, "abc", 3, 2, req.opaque);
        expect_bytes(&want);
    }
    unsigned qops[] = {BINARY_OP_GETQ, BINARY_OP_GETKQ, BINARY_OP_GATQ, BINARY_OP_GATKQ};
    for (size_t i = 0; i < 4; i++) {
        reply_clear(&rep);
        struct mc_request req = mkr(qops[i], "k");
        struct mc_result miss = {.status = MC_MISS};
        cr_assert_eq(binary_encode_result(&rep, &req, &miss), 0);
        miss.status = MC_NOT_FOUND;
        cr_assert_eq(binary_encode_result(&rep, &req, &miss), 0);
        cr_assert(reply_empty(&rep), "quiet miss must be silent (opcode 0x%02x)", qops[i]);
    }
}

Test(binary_encode, misses)
{
    unsigned plain[] = {BINARY_OP_GET, BINARY_OP_GAT, BINARY_OP_TOUCH};
    for (size_t i = 0; i < 3; i++) {
        reply_clear(&rep);
        struct mc_request req = mkr(plain[i], "nokey");
        struct mc_result res = {.status = MC_MISS};
        cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
        struct pkt want = mkres(plain[i], 1, NULL, 0, NULL, 0, "Not found", 9, 0, req.opaque);
        expect_bytes(&want);
    }
    unsigned keyed[] = {BINARY_OP_GETK, BINARY_OP_GATK};
    for (size_t i = 0; i < 2; i++) {
        reply_clear(&rep);
        struct mc_request req = mkr(keyed[i], "nokey");
        struct mc_result res = {.status = MC_MISS};
        cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
        struct pkt want = mkres(keyed[i], 1, NULL, 0, "nokey", 5, NULL, 0, 0, req.opaque);
        expect_bytes(&want);
        /* MC_NOT_FOUND on a get is the same miss */
        reply_clear(&rep);
        res.status = MC_NOT_FOUND;
        cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
        expect_bytes(&want);
    }
}

Test(binary_encode, touch)
{
    static char item[] = "value";
    struct mc_request req = mkr(BINARY_OP_TOUCH, "k");
    unsigned char fl[4];
    be32(fl, 0x12345678u);
    struct pkt want = mkres(BINARY_OP_TOUCH, 0, fl, 4, NULL, 0, NULL, 0, 77, req.opaque);

    struct mc_result res = {.status = MC_TOUCHED, .flags = 0x12345678u, .cas = 77};
    cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
    expect_bytes(&want);

    /* an item result on Touch: no value, but the owner is still released */
    reply_clear(&rep);
    struct mc_result val = {.status = MC_VALUE, .key = "k", .nkey = 1, .flags = 0x12345678u, .data = item,
                            .nbytes = 5, .cas = 77, .owner = item};
    cr_assert_eq(binary_encode_result(&rep, &req, &val), 0);
    expect_bytes(&want);
    cr_assert_eq(releases, 0);
    reply_consume(&rep, want.len);
    cr_assert_eq(releases, 1);
    cr_assert_eq(released_owner, item);
}

struct status_case {
    unsigned op;
    enum mc_status st;
    unsigned want_status;
    const char *body;
};

Test(binary_encode, error_statuses)
{
    const struct status_case cases[] = {
        {BINARY_OP_ADD, MC_NOT_STORED, 2, "Data exists for key."},
        {BINARY_OP_ADDQ, MC_NOT_STORED, 2, "Data exists for key."},
        {BINARY_OP_REPLACE, MC_NOT_STORED, 1, "Not found"},
        {BINARY_OP_REPLACEQ, MC_NOT_STORED, 1, "Not found"},
        {BINARY_OP_APPEND, MC_NOT_STORED, 5, "Not stored."},
        {BINARY_OP_PREPENDQ, MC_NOT_STORED, 5, "Not stored."},
        {BINARY_OP_SET, MC_NOT_STORED, 5, "Not stored."},
        {BINARY_OP_INCREMENT, MC_NOT_STORED, 5, "Not stored."},
        {BINARY_OP_SET, MC_EXISTS, 2, "Data exists for key."},
        {BINARY_OP_SETQ, MC_EXISTS, 2, "Data exists for key."},
        {BINARY_OP_DELETE, MC_EXISTS, 2, "Data exists for key."},
        {BINARY_OP_SET, MC_NOT_FOUND, 1, "Not found"},
        {BINARY_OP_DELETE, MC_NOT_FOUND, 1, "Not found"},
        {BINARY_OP_DELETEQ, MC_NOT_FOUND, 1, "Not found"},
        {BINARY_OP_INCREMENTQ, MC_NOT_FOUND, 1, "Not found"},
        {BINARY_OP_INCREMENT, MC_NON_NUMERIC, 6, "Non-numeric server-side value for incr or decr"},
        {BINARY_OP_DECREMENTQ, MC_NON_NUMERIC, 6, "Non-numeric server-side value for incr or decr"},
        {BINARY_OP_INCREMENT, MC_INVALID_DELTA, 4, "Invalid arguments"},
        {BINARY_OP_SET, MC_TOO_LARGE, 3, "Too large."},
        {BINARY_OP_APPENDQ, MC_TOO_LARGE, 3, "Too large."},
        {BINARY_OP_SET, MC_NO_MEMORY, 0x82, "Out of memory"},
        {BINARY_OP_GET, MC_NO_MEMORY, 0x82, "Out of memory"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        reply_clear(&rep);
        struct mc_request req = mkr(cases[i].op, "k");
        struct mc_result res = {.status = cases[i].st, .cas = 1234};
        cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
        struct pkt want =
            mkres(cases[i].op, cases[i].want_status, NULL, 0, NULL, 0, cases[i].body, strlen(cases[i].body), 0,
                  req.opaque);
        cr_log_info("case %zu: opcode 0x%02x status %d", i, cases[i].op, cases[i].st);
        expect_bytes(&want);
    }
}

Test(binary_encode, successes)
{
    const struct status_case cases[] = {
        {BINARY_OP_SET, MC_STORED, 0, NULL},     {BINARY_OP_ADD, MC_STORED, 0, NULL},
        {BINARY_OP_REPLACE, MC_STORED, 0, NULL}, {BINARY_OP_APPEND, MC_STORED, 0, NULL},
        {BINARY_OP_PREPEND, MC_STORED, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        reply_clear(&rep);
        struct mc_request req = mkr(cases[i].op, "k");
        struct mc_result res = {.status = MC_STORED, .cas = 0x0102030405060708ull};
        cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
        struct pkt want = mkres(cases[i].op, 0, NULL, 0, NULL, 0, NULL, 0, 0x0102030405060708ull, req.opaque);
        expect_bytes(&want);
    }
    /* delete: success carries cas 0 whatever the result says */
    reply_clear(&rep);
    struct mc_request req = mkr(BINARY_OP_DELETE, "k");
    struct mc_result res = {.status = MC_DELETED, .cas = 55};
    cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
    struct pkt want = mkres(BINARY_OP_DELETE, 0, NULL, 0, NULL, 0, NULL, 0, 0, req.opaque);
    expect_bytes(&want);
    /* flush, noop, quit */
    unsigned ops[] = {BINARY_OP_FLUSH, BINARY_OP_NOOP, BINARY_OP_QUIT};
    enum mc_status sts[] = {MC_FLUSHED, MC_OK, MC_OK};
    for (size_t i = 0; i < 3; i++) {
        reply_clear(&rep);
        req = mkr(ops[i], NULL);
        res = (struct mc_result){.status = sts[i]};
        cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
        want = mkres(ops[i], 0, NULL, 0, NULL, 0, NULL, 0, 0, req.opaque);
        expect_bytes(&want);
    }
}

Test(binary_encode, incr_decr_number)
{
    unsigned ops[] = {BINARY_OP_INCREMENT, BINARY_OP_DECREMENT};
    for (size_t i = 0; i < 2; i++) {
        reply_clear(&rep);
        struct mc_request req = mkr(ops[i], "ctr");
        struct mc_result res = {.status = MC_NUMBER, .number = 0xfedcba9876543210ull, .cas = 8};
        cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
        unsigned char num[8];
        be64(num, 0xfedcba9876543210ull);
        struct pkt want = mkres(ops[i], 0, NULL, 0, NULL, 0, num, 8, 8, req.opaque);
        expect_bytes(&want);
    }
}

Test(binary_encode, quiet_successes_are_silent)
{
    const struct status_case cases[] = {
        {BINARY_OP_SETQ, MC_STORED, 0, NULL},      {BINARY_OP_ADDQ, MC_STORED, 0, NULL},
        {BINARY_OP_REPLACEQ, MC_STORED, 0, NULL},  {BINARY_OP_APPENDQ, MC_STORED, 0, NULL},
        {BINARY_OP_PREPENDQ, MC_STORED, 0, NULL},  {BINARY_OP_DELETEQ, MC_DELETED, 0, NULL},
        {BINARY_OP_INCREMENTQ, MC_NUMBER, 0, NULL}, {BINARY_OP_DECREMENTQ, MC_NUMBER, 0, NULL},
        {BINARY_OP_FLUSHQ, MC_FLUSHED, 0, NULL},   {BINARY_OP_FLUSHQ, MC_OK, 0, NULL},
        {BINARY_OP_QUITQ, MC_OK, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mc_request req = mkr(cases[i].op, BINARY_OP_FLUSHQ == cases[i].op || BINARY_OP_QUITQ == cases[i].op
                                                     ? NULL
                                                     : "k");
        struct mc_result res = {.status = cases[i].st, .number = 1, .cas = 1};
        cr_assert(binary_is_quiet_success(&req, cases[i].st));
        cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
        cr_assert(reply_empty(&rep), "opcode 0x%02x status %d must be silent", cases[i].op, cases[i].st);
        /* the same status on the loud opcode is not suppressed */
        req.quiet = false;
        cr_assert_not(binary_is_quiet_success(&req, cases[i].st));
    }
}

Test(binary_encode, quiet_predicate)
{
    struct mc_request getq = mkr(BINARY_OP_GETKQ, "k");
    cr_assert(binary_is_quiet_success(&getq, MC_MISS));
    cr_assert_not(binary_is_quiet_success(&getq, MC_VALUE));
    cr_assert_not(binary_is_quiet_success(&getq, MC_NO_MEMORY));
    struct mc_request setq = mkr(BINARY_OP_SETQ, "k");
    cr_assert_not(binary_is_quiet_success(&setq, MC_EXISTS));
    cr_assert_not(binary_is_quiet_success(&setq, MC_NOT_STORED));
    cr_assert_not(binary_is_quiet_success(&setq, MC_TOO_LARGE));
    struct mc_request get = mkr(BINARY_OP_GET, "k");
    cr_assert_not(binary_is_quiet_success(&get, MC_MISS));
    struct mc_request incrq = mkr(BINARY_OP_INCREMENTQ, "k");
    cr_assert_not(binary_is_quiet_success(&incrq, MC_NON_NUMERIC));
    cr_assert_not(binary_is_quiet_success(&incrq, MC_NOT_FOUND));
}

Test(binary_encode, end_is_silent)
{
    struct mc_request req = mkr(BINARY_OP_GET, "k");
    struct mc_result res = {.status = MC_END};
    cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
    cr_assert(reply_empty(&rep));
}

Test(binary_encode, version)
{
    struct mc_request req = mkr(BINARY_OP_VERSION, NULL);
    cr_assert_eq(binary_encode_version(&rep, &req, "1.6.18"), 0);
    struct pkt want = mkres(BINARY_OP_VERSION, 0, NULL, 0, NULL, 0, "1.6.18", 6, 0, req.opaque);
    expect_bytes(&want);

    reply_clear(&rep);
    struct mc_result res = {.status = MC_VERSION, .data = "1.6.18", .nbytes = 6};
    cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
    expect_bytes(&want);
}

Test(binary_encode, status_bodies)
{
    const struct {
        uint16_t st;
        const char *body;
    } cases[] = {
        {0x01, "Not found"},
        {0x02, "Data exists for key."},
        {0x03, "Too large."},
        {0x04, "Invalid arguments"},
        {0x05, "Not stored."},
        {0x06, "Non-numeric server-side value for incr or decr"},
        {0x20, "Auth failure."},
        {0x81, "Unknown command"},
        {0x82, "Out of memory"},
        {0x00, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        reply_clear(&rep);
        /* errors go out even for a quiet opcode */
        struct mc_request req = mkr(BINARY_OP_SETQ, "k");
        cr_assert_eq(binary_encode_status(&rep, &req, cases[i].st), 0);
        struct pkt want = mkres(BINARY_OP_SETQ, cases[i].st, NULL, 0, NULL, 0, cases[i].body,
                                strlen(cases[i].body), 0, req.opaque);
        expect_bytes(&want);
        cr_assert_str_eq(binary_status_text(cases[i].st), cases[i].body);
    }
}

Test(binary_encode, error_reply_for_a_rejected_header)
{
    /* what a caller does on PROTO_ERROR / PROTO_CLOSE with err_status */
    struct pkt p = mkreq(0x30, NULL, 0, "k", "v", 0, 0x01020304u);
    struct mc_request req;
    size_t consumed;
    uint16_t err;
    cr_assert_eq(binary_parse((const char *)p.b, p.len, &req, &consumed, &err), PROTO_ERROR);
    cr_assert_eq(binary_encode_status(&rep, &req, err), 0);
    struct pkt want = mkres(0x30, 0x81, NULL, 0, NULL, 0, "Unknown command", 15, 0, 0x01020304u);
    expect_bytes(&want);
}

Test(binary_encode, stats)
{
    struct mc_request req = mkr(BINARY_OP_STAT, NULL);
    cr_assert_eq(binary_encode_stat(&rep, &req, "pid", "1234"), 0);
    cr_assert_eq(binary_encode_stat(&rep, &req, "uptime", ""), 0);
    cr_assert_eq(binary_encode_stat(&rep, &req, NULL, NULL), 0);
    struct pkt a = mkres(BINARY_OP_STAT, 0, NULL, 0, "pid", 3, "1234", 4, 0, req.opaque);
    struct pkt b = mkres(BINARY_OP_STAT, 0, NULL, 0, "uptime", 6, NULL, 0, 0, req.opaque);
    struct pkt c = mkres(BINARY_OP_STAT, 0, NULL, 0, NULL, 0, NULL, 0, 0, req.opaque);
    struct pkt want;
    memcpy(want.b, a.b, a.len);
    memcpy(want.b + a.len, b.b, b.len);
    memcpy(want.b + a.len + b.len, c.b, c.len);
    want.len = a.len + b.len + c.len;
    expect_bytes(&want);
}

Test(binary_encode, many_values_keep_their_owners)
{
    /* enough pieces to make the reply grow its arrays and arena */
    static char vals[200][16];
    struct mc_request req = mkr(BINARY_OP_GETKQ, "k");
    for (int i = 0; i < 200; i++) {
        snprintf(vals[i], sizeof(vals[i]), "v%06d", i);
        struct mc_result res = {.status = MC_VALUE, .key = "k", .nkey = 1, .data = vals[i], .nbytes = 7,
                                .cas = (uint64_t)i, .owner = vals[i]};
        cr_assert_eq(binary_encode_result(&rep, &req, &res), 0);
    }
    cr_assert_eq(rep.bytes, 200u * (24 + 4 + 1 + 7));
    unsigned char *all = malloc(rep.bytes);
    size_t n = 0, cnt;
    const struct iovec *iov = reply_pending(&rep, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        memcpy(all + n, iov[i].iov_base, iov[i].iov_len);
        n += iov[i].iov_len;
    }
    for (int i = 0; i < 200; i++) {
        const unsigned char *p = all + (size_t)i * 36;
        cr_assert_eq(p[0], 0x81);
        cr_assert_eq(p[1], BINARY_OP_GETKQ);
        cr_assert_eq(p[23], (unsigned char)i);
        cr_assert(memcmp(p + 29, vals[i], 7) == 0);
    }
    free(all);
    reply_consume(&rep, rep.bytes);
    cr_assert_eq(releases, 200);
}

/* Stat keys as memcached 1.6.45 matches them over the binary protocol
 * (recorded: "reset x" resets, "items " is not found, "detail on" lists
 * nothing, "conns" is not found). */
Test(binary_stat_group, prefixes_and_exact_names)
{
    const struct {
        const char *key;
        enum binary_stat_group g;
    } cases[] = {
        {"", BINARY_STAT_GENERAL},
        {"reset", BINARY_STAT_RESET},
        {"reset x", BINARY_STAT_RESET},
        {"resetting", BINARY_STAT_RESET},
        {"settings", BINARY_STAT_SETTINGS},
        {"settings ", BINARY_STAT_SETTINGS},
        {"items", BINARY_STAT_ITEMS},
        {"items ", BINARY_STAT_UNKNOWN},
        {"items x", BINARY_STAT_UNKNOWN},
        {" items", BINARY_STAT_UNKNOWN},
        {"ITEMS", BINARY_STAT_UNKNOWN},
        {"slabs", BINARY_STAT_SLABS},
        {"slabs ", BINARY_STAT_UNKNOWN},
        {"sizes", BINARY_STAT_SIZES},
        {"sizes_enable", BINARY_STAT_UNKNOWN},
        {"detail", BINARY_STAT_UNKNOWN},
        {"detail foo", BINARY_STAT_UNKNOWN},
        {"detail  on", BINARY_STAT_UNKNOWN},
        {"detail on", BINARY_STAT_DETAIL_ON},
        {"detail onx", BINARY_STAT_DETAIL_ON},
        {"detail off", BINARY_STAT_DETAIL_OFF},
        {"detail dump", BINARY_STAT_DETAIL_DUMP},
        {"conns", BINARY_STAT_UNKNOWN},
        {"extstore", BINARY_STAT_UNKNOWN},
        {"cachedump 1 1", BINARY_STAT_UNKNOWN},
        {"bogus", BINARY_STAT_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_assert_eq(binary_stat_group(cases[i].key, strlen(cases[i].key)), cases[i].g, "key \"%s\"", cases[i].key);
}

/* memcached words one 0x82 by where it happened */
Test(binary_encode, error_with_its_own_text, .init = enc_setup, .fini = enc_teardown)
{
    static const char text[] = "Out of memory allocating item";
    struct mc_request req = {.opcode = BINARY_OP_SETQ, .opaque = 0x01020304u, .quiet = true};
    cr_assert_eq(binary_encode_error(&rep, &req, BINARY_STATUS_ENOMEM, text), 0);
    struct pkt want = mkres(BINARY_OP_SETQ, 0x82, NULL, 0, NULL, 0, text, sizeof(text) - 1, 0, 0x01020304u);
    expect_bytes(&want);
}
