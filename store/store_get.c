/*
 * store_get.c - store_get(): get, gets, gat, gats, touch and mg, one look-up
 * under the key's stripe lock with the options applied there (touch, mg's
 * vivify / recache / stale / win-token logic); and me's peek.
 *
 * Every decision about the win token happens with the key's stripe lock
 * held, from lookup to flag change, so of any number of concurrent callers
 * exactly one sees "not sent yet" and sets it. The stale and token-sent
 * bits are iflags bits (ITEM_STALE, ITEM_TOKEN_SENT); they are written only
 * under the stripe lock (atomically, as the other iflags bits are).
 */
#include "config.h"

#include "store/engine.h"

#include "store/store.h"
#include "store/clock.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/lru.h"
#include "store/store_internal.h"

#include <string.h>

static const struct store_get_opts plain_get;

/* mg N on a miss: an empty item (flags 0), linked with the win token sent
 * to this caller. NULL when memory runs out. Stripe lock held. */
static struct item *
vivify_locked(const char *key, size_t nkey, uint32_t hv, rel_time_t now, const struct store_get_opts *o,
              struct store_tstats *ts)
{
    enum store_status st;
    struct item *it = store_int_alloc(key, nkey, 0, 0, 0, o->has_new_cas, ts, &st);
    if (it == NULL)
        return NULL;
    if (o->key_binary)
        item_set_key_binary(it);
    /* E: the vivified item's CAS (nobody else holds it yet) */
    store_int_link_locked(it, hv, now, item_own_cas(it) ? o->new_cas : 0);
    item_set_exptime(it, o->vivify_exptime);
    if (!o->no_token)
        item_iflag_set(it, ITEM_TOKEN_SENT);
    if (!o->no_bump)
        item_iflag_set(it, ITEM_FETCHED);
    STAT_INC(ts->total_items);
    return it; /* the ref from alloc is the caller's */
}

/* mg on a hit: what it reports of the item before this call, and whether
 * it wins the token (then sent). Stripe lock held. */
static void
meta_hit_locked(struct item *it, const struct store_get_opts *o, struct store_get_info *info)
{
    uint8_t fl = item_iflags(it);
    rel_time_t exp = slab_item_exptime(it);
    info->win = false;
    info->hit_before = (fl & ITEM_FETCHED) != 0;
    info->atime_before = slab_item_atime(it);
    info->exptime_before = exp;
    info->stale = (fl & ITEM_STALE) != 0;
    info->token_sent = (fl & ITEM_TOKEN_SENT) != 0;
    if (!info->token_sent && !o->no_token) {
        rel_time_t rexp = o->touch && o->recache_after_touch ? o->touch_exptime : exp;
        if ((o->recache && rexp != 0 && rexp < o->recache_time) || info->stale)
            info->win = true;
    }
    if (info->win)
        item_iflag_set(it, ITEM_TOKEN_SENT);
}

/* A get: get_cmds, and a hit in it's class or a miss. */
static inline void
count_get(const struct item *it, struct store_tstats *ts)
{
    STAT_INC(ts->get_cmds);
    if (it != NULL)
        STAT_INC(ts->slab[it->clsid].get_hits);
    else
        STAT_INC(ts->get_misses);
}

/* The counters of a store_get() other than a plain get (store.h). */
static void
count_other(const struct store_get_opts *o, const struct item *it, bool created, struct store_tstats *ts)
{
    switch (o->kind) {
    case STORE_GET_READ: /* gat: a get and a touch */
        count_get(it, ts);
        /* fall through */
    case STORE_GET_TOUCH:
        STAT_INC(ts->touch_cmds);
        if (it != NULL)
            STAT_INC(ts->slab[it->clsid].touch_hits);
        else
            STAT_INC(ts->touch_misses);
        break;
    case STORE_GET_META:
        if (it != NULL && o->touch && !created) {
            STAT_INC(ts->touch_cmds);
            STAT_INC(ts->slab[it->clsid].touch_hits);
        } else {
            count_get(it, ts);
        }
        break;
    case STORE_GET_QUIET:
        break;
    }
}

/* store_get() proper. Inlined twice: once for NULL options (a plain get,
 * the GET path: `o` is then the constant plain_get and every test of an
 * option folds away), once for the others. */
static inline __attribute__((always_inline)) struct item *
get(const char *key, size_t nkey, const struct store_get_opts *o, struct store_get_info *info,
    struct store_tstats *ts)
{
    struct store_get_info scratch;
    if (info != NULL)
        memset(info, 0, sizeof(*info));
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();

    ht_lock(hv);
    struct item *it = store_int_find_live_locked(key, nkey, hv, now, o->kind < STORE_GET_TOUCH ? ts : NULL);
    if (it != NULL) {
        if (o->kind == STORE_GET_META)
            meta_hit_locked(it, o, info != NULL ? info : &scratch);
        if (o->touch)
            item_set_exptime(it, o->touch_exptime);
        item_incref(it);
        if (!o->no_bump)
            lru_hit_locked(it, now, true);
    } else if (o->vivify) {
        it = vivify_locked(key, nkey, hv, now, o, ts);
        if (it != NULL && info != NULL) {
            info->created = true;
            info->win = true;
            info->atime_before = now;
        }
    }
    ht_unlock(hv);

    if (o->kind == STORE_GET_READ && !o->touch) /* get, gets */
        count_get(it, ts);
    else
        count_other(o, it, info != NULL && info->created, ts);
    return it;
}

/* Not inlined into store_get: the engine's calls then go straight on,
 * without the registers this one saves (20 instructions a get) */
static __attribute__((noinline)) struct item *
slab_get(const char *key, size_t nkey, const struct store_get_opts *o, struct store_get_info *info,
         struct store_tstats *ts)
{
    if (o == NULL)
        return get(key, nkey, &plain_get, NULL, ts);
    return get(key, nkey, o, info, ts);
}

struct item *
store_get(const char *key, size_t nkey, const struct store_get_opts *o, struct store_get_info *info,
          struct store_tstats *ts)
{
    STORE_SEG_ROUTE(seg_engine_get(key, nkey, o, info, ts));
    return slab_get(key, nkey, o, info, ts);
}

bool
store_meta_peek(const char *key, size_t nkey, struct store_meta_debug_info *out)
{
    STORE_SEG_ROUTE(seg_engine_meta_peek(key, nkey, out));
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();

    ht_lock(hv);
    struct item *it = store_int_find_live_locked(key, nkey, hv, now, NULL);
    if (it != NULL) {
        out->exptime = slab_item_exptime(it);
        out->atime = slab_item_atime(it);
        out->cas = item_cas(it);
        out->fetched = (item_iflags(it) & ITEM_FETCHED) != 0;
        out->cls = item_class(it);
        out->size = item_total_size(false, slab_item_nkey(it), slab_item_nbytes(it)); /* no trailer */
        out->key_binary = item_key_binary(it);
    }
    ht_unlock(hv);
    return it != NULL;
}
