/*
 * fuzz_request_path.c - libFuzzer target for the whole request path in one
 * process: parse (text or binary, sniffed from the first byte as the server
 * does) -> execute against a small real store -> encode -> "send" the reply.
 *
 * server/process.c works on a `struct conn` and its worker (libevent,
 * per-thread stats, settings), so linking it here is impractical; this file
 * carries a mini command executor instead that makes the same store calls
 * with the same arguments for every command (see exec_request). What is
 * under test is proto/ and store/ driven by hostile input: item reference
 * counts across replies, out of memory and eviction in a 2 MB store (16 KB
 * items), hash table growth (store_maintain every 16 commands, hashpower
 * 4), TTL expiry (the clock ticks one second per command), and these
 * invariants:
 *   - a set/add/replace that answered STORED reads back byte for byte;
 *   - a delete that answered DELETED reads back as a miss;
 *   - an incr/decr result is what a get then returns;
 *   - once every reply is sent, no chunk is still held: the slab's used
 *     chunks equal the linked items (no reference leaked);
 *   - text replies end in "\r\n", binary replies are whole packets.
 * The store is set up and torn down per input, so inputs are independent.
 */
#include "config.h"

#include "fuzz/fuzz.h"

#include "proto/binary.h"
#include "proto/proto.h"
#include "proto/reply.h"
#include "proto/text.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#define FUZZ_PATH_MAX_CMDS 512

struct fx {
    struct reply out;
    struct store_tstats ts;
    bool binary;
    bool flushed;      /* a flush_all ran: read-back checks are off */
    rel_time_t now;
    const char *buf;   /* the whole input */
    size_t size;
    size_t pos;        /* next unparsed byte */
};

/* the fuzzer's own look-ups: counted nowhere, the item left as it was */
static const struct store_get_opts quiet = {.kind = STORE_GET_QUIET, .no_bump = true};

static void release_item(void *owner)
{
    item_release(owner);
}

static void emit(struct fx *f, const struct mc_request *req, const struct mc_result *res)
{
    int rc = f->binary ? binary_encode_result(&f->out, req, res) : text_encode_result(&f->out, req->cmd, res);
    FUZZ_CHECK(rc == 0);
}

static void emit_status(struct fx *f, const struct mc_request *req, enum mc_status st)
{
    if (req->noreply)
        return;
    struct mc_result res = {.status = st};
    emit(f, req, &res);
}

static void emit_server_error(struct fx *f, const struct mc_request *req, enum mc_status st, const char *msg)
{
    struct mc_result res = {.status = st};
    int rc = f->binary ? binary_encode_result(&f->out, req, &res) : text_encode_server_error(&f->out, msg);
    FUZZ_CHECK(rc == 0);
}

static void get_one(struct fx *f, const struct mc_request *req, const char *key, size_t nkey, rel_time_t exptime)
{
    struct item *it;
    if (req->cmd == MC_CMD_GAT || req->cmd == MC_CMD_GATS)
        it = store_get(key, nkey, &(struct store_get_opts){.touch = true, .touch_exptime = exptime}, NULL, &f->ts);
    else
        it = store_get(key, nkey, NULL, NULL, &f->ts);
    if (it == NULL) {
        struct mc_result res = {.status = MC_MISS, .key = key, .nkey = nkey};
        emit(f, req, &res);
        return;
    }
    FUZZ_CHECK(item_nkey(it) == nkey && memcmp(item_key(it), key, nkey) == 0);
    struct mc_result res = {
        .status = MC_VALUE, .key = item_key(it), .nkey = item_nkey(it), .flags = item_flags(it),
        .data = item_data(it), .nbytes = item_nbytes(it), .cas = item_cas(it), .owner = it,
    };
    emit(f, req, &res); /* the reply now holds the reference */
}

static enum store_mode mode_of(enum mc_cmd cmd)
{
    switch (cmd) {
    case MC_CMD_ADD: return STORE_ADD;
    case MC_CMD_REPLACE: return STORE_REPLACE;
    case MC_CMD_APPEND: return STORE_APPEND;
    case MC_CMD_PREPEND: return STORE_PREPEND;
    case MC_CMD_CAS: return STORE_CAS;
    default: return STORE_SET;
    }
}

