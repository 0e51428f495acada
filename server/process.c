/*
 * process.c - the command layer: one protocol-neutral request in, store
 * calls, one or more protocol-neutral results out to the connection's
 * encoder (emit(): text or binary). This is the only place that maps store
 * statuses to protocol outcomes; the encoders decide the bytes (and, for
 * the binary protocol, which results a quiet opcode leaves unsaid).
 * Runs on the connection's worker thread and counts into its stats.
 */
#include "config.h"

#include "server/process.h"
#include "server/process_meta.h"

#include "proto/binary.h"
#include "proto/proto.h"
#include "proto/reply.h"
#include "proto/text.h"
#include "proto/token.h"
#include "server/conn.h"
#include "server/log.h"
#include "server/settings.h"
#include "server/stats.h"
#include "server/worker.h"
#include "store/store.h"

#include <string.h>

static bool is_binary(const struct conn *c)
{
    return c->proto == PROTO_BINARY;
}

/* Hands one result to the connection's encoder. A reply we cannot even
 * buffer means we are out of memory: drop the connection rather than
 * desynchronise it. */
static void emit(struct conn *c, const struct mc_request *req, const struct mc_result *res)
{
    int rc = is_binary(c) ? binary_encode_result(&c->out, req, res) : text_encode_result(&c->out, req->cmd, res);
    if (rc != 0) {
        if (res->owner != NULL)
            item_release(res->owner);
        c->close_after_write = true;
    }
}

static void emit_status(struct conn *c, const struct mc_request *req, enum mc_status st)
{
    if (req->noreply)
        return;
    struct mc_result res = {.status = st};
    emit(c, req, &res);
}

/* Errors of parsing and of the request itself (sent even with noreply). */
static void emit_client_error(struct conn *c, const struct mc_request *req, const char *msg)
{
    int rc = is_binary(c) ? binary_encode_status(&c->out, req, BINARY_STATUS_EINVAL)
                          : text_encode_client_error(&c->out, msg);
    if (rc != 0)
        c->close_after_write = true;
}

/* memcached 1.6 leaves these unsaid under noreply too */
static void emit_server_error(struct conn *c, const struct mc_request *req, enum mc_status st, const char *msg)
{
    int rc;
    if (req->noreply)
        return;
    if (is_binary(c)) {
        struct mc_result res = {.status = st};
        rc = binary_encode_result(&c->out, req, &res);
    } else {
        rc = text_encode_server_error(&c->out, msg);
    }
    if (rc != 0)
        c->close_after_write = true;
}

static void emit_value(struct conn *c, const struct mc_request *req, struct item *it)
{
    struct mc_result res = {
        .status = MC_VALUE,
        .key = item_key(it),
        .nkey = item_nkey(it),
        .flags = item_flags(it),
        .data = item_data(it),
        .nbytes = item_nbytes(it),
        .cas = item_cas(it),
        .owner = it,
    };
    emit(c, req, &res);
}

/* One key of a get/gets/gat/gats. */
static void get_one(struct conn *c, const struct mc_request *req, const char *key, size_t nkey, rel_time_t exptime)
{
    struct worker *w = c->w;
    struct item *it;
    if (req->cmd == MC_CMD_GAT || req->cmd == MC_CMD_GATS) {
        STAT_INC(w->ws.cmd_touch);
        it = store_get_touch(key, nkey, exptime, true, &w->ts);
    } else {
        it = store_get(key, nkey, true, false, &w->ts);
    }
    if (it != NULL) {
        emit_value(c, req, it);
    } else {
        struct mc_result res = {.status = MC_MISS, .key = key, .nkey = nkey};
        emit(c, req, &res);
    }
}

/* A text get line stops between two keys once the output is over the cap
 * (conn.h) and resumes at c->mget_pos, so one line cannot pin more than
 * the cap however many keys it names. */
static enum process_next process_get(struct conn *c, const struct mc_request *req)
{
    bool touch = req->cmd == MC_CMD_GAT || req->cmd == MC_CMD_GATS;
    rel_time_t exptime = touch ? store_exptime_convert(req->exptime) : 0;

    if (is_binary(c)) {
        /* binary keys may hold spaces: one key, never split */
        get_one(c, req, req->key, req->nkey, exptime);
        return PROCESS_CONTINUE;
    }
    const char *key;
    size_t nkey, pos = c->mget_pos;
    while (text_next_key(req, &pos, &key, &nkey)) {
        get_one(c, req, key, nkey, exptime);
        if (conn_out_full(c) && !c->close_after_write) {
            c->mget_pos = pos;
            return PROCESS_MORE;
        }
    }
    c->mget_pos = 0;
    emit_status(c, req, MC_END);
    return PROCESS_CONTINUE;
}

