/*
 * fuzz_text.c - libFuzzer target for the text protocol parser and encoder.
 *
 * Feeds the input to text_parse() as a stream of pipelined commands, the
 * way server/conn.c does (skipping each storage command's data block), and
 * checks what the parser promises in proto/text.h:
 *   - *consumed never runs past the buffer and ends on the line's "\n";
 *   - every pointer in the request points into that line, keys are 1..250
 *     bytes and contain no space;
 *   - the result of a line does not depend on the bytes after it, and a
 *     line cut before its "\n" is never complete (NEED_MORE or CLOSE);
 *   - encoding a result for each outcome gives a reply whose iovecs add up,
 *     ends in "\r\n" and can be sent in any pieces.
 */
#include "config.h"

#include "fuzz/fuzz.h"

#include "proto/proto.h"
#include "proto/reply.h"
#include "proto/text.h"

#include <stdbool.h>
#include <string.h>

/* Stop after this many commands per input so one input stays fast. */
#define FUZZ_TEXT_MAX_CMDS 256

static bool is_storage(enum mc_cmd cmd)
{
    return cmd == MC_CMD_SET || cmd == MC_CMD_ADD || cmd == MC_CMD_REPLACE || cmd == MC_CMD_APPEND ||
           cmd == MC_CMD_PREPEND || cmd == MC_CMD_CAS;
}

static void check_in(const char *p, size_t n, const char *lo, const char *hi)
{
    if (n == 0)
        return;
    FUZZ_CHECK(p != NULL);
    FUZZ_CHECK(p >= lo && p + n <= hi);
}

static void check_key(const char *key, size_t nkey, const char *lo, const char *hi)
{
    FUZZ_CHECK(nkey >= 1 && nkey <= PROTO_KEY_MAX);
    check_in(key, nkey, lo, hi);
    FUZZ_CHECK(memchr(key, ' ', nkey) == NULL);
}

static void check_text_reply(struct reply *r)
{
    char *out;
    size_t n;
    fuzz_drain_reply(r, &out, &n);
    fuzz_check_text_replies(out, n);
    free(out);
}

/* Encodes a plausible result for a parsed request, as the command layer would. */
static void encode_ok(struct reply *r, const struct mc_request *req)
{
    static const char value[] = "fuzzvalue";
    struct mc_result res = {.status = MC_OK};
    const char *key;
    size_t nkey, pos = 0;

    switch (req->cmd) {
    case MC_CMD_GET:
    case MC_CMD_GETS:
    case MC_CMD_GAT:
    case MC_CMD_GATS:
        while (text_next_key(req, &pos, &key, &nkey)) {
            res = (struct mc_result){.status = MC_VALUE, .key = key, .nkey = nkey, .flags = req->flags,
                                     .data = value, .nbytes = (uint32_t)(nkey % sizeof(value)),
                                     .cas = req->cas};
            FUZZ_CHECK(text_encode_result(r, req->cmd, &res) == 0);
        }
        res = (struct mc_result){.status = MC_END};
        break;
    case MC_CMD_INCR:
    case MC_CMD_DECR:
        res = (struct mc_result){.status = MC_NUMBER, .number = req->delta};
        break;
    case MC_CMD_VERSION:
        res = (struct mc_result){.status = MC_VERSION};
        break;
    case MC_CMD_STATS:
        FUZZ_CHECK(text_encode_stat(r, "args", "%.*s", (int)req->args_len, req->args) == 0);
        res = (struct mc_result){.status = MC_END};
        break;
    case MC_CMD_DELETE:
        res.status = MC_DELETED;
        break;
    case MC_CMD_TOUCH:
        res.status = MC_TOUCHED;
        break;
    case MC_CMD_FLUSH_ALL:
        res.status = MC_FLUSHED;
        break;
    default:
        res.status = (enum mc_status)(req->vlen % (MC_LINE + 1));
        if (res.status == MC_VALUE)
            res.status = MC_STORED;
        /* each status with the data the command layer gives it: a message
         * (NUL-terminated), raw lines that end in "\r\n" (the detail dump,
         * refresh_certs), or a body (config) */
        if (res.status == MC_CLIENT_ERROR || res.status == MC_LINE) {
            res.data = "bad data chunk";
            res.nbytes = 14;
        } else if (res.status == MC_DETAIL_DUMP) {
            res.data = "PREFIX k get 1 hit 0 set 0 del 0\r\nEND\r\n";
            res.nbytes = (uint32_t)strlen(res.data);
        } else if (res.status == MC_CONFIG) {
            res.data = "1\nlocalhost|127.0.0.1|11211";
            res.nbytes = (uint32_t)strlen(res.data);
        }
        break;
    }
    FUZZ_CHECK(text_encode_result(r, req->cmd, &res) == 0);
}