/* Returns false when the input ends inside the data block. */
static bool exec_storage(struct fx *f, const struct mc_request *req)
{
    size_t need = (size_t)req->vlen + (f->binary ? 0 : 2);
    if (need > f->size - f->pos)
        return false;
    const char *data = f->buf + f->pos;
    f->pos += need;

    enum store_status st;
    struct item *it = store_alloc(req->key, req->nkey, req->flags, store_exptime_convert(req->exptime), req->vlen,
                                  &f->ts, &st);
    if (it == NULL) {
        FUZZ_CHECK(st == STORE_TOO_LARGE || st == STORE_NO_MEMORY);
        if (st == STORE_TOO_LARGE)
            emit_server_error(f, req, MC_TOO_LARGE, "object too large for cache");
        else
            emit_server_error(f, req, MC_NO_MEMORY, "out of memory storing object");
        if (req->cmd == MC_CMD_SET)
            store_delete(req->key, req->nkey, NULL, &f->ts);
        return true;
    }
    FUZZ_CHECK(item_nbytes(it) == req->vlen);
    memcpy(item_data(it), data, req->vlen);
    if (!f->binary && (data[req->vlen] != '\r' || data[req->vlen + 1] != '\n')) {
        if (!req->noreply)
            FUZZ_CHECK(text_encode_client_error(&f->out, "bad data chunk") == 0);
        item_release(it);
        return true;
    }
    enum store_mode mode = mode_of(req->cmd);
    struct store_link_out out = {0};
    st = store_link(it, &(struct store_link_opts){.mode = mode, .cas = req->cas}, &out, &f->ts);
    uint64_t cas = out.cas;
    if (st == STORE_OK && req->exptime == 0 && !f->flushed &&
        (mode == STORE_SET || mode == STORE_ADD || mode == STORE_REPLACE || mode == STORE_CAS)) {
        struct item *back = store_get(req->key, req->nkey, &quiet, NULL, &f->ts);
        FUZZ_CHECK(back != NULL);
        FUZZ_CHECK(item_nbytes(back) == req->vlen);
        FUZZ_CHECK(memcmp(item_data(back), data, req->vlen) == 0);
        FUZZ_CHECK(item_flags(back) == req->flags);
        FUZZ_CHECK(item_cas(back) == cas);
        item_release(back);
    }
    item_release(it);

    struct mc_result res = {.status = MC_NOT_STORED, .cas = cas};
    switch (st) {
    case STORE_OK: res.status = MC_STORED; break;
    case STORE_EXISTS: res.status = MC_EXISTS; break;
    case STORE_NOT_FOUND: res.status = MC_NOT_FOUND; break;
    case STORE_NO_MEMORY: emit_server_error(f, req, MC_NO_MEMORY, "out of memory storing object"); return true;
    case STORE_TOO_LARGE: emit_server_error(f, req, MC_TOO_LARGE, "object too large for cache"); return true;
    case STORE_NOT_STORED: break;
    default: FUZZ_CHECK(!"unexpected store_link status");
    }
    if (!req->noreply)
        emit(f, req, &res);
    return true;
}

static void check_number_item(struct fx *f, const struct mc_request *req, uint64_t number)
{
    if (f->flushed)
        return;
    struct item *it = store_get(req->key, req->nkey, &quiet, NULL, &f->ts);
    FUZZ_CHECK(it != NULL);
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, number);
    FUZZ_CHECK(item_nbytes(it) >= (uint32_t)n);
    FUZZ_CHECK(memcmp(item_data(it), digits, (size_t)n) == 0);
    for (uint32_t i = (uint32_t)n; i < item_nbytes(it); i++)
        FUZZ_CHECK(item_data(it)[i] == ' ');
    item_release(it);
}

static void exec_arith(struct fx *f, const struct mc_request *req)
{
    bool incr = req->cmd == MC_CMD_INCR;
    struct mc_result res = {.status = MC_NOT_FOUND};
    struct store_arith_opts o = {.decr = !incr, .delta = req->delta, .cas = req->cas};
    struct store_arith_out out = {0};
    enum store_status st = store_arith(req->key, req->nkey, &o, &out, &f->ts);
    if (st == STORE_OK) {
        res.number = out.value;
        res.cas = out.cas;
    }
    if (st == STORE_NOT_FOUND && f->binary && req->create && req->cas == 0) {
        char buf[24];
        int n = snprintf(buf, sizeof(buf), "%" PRIu64, req->initial);
        struct item *it = store_alloc(req->key, req->nkey, 0, store_exptime_convert(req->exptime), (uint32_t)n,
                                      &f->ts, &st);
        if (it != NULL) {
            memcpy(item_data(it), buf, (size_t)n);
            struct store_link_out lout = {0};
            st = store_link(it, &(struct store_link_opts){.mode = STORE_ADD}, &lout, &f->ts);
            if (st == STORE_OK)
                res.cas = lout.cas;
            item_release(it);
            FUZZ_CHECK(st == STORE_OK); /* one thread: nobody else added it */
            res.number = req->initial;
        }
    }
    switch (st) {
    case STORE_OK:
        res.status = MC_NUMBER;
        if (req->exptime == 0 || !f->binary)
            check_number_item(f, req, res.number);
        break;
    case STORE_EXISTS: res.status = MC_EXISTS; break;
    case STORE_NOT_FOUND: break;
    case STORE_NON_NUMERIC:
        res.status = MC_NON_NUMERIC;
        emit(f, req, &res);
        return;
    case STORE_NO_MEMORY:
    case STORE_TOO_LARGE:
        emit_server_error(f, req, MC_NO_MEMORY, "out of memory");
        return;
    default: FUZZ_CHECK(!"unexpected store_arith status");
    }
    if (!req->noreply)
        emit(f, req, &res);
}

