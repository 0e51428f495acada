/*
 * process.c - the command layer for classic requests (text and binary):
 * one protocol-neutral request in, store calls, protocol-neutral outcomes
 * (struct mc_result) out through the context's encoder table. This is the
 * only place that maps store statuses to outcomes; the encoders decide the
 * bytes (and, for the binary protocol, which outcomes a quiet opcode leaves
 * unsaid). Meta requests go on to process_meta.c.
 */
#include "config.h"

#include "server/process.h"
#include "server/process_meta.h"
#include "server/process_slabs.h"
#include "server/process_admin.h"

#include "proto/proto.h"
#include "proto/reply.h"
#include "server/cluster.h"
#include "server/hotkeys.h"
#include "server/log.h"
#include "server/settings.h"
#include "server/stats.h"
#include "server/stats_detail.h"
#include "server/watch.h"
#include "server/worker.h"
#include "store/store.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Hands one outcome to the encoder, unless the request asked for silence
 * (memcached 1.6 leaves even its server errors unsaid under noreply). A
 * reply we cannot even buffer means we are out of memory: drop the
 * connection rather than desynchronise it. */
static void put(struct request_ctx *x, const struct mc_request *req, const struct mc_result *res)
{
    if (!req->noreply && x->enc->result(x->out, req, res) == 0)
        return;
    if (res->owner != NULL)
        item_release(res->owner);
    if (!req->noreply)
        x->broken = true;
}

static void put_status(struct request_ctx *x, const struct mc_request *req, enum mc_status st)
{
    struct mc_result res = {.status = st};
    put(x, req, &res);
}

static void put_client_error(struct request_ctx *x, const struct mc_request *req, const char *msg)
{
    struct mc_result res = {.status = MC_CLIENT_ERROR, .data = msg};
    put(x, req, &res);
}

/* One key of a get/gets/gat/gats. */
static void get_one(struct request_ctx *x, const struct mc_request *req, const char *key, size_t nkey,
                    bool touch, rel_time_t exptime)
{
    struct item *it;
    hotkeys_sample(key, nkey, false);
    if (touch) {
        STAT_INC(x->ws->cmd_touch);
        it = store_get(key, nkey, &(struct store_get_opts){.touch = true, .touch_exptime = exptime}, NULL, x->ts);
    } else {
        it = store_get(key, nkey, NULL, NULL, x->ts);
    }
    stats_detail(key, nkey, DETAIL_GET, it != NULL);
    WATCH_GET(x, key, nkey, it);
    if (it == NULL) {
        struct mc_result res = {.status = MC_MISS, .key = key, .nkey = nkey};
        put(x, req, &res);
        return;
    }
    struct item_view v;
    item_view(it, &v);
    struct mc_result res = {
        .status = MC_VALUE,
        .key = v.key,
        .nkey = v.nkey,
        .flags = v.flags,
        .data = v.data,
        .nbytes = v.nbytes,
        .cas = v.cas,
        .owner = it,
    };
    put(x, req, &res);
}

/* A get of many keys stops between two keys once the output is over the
 * cap and resumes at x->mget_pos, so one line cannot pin more than the cap
 * however many keys it names. */
static enum process_next process_get(struct request_ctx *x, const struct mc_request *req)
{
    bool touch = req->cmd == MC_CMD_GAT || req->cmd == MC_CMD_GATS;
    rel_time_t exptime = touch ? store_exptime_convert(req->exptime) : 0;
    const char *key;
    size_t nkey, pos = x->mget_pos, at = pos;
    bool first = true;

