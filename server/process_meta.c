/*
 * process_meta.c - the meta commands in the command layer: a parsed
 * `struct meta_request` in, store calls with the meta flags as options, replies out through
 * proto/meta's encoders. The decisions that must be atomic (who wins the
 * recache token, stale marking, vivify) are the store's, under the key's
 * stripe lock; this file only maps flags to store options and outcomes to
 * replies. Worker thread of the connection; counts into its stats.
 */
#include "config.h"

#include "server/process_meta.h"

#include "proto/meta.h"
#include "proto/reply.h"
#include "proto/text.h"
#include "server/hotkeys.h"
#include "server/process.h"
#include "server/watch.h"
#include "server/worker.h"
#include "store/store.h"

#include <string.h>

/* A reply we cannot even buffer: drop the connection rather than
 * desynchronise it. */
static void fail(struct request_ctx *x, int rc)
{
    if (rc != 0)
        x->broken = true;
}

static void client_error(struct request_ctx *x, const char *msg)
{
    fail(x, text_encode_client_error(x->out, msg));
}

static void server_error(struct request_ctx *x, const char *msg)
{
    fail(x, text_encode_server_error(x->out, msg));
}

/* Sends res unless q hides it; releases res->owner when not handed over. */
static void send_result(struct request_ctx *x, const struct meta_request *m, struct meta_result *res)
{
    if (m->opaque_too_long) {
        /* memcached ran mg / ma, then fails building the reply */
        if (res->owner != NULL)
            item_release(res->owner);
        client_error(x, "opaque token too long");
        return;
    }
    if (meta_quiet(m, res->status)) {
        if (res->owner != NULL)
            item_release(res->owner);
        return;
    }
    if (meta_encode(x->out, m, res) != 0) {
        if (res->owner != NULL)
            item_release(res->owner);
        x->broken = true;
    }
}

static int64_t ttl_of(rel_time_t exptime, rel_time_t now)
{
    return exptime == 0 ? -1 : (int64_t)exptime - (int64_t)now;
}

/* Which of T and N comes last in the request (the TTL a created item ends
 * with, since memcached applies them in flag order). */
static rel_time_t vivify_exptime(const struct meta_request *m)
{
    rel_time_t e = 0;
    for (size_t i = 0; i < m->nflags; i++) {
        if (m->order[i] == 'N')
            e = store_exptime_convert(m->vivify_ttl);
        else if (m->order[i] == 'T')
            e = store_exptime_convert(m->ttl);
    }
    return e;
}

/* mg flags that make memcached 1.6.45 fetch the item under its lock and
 * mark it fetched only once the reply is built */
#define LOCKED_FLAGS (META_BIT('T') | META_BIT('N') | META_BIT('R') | META_BIT('h') | META_BIT('l'))

static void meta_get(struct request_ctx *x, const struct meta_request *m)
{
    rel_time_t now = store_clock_now();
    struct store_get_opts o = {
        .kind = STORE_GET_META,
        /* an opaque too long fails the reply after the look-up; 1.6.45 has
         * then marked the item fetched (and bumped it) only when no flag
         * made it take the item locked (T N R h l), as it does that last */
        .no_bump = meta_has(m, 'u') || (m->opaque_too_long && (m->seen & LOCKED_FLAGS) != 0),
        .touch = meta_has(m, 'T'),
        .vivify = meta_has(m, 'N'),
        .recache = meta_has(m, 'R'),
    };
    if (o.touch)
        o.touch_exptime = store_exptime_convert(m->ttl);
    if (o.vivify)
        o.vivify_exptime = vivify_exptime(m);
    if (o.recache)
        o.recache_time = store_exptime_convert(m->recache);
    const char *tpos = memchr(m->order, 'T', m->nflags), *rpos = memchr(m->order, 'R', m->nflags);
    o.recache_after_touch = tpos != NULL && rpos != NULL && tpos < rpos;
    o.has_new_cas = meta_has(m, 'E');
    o.new_cas = m->new_cas;
    o.key_binary = m->key_binary;
    o.no_token = m->opaque_too_long;

    struct store_get_info info;
    hotkeys_sample(m->key, m->nkey, m->key_binary);
    struct item *it = store_get(m->key, m->nkey, &o, &info, x->ts);
    WATCH_GET(x, m->key, m->nkey, it);
    struct meta_result res = {.status = META_EN, .key = m->key, .nkey = m->nkey, .key_binary = m->key_binary};
    if (it == NULL) {
        send_result(x, m, &res);
        return;
    }
    if (o.touch && !info.created)
        STAT_INC(x->ws->cmd_touch);
    /* v with C: the value only when the CAS does not match (1.6.45) */
    bool same = meta_has(m, 'C') && item_cas(it) == m->cas;
    res.status = meta_has(m, 'v') && !same ? META_VA : META_HD;
    res.key = item_key(it);
    res.nkey = item_nkey(it);
    res.key_binary = item_key_binary(it); /* as stored, whatever this request's b */
    res.flags = item_flags(it);
    res.cas = item_cas(it);
    res.size = item_nbytes(it);
    res.ttl_before = ttl_of(info.exptime_before, now);
    res.ttl_touch = ttl_of(o.touch_exptime, now);
    res.ttl_vivify = ttl_of(o.vivify ? store_exptime_convert(m->vivify_ttl) : 0, now);
    res.touched = o.touch;
    res.created = info.created;
    res.hit_before = info.hit_before;
    res.last_access = now > info.atime_before ? now - info.atime_before : 0;
    res.win = info.win;
    res.stale = info.stale;
    res.token_sent = info.token_sent;
    if (res.status == META_VA) {
        res.data = item_data(it);
        res.nbytes = item_nbytes(it);
        res.owner = it;
        send_result(x, m, &res);
    } else {
        send_result(x, m, &res);
        item_release(it);
    }
}