/* Executes one parsed request. Returns false to stop reading the input. */
static bool exec_request(struct fx *f, const struct mc_request *req)
{
    switch (req->cmd) {
    case MC_CMD_GET:
    case MC_CMD_GETS:
    case MC_CMD_GAT:
    case MC_CMD_GATS: {
        bool touch = req->cmd == MC_CMD_GAT || req->cmd == MC_CMD_GATS;
        rel_time_t exptime = touch ? store_exptime_convert(req->exptime) : 0;
        if (f->binary) {
            get_one(f, req, req->key, req->nkey, exptime);
            return true;
        }
        const char *key;
        size_t nkey, pos = 0;
        while (text_next_key(req, &pos, &key, &nkey))
            get_one(f, req, key, nkey, exptime);
        emit_status(f, req, MC_END);
        return true;
    }
    case MC_CMD_SET:
    case MC_CMD_ADD:
    case MC_CMD_REPLACE:
    case MC_CMD_APPEND:
    case MC_CMD_PREPEND:
    case MC_CMD_CAS:
        return exec_storage(f, req);
    case MC_CMD_DELETE: {
        enum store_status st = store_delete(req->key, req->nkey, &(struct store_delete_opts){.cas = req->cas}, &f->ts);
        if (st == STORE_OK) {
            struct item *it = store_get(req->key, req->nkey, &quiet, NULL, &f->ts);
            FUZZ_CHECK(it == NULL);
        }
        emit_status(f, req, st == STORE_OK ? MC_DELETED : st == STORE_EXISTS ? MC_EXISTS : MC_NOT_FOUND);
        return true;
    }
    case MC_CMD_INCR:
    case MC_CMD_DECR:
        exec_arith(f, req);
        return true;
    case MC_CMD_TOUCH: {
        struct store_get_opts o = {
            .kind = STORE_GET_TOUCH, .touch = true, .touch_exptime = store_exptime_convert(req->exptime),
        };
        struct item *it = store_get(req->key, req->nkey, &o, NULL, &f->ts);
        struct mc_result res = {.status = MC_NOT_FOUND};
        if (it != NULL) {
            res.status = MC_TOUCHED;
            res.flags = item_flags(it);
            res.cas = item_cas(it);
            item_release(it);
        }
        if (!req->noreply)
            emit(f, req, &res);
        return true;
    }
    case MC_CMD_FLUSH_ALL: {
        if (req->args != NULL) { /* a delay that did not parse */
            if (!req->noreply)
                FUZZ_CHECK(text_encode_client_error(&f->out, "invalid exptime argument") == 0);
            return true;
        }
        rel_time_t when = f->now;
        if (req->has_delay && req->delay > 0) {
            rel_time_t t = store_exptime_convert(req->delay);
            when = t > f->now ? t - 1 : f->now;
        }
        store_flush(when);
        f->flushed = true;
        emit_status(f, req, MC_FLUSHED);
        return true;
    }
    case MC_CMD_STATS:
        if (f->binary) {
            FUZZ_CHECK(binary_encode_stat(&f->out, req, "curr_items", "0") == 0);
            FUZZ_CHECK(binary_encode_stat(&f->out, req, NULL, NULL) == 0);
        } else {
            FUZZ_CHECK(text_encode_stat(&f->out, "curr_items", "%d", 0) == 0);
            emit_status(f, req, MC_END);
        }
        return true;
    case MC_CMD_VERSION:
        FUZZ_CHECK((f->binary ? binary_encode_version(&f->out, req, "1.6.18")
                              : text_encode_version(&f->out, "1.6.18")) == 0);
        return true;
    case MC_CMD_VERBOSITY:
    case MC_CMD_NOOP:
    case MC_CMD_SLABS:
        emit_status(f, req, MC_OK);
        return true;
    case MC_CMD_QUIT:
        if (f->binary && !req->quiet)
            emit_status(f, req, MC_OK);
        return false;
    case MC_CMD_SHUTDOWN:
        FUZZ_CHECK((f->binary ? binary_encode_status(&f->out, req, BINARY_STATUS_UNKNOWN_COMMAND)
                              : reply_add_static(&f->out, "SERVER_ERROR: shutdown not enabled\r\n")) == 0);
        return true;
    case MC_CMD_NONE:
    case MC_CMD__COUNT:
        break;
    }
    FUZZ_CHECK(!"parser returned PROTO_OK without a command");
    return false;
}