static void check_request(const struct mc_request *req, const char *line, const char *end)
{
    FUZZ_CHECK(req->cmd > MC_CMD_NONE && req->cmd < MC_CMD__COUNT);
    check_in(req->args, req->args_len, line, end);
    switch (req->cmd) {
    case MC_CMD_GET:
    case MC_CMD_GETS:
    case MC_CMD_GAT:
    case MC_CMD_GATS: {
        check_in(req->keys, req->keys_len, line, end);
        const char *key;
        size_t nkey, pos = 0, nkeys = 0;
        while (text_next_key(req, &pos, &key, &nkey)) {
            check_key(key, nkey, line, end);
            FUZZ_CHECK(++nkeys <= req->keys_len);
        }
        FUZZ_CHECK(nkeys > 0 || req->cmd == MC_CMD_GAT || req->cmd == MC_CMD_GATS);
        break;
    }
    case MC_CMD_SET:
    case MC_CMD_ADD:
    case MC_CMD_REPLACE:
    case MC_CMD_APPEND:
    case MC_CMD_PREPEND:
    case MC_CMD_CAS:
    case MC_CMD_DELETE:
    case MC_CMD_INCR:
    case MC_CMD_DECR:
    case MC_CMD_TOUCH:
        check_key(req->key, req->nkey, line, end);
        break;
    default:
        break;
    }
    if (!is_storage(req->cmd))
        FUZZ_CHECK(req->vlen == 0);
}

/* The same line parsed alone must give the same answer, and the line cut
 * before its "\n" must not be complete. */
static void check_line_alone(const char *line, size_t consumed, enum proto_status st, const struct mc_request *req)
{
    struct mc_request again;
    size_t consumed2 = 0;
    const char *errmsg2 = NULL;

    char *copy = malloc(consumed);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, line, consumed);
    enum proto_status st2 = text_parse(copy, consumed, &again, &consumed2, &errmsg2);
    FUZZ_CHECK(st2 == st);
    FUZZ_CHECK(consumed2 == consumed);
    if (st == PROTO_OK) {
        FUZZ_CHECK(again.cmd == req->cmd);
        FUZZ_CHECK(again.nkey == req->nkey && again.keys_len == req->keys_len);
        FUZZ_CHECK(again.vlen == req->vlen && again.noreply == req->noreply);
        FUZZ_CHECK(again.flags == req->flags && again.exptime == req->exptime);
        FUZZ_CHECK(again.cas == req->cas && again.delta == req->delta);
    }
    consumed2 = 1;
    st2 = text_parse(copy, consumed - 1, &again, &consumed2, &errmsg2);
    FUZZ_CHECK(st2 == PROTO_NEED_MORE || st2 == PROTO_CLOSE);
    FUZZ_CHECK(consumed2 == 0);
    free(copy);
}

int fuzz_text_input(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t pos = 0;
    struct reply r;

    reply_init(&r, NULL);
    for (int ncmd = 0; ncmd < FUZZ_TEXT_MAX_CMDS && pos < size; ncmd++) {
        struct mc_request req;
        size_t consumed = 12345;
        const char *errmsg = NULL;
        const char *line = buf + pos;
        size_t left = size - pos;
        enum proto_status st = text_parse(line, left, &req, &consumed, &errmsg);

        if (st == PROTO_NEED_MORE || st == PROTO_CLOSE) {
            FUZZ_CHECK(consumed == 0);
            if (st == PROTO_NEED_MORE)
                FUZZ_CHECK(memchr(line, '\n', left) == NULL);
            break;
        }
        FUZZ_CHECK(consumed >= 1 && consumed <= left);
        FUZZ_CHECK(line[consumed - 1] == '\n');
        FUZZ_CHECK(memchr(line, '\n', consumed - 1) == NULL);
        check_line_alone(line, consumed, st, &req);

        switch (st) {
        case PROTO_OK:
            check_request(&req, line, line + consumed);
            encode_ok(&r, &req);
            break;
        case PROTO_ERROR:
            /* a trailing noreply silences ERROR (never for stats) */
            FUZZ_CHECK(!req.noreply || req.cmd != MC_CMD_STATS);
            if (!req.noreply)
                FUZZ_CHECK(text_encode_error(&r) == 0);
            break;
        case PROTO_CLIENT_ERROR:
            FUZZ_CHECK(errmsg != NULL);
            /* only a storage header swallows (its length + 2) */
            FUZZ_CHECK(req.vlen == 0 || (is_storage(req.cmd) && req.vlen >= 2 && req.vlen <= INT32_MAX));
            if (!req.noreply)
                FUZZ_CHECK(text_encode_client_error(&r, errmsg) == 0);
            break;
        default:
            FUZZ_CHECK(!"unexpected status");
        }
        check_text_reply(&r);

        pos += consumed;
        if ((st == PROTO_OK && is_storage(req.cmd)) || (st == PROTO_CLIENT_ERROR && req.vlen > 0)) {
            /* skip the data block and its terminator, as the server reads them */
            size_t block = (size_t)req.vlen + (st == PROTO_OK ? 2 : 0);
            if (block > size - pos)
                break;
            pos += block;
        }
        if (st == PROTO_OK && req.cmd == MC_CMD_QUIT)
            break;
    }
    reply_deinit(&r);
    return 0;
}

#ifdef MCD_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_text_input(data, size);
}
#endif