static enum process_next meta_set(struct request_ctx *x, const struct meta_request *m)
{
    enum store_status st;
    if (m->opaque_too_long) {
        /* stores nothing, but uses up a CAS as 1.6.45 does */
        store_meta_cas_skip();
        client_error(x, "opaque token too long");
        x->swallow = m->vlen;
        return PROCESS_SWALLOW;
    }
    rel_time_t exptime = meta_has(m, 'T') ? store_exptime_convert(m->ttl) : 0;
    struct item *it = store_alloc(m->key, m->nkey, m->client_flags, exptime, m->vlen, x->ts, &st);
    if (it == NULL) {
        if (st == STORE_TOO_LARGE) {
            STAT_INC(x->ws->store_too_large);
            server_error(x, "object too large for cache");
        } else {
            STAT_INC(x->ws->store_no_memory);
            server_error(x, "out of memory storing object");
        }
        WATCH_REFUSED(x, m->key, m->nkey, st, m->mode == 'E' ? "add" : m->mode == 'A' ? "append" : m->mode == 'P' ? "prepend" : m->mode == 'R' ? "replace" : "set");
        /* as memcached: a failed ms leaves no stale value behind */
        store_delete(m->key, m->nkey, NULL, x->uncounted);
        WATCH_LOOKUP(x, m->key, m->nkey);
        x->swallow = m->vlen;
        return PROCESS_SWALLOW;
    }
    if (m->key_binary)
        item_set_key_binary(it);
    x->value_item = it;
    return PROCESS_NREAD;
}

void process_meta_value(struct request_ctx *x, const struct meta_request *m, struct item *it, bool chunk_ok)
{
    if (!chunk_ok) {
        /* sent even under q */
        client_error(x, "bad data chunk");
        item_release(it);
        return;
    }
    bool has_cas = meta_has(m, 'C');
    struct store_link_opts o = {
        .has_cas = has_cas,
        .cas = has_cas ? m->cas : 0,
        .invalidate = meta_has(m, 'I'),
        .has_new_cas = meta_has(m, 'E'),
        .new_cas = m->new_cas,
        .vivify = meta_has(m, 'N'),
        .vivify_exptime = meta_has(m, 'N') ? store_exptime_convert(m->vivify_ttl) : 0,
    };
    switch (m->mode) {
    case 'E': o.mode = STORE_ADD; o.has_cas = false; o.cas = 0; break;
    case 'A': o.mode = STORE_APPEND; break;
    case 'P': o.mode = STORE_PREPEND; break;
    case 'R': o.mode = has_cas ? STORE_CAS : STORE_REPLACE; break;
    default: o.mode = has_cas ? STORE_CAS : STORE_SET; break;
    }
    enum store_mode mode = o.mode;
    struct store_link_out out = {0};
    enum store_status st = store_link(it, &o, &out, x->ts);
    WATCH_LINK(x, it, mode, st, &out);
    uint64_t new_cas = out.cas;
    uint32_t size = out.size;
    struct meta_result res = {.status = META_NS, .key = m->key, .nkey = m->nkey, .key_binary = m->key_binary,
                              .size = size};
    switch (st) {
    case STORE_OK:
        res.status = META_HD;
        res.cas = new_cas;
        break;
    case STORE_EXISTS: res.status = META_EX; break;
    case STORE_NOT_FOUND:
        /* append/prepend with C on a missing key: not stored */
        res.status = (mode == STORE_APPEND || mode == STORE_PREPEND) ? META_NS : META_NF;
        break;
    case STORE_NO_MEMORY:
        STAT_INC(x->ws->store_no_memory);
        server_error(x, "out of memory storing object");
        item_release(it);
        return;
    case STORE_TOO_LARGE:
        STAT_INC(x->ws->store_too_large);
        server_error(x, "object too large for cache");
        item_release(it);
        return;
    default: break;
    }
    item_release(it);
    send_result(x, m, &res);
}