static enum store_mode store_mode_of(enum mc_cmd cmd)
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

static enum process_next process_storage(struct conn *c, const struct mc_request *req)
{
    struct worker *w = c->w;
    enum store_status st;
    struct item *it = store_alloc(req->key, req->nkey, req->flags, store_exptime_convert(req->exptime), req->vlen,
                                  &w->ts, &st);
    if (it == NULL) {
        if (st == STORE_TOO_LARGE) {
            STAT_INC(w->ws.store_too_large);
            emit_server_error(c, req, MC_TOO_LARGE, "object too large for cache");
        } else {
            STAT_INC(w->ws.store_no_memory);
            if (is_binary(c)) {
                if (binary_encode_error(&c->out, req, BINARY_STATUS_ENOMEM, "Out of memory allocating item") != 0)
                    c->close_after_write = true;
            } else {
                emit_server_error(c, req, MC_NO_MEMORY, "out of memory storing object");
            }
        }
        /* as memcached: a failed set leaves no stale value behind */
        if (req->cmd == MC_CMD_SET)
            store_delete(req->key, req->nkey, 0, &w->scratch_ts);
        c->swallow_left = (size_t)req->vlen + (is_binary(c) ? 0 : 2);
        return PROCESS_SWALLOW;
    }
    c->nread_it = it;
    c->nread_got = 0;
    c->nread_req = *req;
    c->nread_req.key = c->nread_req.keys = c->nread_req.args = NULL; /* they point into the read buffer */
    if (is_binary(c)) {
        /* binary values carry no terminator */
        c->nread_term = 2;
        c->term[0] = '\r';
        c->term[1] = '\n';
    } else {
        c->nread_term = 0;
    }
    return PROCESS_NREAD;
}

void process_complete_nread(struct conn *c)
{
    if (c->meta_nread) {
        c->meta_nread = false;
        process_meta_complete(c);
        return;
    }
    struct item *it = c->nread_it;
    const struct mc_request *req = &c->nread_req;

    c->nread_it = NULL;
    if (c->term[0] != '\r' || c->term[1] != '\n') {
        /* memcached leaves this one unsaid under noreply */
        if (!req->noreply && text_encode_client_error(&c->out, "bad data chunk") != 0)
            c->close_after_write = true;
        item_release(it);
        return;
    }
    uint64_t cas = 0;
    enum store_status st = store_link(it, store_mode_of(req->cmd), req->cas, &cas, &c->w->ts);
    item_release(it);
    struct mc_result res = {.status = MC_NOT_STORED, .cas = cas};
    switch (st) {
    case STORE_OK: res.status = MC_STORED; break;
    case STORE_EXISTS: res.status = MC_EXISTS; break;
    case STORE_NOT_FOUND: res.status = MC_NOT_FOUND; break;
    case STORE_NO_MEMORY:
        STAT_INC(c->w->ws.store_no_memory);
        emit_server_error(c, req, MC_NO_MEMORY, "out of memory storing object");
        return;
    case STORE_TOO_LARGE:
        /* only append/prepend get here (the combined value is too big):
         * memcached answers NOT_STORED and counts nothing */
        if (req->cmd != MC_CMD_APPEND && req->cmd != MC_CMD_PREPEND) {
            STAT_INC(c->w->ws.store_too_large);
            emit_server_error(c, req, MC_TOO_LARGE, "object too large for cache");
            return;
        }
        break;
    default: break;
    }
    if (!req->noreply)
        emit(c, req, &res);
}

/* Binary incr/decr on a missing key with create: store `initial`. Returns
 * STORE_EXISTS when another client created the key first (retry the arith). */
static enum store_status arith_create(struct conn *c, const struct mc_request *req, uint64_t *cas)
{
    char buf[TOKEN_U64_DIGITS];
    size_t n = token_fmt_u64(buf, req->initial);
    enum store_status st;
    struct item *it = store_alloc(req->key, req->nkey, 0, store_exptime_convert(req->exptime), (uint32_t)n,
                                  &c->w->scratch_ts, &st);
    if (it == NULL)
        return st;
    memcpy(item_data(it), buf, n);
    st = store_link(it, STORE_ADD, 0, cas, &c->w->scratch_ts);
    item_release(it);
    return st == STORE_NOT_STORED ? STORE_EXISTS : st;
}