/* Parses and executes one request. Returns false to stop. */
static bool step_text(struct fx *f)
{
    struct mc_request req;
    size_t consumed;
    const char *errmsg = NULL;
    enum proto_status st = text_parse(f->buf + f->pos, f->size - f->pos, &req, &consumed, &errmsg);
    switch (st) {
    case PROTO_NEED_MORE:
    case PROTO_CLOSE:
        return false;
    case PROTO_ERROR:
        f->pos += consumed;
        if (!req.noreply)
            FUZZ_CHECK(text_encode_error(&f->out) == 0);
        return true;
    case PROTO_CLIENT_ERROR:
        /* a bad storage header swallows its data block (req.vlen bytes) */
        f->pos += consumed + (req.vlen < f->size - f->pos - consumed ? req.vlen : f->size - f->pos - consumed);
        if (!req.noreply)
            FUZZ_CHECK(text_encode_client_error(&f->out, errmsg) == 0);
        return true;
    case PROTO_OK:
        f->pos += consumed;
        return exec_request(f, &req);
    }
    return false;
}

static bool step_binary(struct fx *f)
{
    struct mc_request req;
    size_t consumed;
    uint16_t err = 0;
    enum proto_status st = binary_parse(f->buf + f->pos, f->size - f->pos, &req, &consumed, &err);
    switch (st) {
    case PROTO_NEED_MORE:
        return false;
    case PROTO_CLOSE:
        if (err != 0)
            FUZZ_CHECK(binary_encode_status(&f->out, &req, err) == 0);
        return false;
    case PROTO_ERROR:
        f->pos += consumed;
        FUZZ_CHECK(binary_encode_status(&f->out, &req, err) == 0);
        if (req.vlen > f->size - f->pos)
            return false;
        f->pos += req.vlen;
        return true;
    case PROTO_CLIENT_ERROR:
        FUZZ_CHECK(!"binary_parse never returns PROTO_CLIENT_ERROR");
        return false;
    case PROTO_OK:
        f->pos += consumed;
        return exec_request(f, &req);
    }
    return false;
}

static void send_replies(struct fx *f)
{
    char *out;
    size_t n;
    fuzz_drain_reply(&f->out, &out, &n);
    if (f->binary)
        fuzz_check_binary_responses(out, n);
    else
        FUZZ_CHECK(n == 0 || (n >= 2 && out[n - 2] == '\r' && out[n - 1] == '\n'));
    free(out);
}

/* With every reply sent, only linked items may hold chunks. */
static void check_no_leaked_refs(void)
{
    uint64_t used = 0, linked = 0;
    unsigned n = store_class_count();
    for (unsigned id = 1; id <= n; id++) {
        struct store_class_info ci;
        if (!store_class_info(id, &ci))
            continue;
        used += ci.used_chunks;
        linked += ci.curr_items;
    }
    FUZZ_CHECK(used == linked);
}

int fuzz_request_path_input(const uint8_t *data, size_t size)
{
    static const struct store_options opts = {
        .mem_limit = 2u << 20, .item_size_max = 16u << 10, .factor = 1.25, .chunk_size = 48,
        .use_cas = true, .evict_to_free = true, .hashpower = 4, .background_threads = false,
    };
    struct fx f = {.buf = (const char *)data, .size = size, .now = 2};

    if (size == 0)
        return 0;
    FUZZ_CHECK(store_setup(&opts) == 0);
    store_clock_set(f.now);
    reply_init(&f.out, release_item);
    f.binary = data[0] == BINARY_MAGIC_REQUEST;

    for (int ncmd = 0; ncmd < FUZZ_PATH_MAX_CMDS && f.pos < f.size; ncmd++) {
        /* Replies are "sent" every few commands, so some pipeline up and
         * hold item references across later commands (and evictions). */
        if (ncmd % 4 == 3)
            send_replies(&f);
        if (ncmd % 16 == 15)
            store_maintain();
        store_clock_set(++f.now);
        if (!(f.binary ? step_binary(&f) : step_text(&f)))
            break;
    }
    send_replies(&f);
    check_no_leaked_refs();
    reply_deinit(&f.out);
    store_teardown();
    return 0;
}

#ifdef MCD_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_request_path_input(data, size);
}
#endif