static void meta_delete(struct request_ctx *x, const struct meta_request *m)
{
    bool set_ttl = meta_has(m, 'T');
    struct store_delete_opts o = {
        .has_cas = meta_has(m, 'C'),
        .cas = m->cas,
        .invalidate = meta_has(m, 'I'),
        .remove_value = meta_has(m, 'x'),
        .set_ttl = set_ttl,
        .exptime = set_ttl ? store_exptime_convert(m->ttl) : 0,
        .has_new_cas = meta_has(m, 'E'),
        .new_cas = m->new_cas,
        .key_binary = m->key_binary,
        .flags = m->client_flags,
    };
    enum store_status st = store_delete(m->key, m->nkey, &o, x->ts);
    WATCH_DELETE(x, m->key, m->nkey, st, "md");
    struct meta_result res = {.status = META_HD, .key = m->key, .nkey = m->nkey, .key_binary = m->key_binary};
    if (st == STORE_NOT_FOUND)
        res.status = META_NF;
    else if (st == STORE_EXISTS)
        res.status = META_EX;
    send_result(x, m, &res);
}

static void meta_arith(struct request_ctx *x, const struct meta_request *m)
{
    struct store_arith_opts o = {
        .decr = m->mode == 'D' || m->mode == '-',
        .delta = m->delta,
        .cas = meta_has(m, 'C') ? m->cas : 0,
        .vivify = meta_has(m, 'N'),
        .initial = m->initial,
        .touch = meta_has(m, 'T'),
        .has_new_cas = meta_has(m, 'E'),
        .new_cas = m->new_cas,
        .key_binary = m->key_binary,
    };
    if (o.vivify)
        o.vivify_exptime = vivify_exptime(m); /* T and N in flag order */
    if (o.touch)
        o.touch_exptime = store_exptime_convert(m->ttl);
    rel_time_t now = store_clock_now();
    rel_time_t exptime = 0;
    struct meta_result res = {.status = META_NF, .key = m->key, .nkey = m->nkey, .key_binary = m->key_binary};
    struct store_arith_out out = {0};
    enum store_status st = store_arith(m->key, m->nkey, &o, &out, x->ts);
    WATCH_LOOKUP(x, m->key, m->nkey);
    res.number = out.value;
    res.cas = out.cas;
    exptime = out.exptime_before;
    bool created = out.created;
    switch (st) {
    case STORE_OK:
        /* t shows the TTL at its place among T and N (memcached applies
         * them while it writes the reply's flags) */
        res.status = meta_has(m, 'v') ? META_VA : META_HD;
        res.ttl_before = ttl_of(exptime, now);
        res.touched = o.touch;
        res.ttl_touch = ttl_of(o.touch_exptime, now);
        res.created = created;
        res.ttl_vivify = ttl_of(created ? store_exptime_convert(m->vivify_ttl) : 0, now);
        break;
    case STORE_EXISTS: res.status = META_EX; break;
    case STORE_NON_NUMERIC:
        client_error(x, "cannot increment or decrement non-numeric value");
        return;
    case STORE_NO_MEMORY:
    case STORE_TOO_LARGE:
        if (o.vivify) {
            res.status = META_NS;
            break;
        }
        server_error(x, "out of memory");
        return;
    default: break;
    }
    send_result(x, m, &res);
}

static void meta_debug(struct request_ctx *x, const struct meta_request *m)
{
    struct store_meta_debug_info info;
    STAT_INC(x->ws->cmd_meta); /* memcached 1.6.45 counts only me here */
    if (!store_meta_peek(m->key, m->nkey, &info)) {
        fail(x, reply_add_static(x->out, "EN\r\n"));
        return;
    }
    rel_time_t now = store_clock_now();
    struct meta_debug d = {
        .exp = info.exptime == 0 ? -1 : (int64_t)info.exptime - (int64_t)now, /* 1.6.45: time left */
        .la = now > info.atime ? now - info.atime : 0,
        .cas = info.cas,
        .fetched = info.fetched,
        .cls = info.cls,
        .size = info.size,
        .key_binary = info.key_binary,
    };
    fail(x, meta_encode_debug(x->out, m, &d));
}

enum process_next process_meta(struct request_ctx *x, const struct meta_request *m)
{
    switch (m->cmd) {
    case META_CMD_MG: meta_get(x, m); break;
    case META_CMD_MS: return meta_set(x, m);
    case META_CMD_MD: meta_delete(x, m); break;
    case META_CMD_MA: meta_arith(x, m); break;
    case META_CMD_MN: fail(x, meta_encode_mn(x->out)); break;
    case META_CMD_ME: meta_debug(x, m); break;
    }
    return PROCESS_CONTINUE;
}