static void process_arith(struct conn *c, const struct mc_request *req)
{
    bool incr = req->cmd == MC_CMD_INCR;
    struct mc_result res = {.status = MC_NOT_FOUND};
    enum store_status st;

    for (int tries = 0;; tries++) {
        st = store_arith(req->key, req->nkey, incr, req->delta, req->cas, &res.number, &res.cas, &c->w->ts);
        if (st != STORE_NOT_FOUND || !is_binary(c) || !req->create || tries == 2)
            break;
        st = arith_create(c, req, &res.cas);
        if (st != STORE_EXISTS) {
            res.number = req->initial;
            break;
        }
    }
    switch (st) {
    case STORE_OK: res.status = MC_NUMBER; break;
    case STORE_EXISTS: res.status = MC_EXISTS; break;
    case STORE_NON_NUMERIC: res.status = MC_NON_NUMERIC; break;
    case STORE_NO_MEMORY:
        emit_server_error(c, req, MC_NO_MEMORY, "out of memory");
        return;
    default: break;
    }
    if (!req->noreply)
        emit(c, req, &res);
}

struct stats_emit_ctx {
    struct conn *c;
    const struct mc_request *req;
};

static void emit_stat(void *ctx, const char *name, const char *value)
{
    struct stats_emit_ctx *e = ctx;
    int rc = is_binary(e->c) ? binary_encode_stat(&e->c->out, e->req, name, value)
                             : text_encode_stat(&e->c->out, name, "%s", value);
    if (rc != 0)
        e->c->close_after_write = true;
}

/*
 * Binary Stat: the key is matched as memcached 1.6.45 does
 * (binary_stat_group), then listed by the text groups (stats_group), whose
 * names it is given exactly. mcd keeps no per-prefix ("detail") stats:
 * "detail on|off" only set what `stats settings` reports, "detail dump" is
 * the empty dump memcached sends while detail is off.
 */
static void process_binary_stats(struct conn *c, const struct mc_request *req)
{
    static const char *const group_name[] = {
        [BINARY_STAT_GENERAL] = "",           [BINARY_STAT_RESET] = "reset",     [BINARY_STAT_SETTINGS] = "settings",
        [BINARY_STAT_ITEMS] = "items",        [BINARY_STAT_SLABS] = "slabs",     [BINARY_STAT_SIZES] = "sizes",
        [BINARY_STAT_DETAIL_ON] = "detail on", [BINARY_STAT_DETAIL_OFF] = "detail off",
    };
    struct stats_emit_ctx ctx = {c, req};
    enum binary_stat_group g = binary_stat_group(req->args, req->args_len);
    int rc;

    switch (g) {
    case BINARY_STAT_UNKNOWN:
        rc = binary_encode_status(&c->out, req, BINARY_STATUS_KEY_ENOENT);
        break;
    case BINARY_STAT_DETAIL_DUMP:
        emit_stat(&ctx, "detailed", "END\r\n");
        rc = binary_encode_stat(&c->out, req, NULL, NULL);
        break;
    default:
        stats_group(group_name[g], strlen(group_name[g]), emit_stat, &ctx);
        rc = binary_encode_stat(&c->out, req, NULL, NULL);
        break;
    }
    if (rc != 0)
        c->close_after_write = true;
}

static void process_stats(struct conn *c, const struct mc_request *req)
{
    struct stats_emit_ctx ctx = {c, req};
    int rc = 0;
    if (is_binary(c)) {
        process_binary_stats(c, req);
        return;
    }
    switch (stats_group(req->args, req->args_len, emit_stat, &ctx)) {
    case STATS_GROUP_OK:
        if (is_binary(c))
            rc = binary_encode_stat(&c->out, req, NULL, NULL);
        else
            emit_status(c, req, MC_END);
        break;
    case STATS_GROUP_RESET:
        rc = is_binary(c) ? binary_encode_stat(&c->out, req, NULL, NULL) : reply_add_static(&c->out, "RESET\r\n");
        break;
    case STATS_GROUP_BAD_ARGS: emit_client_error(c, req, "bad command line format"); break;
    case STATS_GROUP_DONE_OK: emit_status(c, req, MC_OK); break;
    case STATS_GROUP_DETAIL_USAGE: emit_client_error(c, req, "usage: stats detail on|off|dump"); break;
    case STATS_GROUP_UNKNOWN:
        rc = is_binary(c) ? binary_encode_status(&c->out, req, BINARY_STATUS_KEY_ENOENT) : text_encode_error(&c->out);
        break;
    }
    if (rc != 0)
        c->close_after_write = true;
}

static void process_flush(struct conn *c, const struct mc_request *req)
{
    if (!settings.flush_enabled) {
        if (req->noreply)
            return;
        int rc = is_binary(c) ? binary_encode_status(&c->out, req, BINARY_STATUS_AUTH_ERROR)
                              : text_encode_client_error(&c->out, "flush_all not allowed");
        if (rc != 0)
            c->close_after_write = true;
        return;
    }
    if (!is_binary(c) && req->args != NULL) { /* a text delay that did not parse */
        if (!req->noreply)
            emit_client_error(c, req, "invalid exptime argument");
        return;
    }
    STAT_INC(c->w->ws.cmd_flush);
    store_flush_delay(req->has_delay ? req->delay : 0);
    emit_status(c, req, MC_FLUSHED);
}

