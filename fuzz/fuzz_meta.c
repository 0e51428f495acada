/*
 * fuzz_meta.c - libFuzzer target for the meta protocol parser and encoder.
 *
 * Feeds the input to meta_parse() as a stream of pipelined meta commands
 * (skipping each ms data block and what a CLIENT_ERROR says to swallow) and
 * checks the contract in proto/meta.h:
 *   - *consumed ends on the line's "\n" and never runs past the buffer;
 *   - the request respects its limits (key <= 250 bytes, <= 18 flags,
 *     opaque <= 31 bytes) and does not depend on the bytes after the line;
 *   - a line cut before its "\n" is never complete;
 *   - every outcome encodes into a reply that ends in "\r\n";
 *   - base64 round trips.
 */
#include "config.h"

#include "fuzz/fuzz.h"

#include "proto/meta.h"
#include "proto/proto.h"
#include "proto/reply.h"

#include <string.h>

#define FUZZ_META_MAX_CMDS 256

static void encode_all(struct reply *r, const struct meta_request *req)
{
    static const char value[] = "fuzzvalue";
    for (int s = META_HD; s <= META_EX; s++) {
        struct meta_result res = {
            .status = (enum meta_status)s, .key = req->key, .nkey = req->nkey, .key_binary = req->key_binary,
            .data = value,
            .nbytes = (uint32_t)(req->nkey % sizeof(value)), .flags = req->client_flags, .cas = req->cas,
            .size = 9, .ttl_before = req->ttl, .ttl_touch = req->ttl, .ttl_vivify = req->vivify_ttl,
            .touched = (s & 1) != 0, .created = (s & 2) != 0, .hit_before = true, .last_access = 3,
            .win = s == META_EN, .stale = s == META_VA, .token_sent = s == META_HD, .number = req->delta,
        };
        (void)meta_quiet(req, res.status);
        FUZZ_CHECK(meta_encode(r, req, &res) == 0);
    }
    struct meta_debug d = {.key_binary = req->key_binary, .exp = -1, .la = 1, .cas = req->cas, .fetched = true,
                           .cls = 1, .size = 10};
    FUZZ_CHECK(meta_encode_debug(r, req, &d) == 0);
    FUZZ_CHECK(meta_encode_mn(r) == 0);
}

static void drain(struct reply *r)
{
    char *out;
    size_t n;
    fuzz_drain_reply(r, &out, &n);
    fuzz_check_text_replies(out, n);
    free(out);
}

static void check_base64(const struct meta_request *req)
{
    char enc[4 * ((PROTO_KEY_MAX + 2) / 3) + 1];
    char dec[PROTO_KEY_MAX + 3];
    size_t ne = meta_base64_encode(req->key, req->nkey, enc, sizeof(enc));
    FUZZ_CHECK(ne <= sizeof(enc));
    if (req->nkey > 0) {
        size_t nd = meta_base64_decode(enc, ne, dec, sizeof(dec));
        FUZZ_CHECK(nd == req->nkey && memcmp(dec, req->key, nd) == 0);
    }
}

int fuzz_meta_input(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t pos = 0;
    struct reply r;

    reply_init(&r, NULL);
    for (int ncmd = 0; ncmd < FUZZ_META_MAX_CMDS && pos < size; ncmd++) {
        const char *line = buf + pos;
        size_t left = size - pos;
        (void)meta_is_meta(line, left);
        struct meta_request req;
        size_t consumed = 12345, swallow = 0;
        const char *errmsg = NULL;
        enum proto_status st = meta_parse(line, left, &req, &consumed, &errmsg, &swallow);
        if (st == PROTO_NEED_MORE || st == PROTO_CLOSE)
            break;
        FUZZ_CHECK(consumed >= 1 && consumed <= left);
        FUZZ_CHECK(line[consumed - 1] == '\n');
        FUZZ_CHECK(memchr(line, '\n', consumed - 1) == NULL);

        /* the line alone gives the same answer; cut, it is incomplete */
        char *copy = malloc(consumed);
        FUZZ_CHECK(copy != NULL);
        memcpy(copy, line, consumed);
        struct meta_request again;
        size_t c2 = 0, s2 = 0;
        const char *e2 = NULL;
        FUZZ_CHECK(meta_parse(copy, consumed, &again, &c2, &e2, &s2) == st && c2 == consumed);
        if (st == PROTO_OK)
            FUZZ_CHECK(again.cmd == req.cmd && again.nkey == req.nkey && again.vlen == req.vlen &&
                       again.seen == req.seen && memcmp(again.key, req.key, req.nkey) == 0);
        enum proto_status cut = meta_parse(copy, consumed - 1, &again, &c2, &e2, &s2);
        FUZZ_CHECK(cut == PROTO_NEED_MORE || cut == PROTO_CLOSE);
        free(copy);

        pos += consumed;
        if (st == PROTO_OK) {
            FUZZ_CHECK(req.nkey <= PROTO_KEY_MAX);
            FUZZ_CHECK(req.nflags <= META_FLAGS_MAX);
            FUZZ_CHECK(req.nopaque <= META_OPAQUE_MAX);
            FUZZ_CHECK(req.cmd == META_CMD_MS || req.vlen == 0);
            check_base64(&req);
            encode_all(&r, &req);
            drain(&r);
            if (req.cmd == META_CMD_MS) {
                size_t block = (size_t)req.vlen + 2;
                if (block > size - pos)
                    break;
                pos += block;
            }
        } else if (st == PROTO_CLIENT_ERROR) {
            FUZZ_CHECK(errmsg != NULL);
            if (swallow > size - pos)
                break;
            pos += swallow;
        } else {
            FUZZ_CHECK(st == PROTO_ERROR);
        }
    }
    reply_deinit(&r);
    return 0;
}

#ifdef MCD_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_meta_input(data, size);
}
#endif