    while (mc_request_next_key(req, &pos, &key, &nkey)) {
        if (!first && reply_weight(x->out) >= x->out_cap && !x->broken) {
            x->mget_pos = at;
            return PROCESS_MORE;
        }
        first = false;
        get_one(x, req, key, nkey, touch, exptime);
        at = pos;
    }
    x->mget_pos = 0;
    put_status(x, req, MC_END);
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

static enum process_next process_storage(struct request_ctx *x, const struct mc_request *req)
{
    enum store_status st;
    stats_detail(req->key, req->nkey, DETAIL_SET, false);
    struct item *it = store_alloc(req->key, req->nkey, req->flags, store_exptime_convert(req->exptime), req->vlen,
                                  x->ts, &st);
    if (it == NULL) {
        if (st == STORE_TOO_LARGE) {
            STAT_INC(x->ws->store_too_large);
            put_status(x, req, MC_TOO_LARGE);
        } else {
            STAT_INC(x->ws->store_no_memory);
            put_status(x, req, MC_ALLOC_FAILED);
        }
        WATCH_REFUSED(x, req->key, req->nkey, st, mc_cmd_name(req->cmd));
        /* as memcached: a failed set leaves no stale value behind */
        if (req->cmd == MC_CMD_SET) {
            store_delete(req->key, req->nkey, NULL, x->uncounted);
            WATCH_LOOKUP(x, req->key, req->nkey);
        }
        x->swallow = req->vlen;
        return PROCESS_SWALLOW;
    }
    x->value_item = it;
    return PROCESS_NREAD;
}

static void storage_value(struct request_ctx *x, const struct mc_request *req, struct item *it)
{
    struct store_link_out out = {0};
    enum store_status st =
        store_link(it, &(struct store_link_opts){.mode = store_mode_of(req->cmd), .cas = req->cas}, &out, x->ts);
    WATCH_LINK(x, it, store_mode_of(req->cmd), st, &out);
    item_release(it);
    struct mc_result res = {.status = MC_NOT_STORED, .cas = out.cas};
    switch (st) {
    case STORE_OK: res.status = MC_STORED; break;
    case STORE_EXISTS: res.status = MC_EXISTS; break;
    case STORE_NOT_FOUND: res.status = MC_NOT_FOUND; break;
    case STORE_NO_MEMORY:
        STAT_INC(x->ws->store_no_memory);
        res.status = MC_NO_MEMORY;
        break;
    case STORE_TOO_LARGE:
        STAT_INC(x->ws->store_too_large);
        res.status = MC_TOO_LARGE;
        break;
    default: break;
    }
    put(x, req, &res);
}

/* incr/decr; a binary request may ask to create a missing key with its
 * initial value, which the store does atomically (vivify). */
static void process_arith(struct request_ctx *x, const struct mc_request *req)
{
    struct store_arith_opts o = {
        .decr = req->cmd == MC_CMD_DECR,
        .delta = req->delta,
        .cas = req->cas,
        .vivify = req->create,
        .vivify_exptime = req->create ? store_exptime_convert(req->exptime) : 0,
        .initial = req->initial,
    };
    struct mc_result res = {.status = MC_NOT_FOUND};
    struct store_arith_out out = {0};
    enum store_status st = store_arith(req->key, req->nkey, &o, &out, x->ts);
    WATCH_LOOKUP(x, req->key, req->nkey);
    switch (st) {
    case STORE_OK:
        res.status = MC_NUMBER;
        res.number = out.value;
        res.cas = out.cas;
        break;
    case STORE_EXISTS: res.status = MC_EXISTS; break;
    case STORE_NON_NUMERIC: res.status = MC_NON_NUMERIC; break;
    case STORE_NO_MEMORY:
    case STORE_TOO_LARGE: res.status = MC_NO_MEMORY; break;
    default: break;
    }
    put(x, req, &res);
}

struct stat_sink {
    struct request_ctx *x;
    const struct mc_request *req;
};

static void put_stat(void *ctx, const char *name, const char *value)
{
    struct stat_sink *s = ctx;
    if (s->x->enc->stat(s->x->out, s->req, name, value) != 0)
        s->x->broken = true;
}

/* The group is named as the text protocol names it (binary_parse()
 * translates a binary Stat key by memcached's binary rules). */
static enum process_next process_stats(struct request_ctx *x, const struct mc_request *req)
{
    struct stat_sink sink = {x, req};
    enum process_next next;
    if (process_admin_stats(x, req, &next))
        return next;
    switch (stats_group(req->args, req->args_len, put_stat, &sink)) {
    case STATS_GROUP_OK: put_status(x, req, MC_STATS_END); break;
    case STATS_GROUP_RESET: put_status(x, req, MC_RESET); break;
    case STATS_GROUP_BAD_ARGS: put_client_error(x, req, "bad command line format"); break;
    case STATS_GROUP_DONE_OK: put_status(x, req, MC_OK); break;
    case STATS_GROUP_DETAIL_USAGE: put_client_error(x, req, "usage: stats detail on|off|dump"); break;
    case STATS_GROUP_DETAIL_DUMP: {
        struct mc_result res = {.status = MC_DETAIL_DUMP, .data = STATS_DETAIL_DUMP,
                                .nbytes = (uint32_t)strlen(STATS_DETAIL_DUMP)};
        put(x, req, &res);
        break;
    }
    case STATS_GROUP_UNKNOWN: put_status(x, req, MC_UNKNOWN); break;
    }
    return PROCESS_CONTINUE;
}

static void process_flush(struct request_ctx *x, const struct mc_request *req)
{
    if (!settings.flush_enabled) {
        put_status(x, req, MC_FLUSH_DISABLED);
        return;
    }
    if (req->args != NULL) { /* a text delay that did not parse: after the -F check, as memcached */
        put_client_error(x, req, "invalid exptime argument");
        return;
    }
    STAT_INC(x->ws->cmd_flush);
    store_flush_delay(req->has_delay ? req->delay : 0);
    put_status(x, req, MC_FLUSHED);
}

/* mcd's flush_prefix: refused under -F, as flush_all */
static void process_flush_prefix(struct request_ctx *x, const struct mc_request *req)
{
    if (!settings.flush_enabled) {
        put_status(x, req, MC_FLUSH_DISABLED);
        return;
    }
    STAT_INC(x->ws->cmd_flush_prefix);
    store_flush_prefix(req->key, req->nkey); /* the parser checked the length */
    put_status(x, req, MC_OK);
}

/* "config get cluster": ElastiCache's auto-discovery, with -o
 * cluster_config; without it ERROR, as memcached */
static void process_config(struct request_ctx *x, const struct mc_request *req)
{
    size_t n = 0;
    char *body = cluster_body(&n);
    if (body == NULL) {
        put_status(x, req, MC_UNKNOWN);
        return;
    }
    struct mc_result res = {.status = MC_CONFIG, .data = body, .nbytes = (uint32_t)n};
    put(x, req, &res);
    free(body);
}

static void process_touch(struct request_ctx *x, const struct mc_request *req)
{
    STAT_INC(x->ws->cmd_touch);
    struct store_get_opts o = {
        .kind = STORE_GET_TOUCH, .touch = true, .touch_exptime = store_exptime_convert(req->exptime),
    };
    struct item *it = store_get(req->key, req->nkey, &o, NULL, x->ts);
    WATCH_GET(x, req->key, req->nkey, it);
    struct mc_result res = {.status = MC_NOT_FOUND};
    if (it != NULL) {
        res.status = MC_TOUCHED;
        res.flags = item_flags(it);
        res.cas = item_cas(it);
        item_release(it);
    }
    put(x, req, &res);
}

/* watch: memcached 1.6.45 refuses it under -W, then after other commands
 * whose replies are still pending, then for a stream it does not know,
 * then past its limit of watchers (in that order); else the connection
 * becomes a watcher (its "OK" is the watcher's first line). */
static enum process_next process_watch(struct request_ctx *x, const struct mc_request *req)
{
    const char *no = NULL;
    if (!settings.watch_enabled)
        no = "CLIENT_ERROR watch commands not allowed\r\n";
    else if (!reply_empty(x->out))
        no = "ERROR cannot pipeline other commands before watch\r\n";
    else if (req->flags == 0)
        no = "ERROR\r\n";
    else if (watch_full())
        no = "WATCHER_TOO_MANY log watcher limit reached\r\n";
    if (no != NULL) {
        if (reply_add_static(x->out, no) != 0)
            x->broken = true;
        return PROCESS_CONTINUE;
    }
    x->watch_streams = req->flags;
    return PROCESS_WATCH;
}

/* memcached 1.6.45: a last token "noreply" silences both refusals */
static enum process_next process_shutdown(struct request_ctx *x, const struct mc_request *req)
{
    if (!settings.shutdown_command) {
        put_status(x, req, MC_SHUTDOWN_DISABLED);
        return PROCESS_CONTINUE;
    }
    if (req->args_len == 0)
        return PROCESS_SHUTDOWN;
    if (req->args_len == 8 && memcmp(req->args, "graceful", 8) == 0)
        return PROCESS_GRACEFUL;
    /* "shutdown noreply" is a bad mode too, silenced */
    put_client_error(x, req, "invalid shutdown mode");
    return PROCESS_CONTINUE;
}

int (*process_refresh_certs)(char *msg, size_t msglen);

/* memcached 1.6.45's replies: OK, or its message alone on a line (no
 * "ERROR " before it), e.g. "Error TLS not enabled" */
static void process_refresh(struct request_ctx *x, const struct mc_request *req)
{
    char msg[512];
    if (process_refresh_certs != NULL && process_refresh_certs(msg, sizeof(msg) - 2) == 0) {
        put_status(x, req, MC_OK);
        return;
    }
    if (process_refresh_certs == NULL)
        snprintf(msg, sizeof(msg) - 2, "Error TLS not enabled");
    size_t n = strlen(msg);
    memcpy(msg + n, "\r\n", 2);
    /* a line of raw text, as the detail dump is sent */
    struct mc_result res = {.status = MC_DETAIL_DUMP, .data = msg, .nbytes = (uint32_t)(n + 2)};
    put(x, req, &res);
}

static enum process_next process_classic(struct request_ctx *x, const struct mc_request *req)
{
    switch (mc_cmd_kind(req->cmd)) {
    case MC_KIND_GET: return process_get(x, req);
    case MC_KIND_STORE: return process_storage(x, req);
    case MC_KIND_ARITH: process_arith(x, req); return PROCESS_CONTINUE;
    case MC_KIND_OTHER: break;
    }
    switch (req->cmd) {
    case MC_CMD_DELETE: {
        stats_detail(req->key, req->nkey, DETAIL_DEL, false);
        enum store_status st = store_delete(req->key, req->nkey, &(struct store_delete_opts){.cas = req->cas}, x->ts);
        WATCH_DELETE(x, req->key, req->nkey, st, "delete");
        put_status(x, req, st == STORE_OK ? MC_DELETED : st == STORE_EXISTS ? MC_EXISTS : MC_NOT_FOUND);
        break;
    }
    case MC_CMD_TOUCH: process_touch(x, req); break;
    case MC_CMD_FLUSH_ALL: process_flush(x, req); break;
    case MC_CMD_FLUSH_PREFIX: process_flush_prefix(x, req); break;
    case MC_CMD_CONFIG: process_config(x, req); break;
    case MC_CMD_STATS: return process_stats(x, req);
    case MC_CMD_LRU_CRAWLER: return process_lru_crawler(x, req);
    case MC_CMD_VERSION: {
        struct mc_result res = {.status = MC_VERSION, .data = MCD_COMPAT_VERSION,
                                .nbytes = (uint32_t)strlen(MCD_COMPAT_VERSION)};
        put(x, req, &res);
        break;
    }
    case MC_CMD_VERBOSITY:
        log_verbosity = req->delay < 0 ? 0 : req->delay > 2 ? 2 : (int)req->delay; /* 1.6.45 caps it at 2 */
        put_status(x, req, MC_OK);
        break;
    case MC_CMD_QUIT:
        put_status(x, req, MC_OK); /* binary Quit says OK; text closes without a word */
        return PROCESS_CLOSE;
    case MC_CMD_SHUTDOWN: return process_shutdown(x, req);
    case MC_CMD_WATCH: return process_watch(x, req);
    case MC_CMD_NOOP: put_status(x, req, MC_OK); break;
    case MC_CMD_REFRESH_CERTS: process_refresh(x, req); break;
    case MC_CMD_SLABS:
    case MC_CMD_CACHE_MEMLIMIT: {
        struct mc_result res = {.status = MC_LINE, .data = process_slabs(req)};
        put(x, req, &res);
        break;
    }
    default: put_status(x, req, MC_UNKNOWN); break;
    }
    return PROCESS_CONTINUE;
}

enum process_next process_request(struct request_ctx *x, const struct request *req)
{
    if (req->kind == REQUEST_META)
        return process_meta(x, &req->meta);
    return process_classic(x, &req->mc);
}

void process_value(struct request_ctx *x, const struct request *req, struct item *it, bool chunk_ok)
{
    if (req->kind == REQUEST_META) {
        process_meta_value(x, &req->meta, it, chunk_ok);
        return;
    }
    if (!chunk_ok) {
        /* memcached leaves this one unsaid under noreply too */
        put_client_error(x, &req->mc, "bad data chunk");
        item_release(it);
        return;
    }
    storage_value(x, &req->mc, it);
}
