/*
 * fuzz_binary.c - libFuzzer target for the binary protocol decoder and
 * encoders.
 *
 * Feeds the input to binary_parse() as a stream of pipelined packets, the
 * way server/conn.c does (skipping values and unknown bodies), and checks
 * the contract in proto/binary.h:
 *   - PROTO_OK consumes exactly header + extras + key, the key lies inside
 *     the packet and is at most 250 bytes, only storage opcodes carry a
 *     value, and no body is over 1 GiB (that closes with 0x04); nothing is
 *     decided before header + extras + key are there (over 16 KB of them
 *     close silently);
 *   - a Stat key always classifies (binary_stat_group);
 *   - a packet cut short is NEED_MORE, never a different answer;
 *   - every result encoded for the request (all mc_status values) is a
 *     well-formed response packet (or nothing, for quiet successes), and
 *     the reply can be sent in any pieces.
 */
#include "config.h"

#include "fuzz/fuzz.h"

#include "proto/binary.h"
#include "proto/proto.h"
#include "proto/reply.h"

#include <string.h>

#define FUZZ_BINARY_MAX_PACKETS 256

static void encode_all(struct reply *r, const struct mc_request *req)
{
    static const char value[] = "0123456789abcdef";
    for (int s = MC_OK; s <= MC_SHUTDOWN_DISABLED; s++) {
        struct mc_result res = {.status = (enum mc_status)s, .flags = 0xdeadbeef, .cas = 42, .number = 7};
        if (s == MC_CLIENT_ERROR || s == MC_DETAIL_DUMP) {
            res.data = "END\r\n";
            res.nbytes = 5;
        }
        if (s == MC_VALUE || s == MC_VERSION) {
            res.key = req->key;
            res.nkey = req->nkey;
            res.data = value;
            res.nbytes = (uint32_t)(req->nkey % sizeof(value));
        }
        FUZZ_CHECK(binary_encode_result(r, req, &res) == 0);
    }
    if (req->cmd == MC_CMD_STATS) {
        enum binary_stat_group g = binary_stat_group(req->args, req->args_len);
        FUZZ_CHECK(g >= BINARY_STAT_GENERAL && g <= BINARY_STAT_UNKNOWN);
        FUZZ_CHECK((g == BINARY_STAT_GENERAL) == (req->args_len == 0));
        FUZZ_CHECK(binary_encode_stat(r, req, "pid", "1") == 0);
        FUZZ_CHECK(binary_encode_stat(r, req, NULL, NULL) == 0);
    }
    FUZZ_CHECK(binary_encode_version(r, req, "1.6.45") == 0);
    FUZZ_CHECK(binary_encode_status(r, req, BINARY_STATUS_EINVAL) == 0);
    FUZZ_CHECK(binary_encode_error(r, req, BINARY_STATUS_ENOMEM, "Out of memory allocating item") == 0);
}

static void drain(struct reply *r)
{
    char *out;
    size_t n;
    fuzz_drain_reply(r, &out, &n);
    fuzz_check_binary_responses(out, n);
    free(out);
}

int fuzz_binary_input(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t pos = 0;
    struct reply r;

    reply_init(&r, NULL);
    for (int n = 0; n < FUZZ_BINARY_MAX_PACKETS && pos < size; n++) {
        struct mc_request req;
        size_t consumed = 12345;
        uint16_t err = 0xffff;
        const char *pkt = buf + pos;
        size_t left = size - pos;
        enum proto_status st = binary_parse(pkt, left, &req, &consumed, &err);

        if (st == PROTO_NEED_MORE) {
            FUZZ_CHECK(consumed == 0);
            break;
        }
        FUZZ_CHECK(st != PROTO_CLIENT_ERROR);
        FUZZ_CHECK(consumed <= left);
        if (st == PROTO_CLOSE) {
            struct binary_header ch;
            binary_header_decode(pkt, &ch);
            size_t head = BINARY_HEADER_LEN + (size_t)ch.extlen + ch.keylen;
            if (ch.magic == BINARY_MAGIC_REQUEST && head > BINARY_HEAD_MAX)
                FUZZ_CHECK(err == 0 && left >= BINARY_HEAD_MAX);
            else if (ch.magic == BINARY_MAGIC_REQUEST)
                FUZZ_CHECK(left >= head && (ch.bodylen <= BINARY_BODY_MAX || err == BINARY_STATUS_EINVAL));
            if (err != 0) {
                FUZZ_CHECK(consumed == BINARY_HEADER_LEN);
                FUZZ_CHECK(binary_encode_status(&r, &req, err) == 0);
                drain(&r);
            } else {
                FUZZ_CHECK(consumed == 0);
            }
            break;
        }
        FUZZ_CHECK(consumed >= BINARY_HEADER_LEN);

        /* a cut packet is incomplete, never different */
        struct mc_request again;
        size_t c2 = 1;
        uint16_t e2 = 0;
        char *copy = malloc(consumed);
        FUZZ_CHECK(copy != NULL);
        memcpy(copy, pkt, consumed);
        FUZZ_CHECK(binary_parse(copy, consumed - 1, &again, &c2, &e2) == PROTO_NEED_MORE);
        FUZZ_CHECK(c2 == 0);
        FUZZ_CHECK(binary_parse(copy, consumed, &again, &c2, &e2) == st && c2 == consumed);
        free(copy);

        if (st == PROTO_ERROR) {
            FUZZ_CHECK(err == BINARY_STATUS_UNKNOWN_COMMAND);
            FUZZ_CHECK(req.cmd == MC_CMD_NONE);
            FUZZ_CHECK(binary_encode_status(&r, &req, err) == 0);
            drain(&r);
        } else {
            struct binary_header h;
            binary_header_decode(pkt, &h);
            FUZZ_CHECK(consumed == BINARY_HEADER_LEN + (size_t)h.extlen + h.keylen);
            FUZZ_CHECK((uint64_t)consumed - BINARY_HEADER_LEN + req.vlen == h.bodylen);
            FUZZ_CHECK(h.bodylen <= BINARY_BODY_MAX);
            FUZZ_CHECK(req.nkey <= PROTO_KEY_MAX);
            if (req.nkey > 0)
                FUZZ_CHECK(req.key >= pkt && req.key + req.nkey <= pkt + consumed);
            if (req.args_len > 0) /* a Stat key, named as the text group it asks for */
                FUZZ_CHECK(req.cmd == MC_CMD_STATS && strlen(req.args) == req.args_len);
            FUZZ_CHECK(!req.noreply);
            if (req.vlen > 0)
                FUZZ_CHECK(req.cmd == MC_CMD_SET || req.cmd == MC_CMD_ADD || req.cmd == MC_CMD_REPLACE ||
                           req.cmd == MC_CMD_APPEND || req.cmd == MC_CMD_PREPEND);
            encode_all(&r, &req);
            drain(&r);
        }
        pos += consumed;
        if (req.vlen > size - pos)
            break;
        pos += req.vlen;
    }
    reply_deinit(&r);
    return 0;
}

#ifdef MCD_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_binary_input(data, size);
}
#endif