static void process_touch(struct conn *c, const struct mc_request *req)
{
    struct worker *w = c->w;
    STAT_INC(w->ws.cmd_touch);
    struct item *it = store_get_touch(req->key, req->nkey, store_exptime_convert(req->exptime), false, &w->ts);
    struct mc_result res = {.status = MC_NOT_FOUND};
    if (it != NULL) {
        res.status = MC_TOUCHED;
        res.flags = item_flags(it);
        res.cas = item_cas(it);
        item_release(it);
    }
    if (!req->noreply)
        emit(c, req, &res);
}

/* memcached 1.6.45: a last token "noreply" silences both refusals */
static enum process_next process_shutdown(struct conn *c, const struct mc_request *req)
{
    if (!settings.shutdown_command) {
        if (req->noreply)
            return PROCESS_CONTINUE;
        int rc = is_binary(c) ? binary_encode_status(&c->out, req, BINARY_STATUS_UNKNOWN_COMMAND)
                              : reply_add_static(&c->out, "SERVER_ERROR: shutdown not enabled\r\n");
        if (rc != 0)
            c->close_after_write = true;
        return PROCESS_CONTINUE;
    }
    if (req->args_len > 0 && !(req->args_len == 8 && memcmp(req->args, "graceful", 8) == 0)) {
        /* "shutdown noreply" is a bad mode too, silenced */
        if (!req->noreply)
            emit_client_error(c, req, "invalid shutdown mode");
        return PROCESS_CONTINUE;
    }
    return PROCESS_SHUTDOWN;   /* "graceful" is told apart by conn.c */
}

enum process_next process_request(struct conn *c, const struct mc_request *req)
{
    struct worker *w = c->w;
    int rc = 0;

    if (c->meta_pending) { /* parse_one() parsed a meta command into c->meta */
        c->meta_pending = false;
        return process_meta(c, &c->meta);
    }
    switch (req->cmd) {
    case MC_CMD_GET:
    case MC_CMD_GETS:
    case MC_CMD_GAT:
    case MC_CMD_GATS:
        return process_get(c, req);
    case MC_CMD_SET:
    case MC_CMD_ADD:
    case MC_CMD_REPLACE:
    case MC_CMD_APPEND:
    case MC_CMD_PREPEND:
    case MC_CMD_CAS:
        return process_storage(c, req);
    case MC_CMD_DELETE: {
        enum store_status st = store_delete(req->key, req->nkey, req->cas, &w->ts);
        emit_status(c, req, st == STORE_OK ? MC_DELETED : st == STORE_EXISTS ? MC_EXISTS : MC_NOT_FOUND);
        return PROCESS_CONTINUE;
    }
    case MC_CMD_INCR:
    case MC_CMD_DECR:
        process_arith(c, req);
        return PROCESS_CONTINUE;
    case MC_CMD_TOUCH:
        process_touch(c, req);
        return PROCESS_CONTINUE;
    case MC_CMD_FLUSH_ALL:
        process_flush(c, req);
        return PROCESS_CONTINUE;
    case MC_CMD_STATS:
        process_stats(c, req);
        return PROCESS_CONTINUE;
    case MC_CMD_VERSION:
        rc = is_binary(c) ? binary_encode_version(&c->out, req, MCD_COMPAT_VERSION)
                          : text_encode_version(&c->out, MCD_COMPAT_VERSION);
        break;
    case MC_CMD_VERBOSITY:
        log_verbosity = req->delay < 0 ? 0 : req->delay > 2 ? 2 : (int)req->delay; /* 1.6.45 caps it at 2 */
        emit_status(c, req, MC_OK);
        return PROCESS_CONTINUE;
    case MC_CMD_QUIT:
        if (is_binary(c) && !req->quiet)
            emit_status(c, req, MC_OK);
        return PROCESS_CLOSE;
    case MC_CMD_SHUTDOWN:
        return process_shutdown(c, req);
    case MC_CMD_NOOP:
        emit_status(c, req, MC_OK);
        return PROCESS_CONTINUE;
    case MC_CMD_SLABS:
        /* "slabs automove N": mcd moves pages on demand only; the mode is
         * remembered for `stats settings` */
        stats_set_slab_automove((int)req->delay);
        emit_status(c, req, MC_OK);
        return PROCESS_CONTINUE;
    case MC_CMD_NONE:
    case MC_CMD__COUNT:
        rc = is_binary(c) ? binary_encode_status(&c->out, req, BINARY_STATUS_UNKNOWN_COMMAND)
                          : text_encode_error(&c->out);
        break;
    }
    if (rc != 0)
        c->close_after_write = true;
    return PROCESS_CONTINUE;
}
