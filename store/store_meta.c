/*
 * store_meta.c - the store operations behind the meta commands: mg's
 * vivify / recache / stale / win-token logic, ms with invalidation, md I,
 * ma with auto-create, and me's peek.
 *
 * Every decision about the win token happens with the key's stripe lock
 * held, from lookup to flag change, so of any number of concurrent callers
 * exactly one sees "not sent yet" and sets it. The stale and token-sent
 * bits are iflags bits (ITEM_STALE, ITEM_TOKEN_SENT); they are written only
 * under the stripe lock (atomically, as the other iflags bits are).
 */
#include "config.h"

#include "store/store.h"
#include "store/clock.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/lru.h"
#include "store/slab.h"
#include "store/store_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct item *
store_meta_get(const char *key, size_t nkey, const struct store_meta_get_opts *o,
               struct store_meta_get_info *info, struct store_tstats *ts)
{
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();

    memset(info, 0, sizeof(*info));
    ht_lock(hv);
    struct item *it = store_int_find_live(key, nkey, hv, now, ts);
    if (it == NULL) {
        if (o->vivify) {
            enum store_status st;
            it = store_int_alloc(key, nkey, 0, 0, 0, ts, &st);
            if (it != NULL) {
                store_int_link(it, hv, now, 0);
                item_set_exptime(it, o->vivify_exptime);
                item_iflag_set(it, ITEM_TOKEN_SENT);
                if (!o->no_bump)
                    item_iflag_set(it, ITEM_FETCHED);
                info->created = true;
                info->win = true;
                info->atime_before = now;
                STAT_INC(ts->total_items);
            }
        }
        ht_unlock(hv);
        STAT_INC(ts->get_cmds);
        if (it != NULL)
            STAT_INC(ts->slab[it->clsid].get_hits);
        else
            STAT_INC(ts->get_misses);
        return it; /* created: the ref from alloc is the caller's */
    }

    uint8_t fl = item_iflags(it);
    rel_time_t exp = item_exptime(it);
    info->hit_before = (fl & ITEM_FETCHED) != 0;
    info->atime_before = item_atime(it);
    info->exptime_before = exp;
    info->stale = (fl & ITEM_STALE) != 0;
    info->token_sent = (fl & ITEM_TOKEN_SENT) != 0;
    if (!info->token_sent) {
        if (o->recache && exp != 0 && exp < o->recache_time)
            info->win = true;
        if (info->stale)
            info->win = true;
    }
    if (info->win)
        item_iflag_set(it, ITEM_TOKEN_SENT);
    if (o->touch)
        item_set_exptime(it, o->touch_exptime);
    item_incref(it);
    if (!o->no_bump) {
        lru_hit(it, now, true);
    }
    ht_unlock(hv);
    if (o->touch) {
        STAT_INC(ts->touch_cmds);
        STAT_INC(ts->slab[it->clsid].touch_hits);
    } else {
        STAT_INC(ts->get_cmds);
        STAT_INC(ts->slab[it->clsid].get_hits);
    }
    return it;
}

enum store_status
store_meta_link(struct item *it, enum store_mode mode, uint64_t cas, bool invalidate, uint64_t *cas_out,
                struct store_tstats *ts)
{
    if (!invalidate || mode != STORE_CAS)
        return store_link(it, mode, cas, cas_out, ts);

    const char *key = item_key(it);
    size_t nkey = item_nkey(it);
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();
    enum store_status st = STORE_OK;

    if (item_iflags(it) & ITEM_LINKED)
        return STORE_NOT_STORED;
    STAT_INC(ts->slab[it->clsid].cmd_set);
    ht_lock(hv);
    uint64_t new_cas = store_int_cas_draw();
    struct item *old = store_int_find_live(key, nkey, hv, now, NULL);
    if (!store_int_use_cas())
        cas = 0; /* as store_link: -C items hold no CAS, so none matches */
    if (old == NULL) {
        STAT_INC(ts->cas_misses);
        st = STORE_NOT_FOUND;
    } else if (cas == 0) {
        STAT_INC(ts->slab[old->clsid].cas_badval);
        st = STORE_EXISTS;
    } else if (cas == item_cas(old)) {
        STAT_INC(ts->slab[old->clsid].cas_hits);
        store_int_unlink(old, hv);
        store_int_link(it, hv, now, new_cas);
    } else if (cas < item_cas(old)) {
        /* an older writer: keep its data, but as stale, with the current
         * item's TTL and token state */
        STAT_INC(ts->slab[old->clsid].cas_hits);
        item_set_exptime(it, item_exptime(old));
        item_iflag_set(it, ITEM_STALE);
        if (item_iflags(old) & ITEM_TOKEN_SENT)
            item_iflag_set(it, ITEM_TOKEN_SENT);
        store_int_unlink(old, hv);
        store_int_link(it, hv, now, new_cas);
    } else {
        STAT_INC(ts->slab[old->clsid].cas_badval);
        st = STORE_EXISTS;
    }
    if (st == STORE_OK) {
        STAT_INC(ts->total_items);
        if (cas_out != NULL)
            *cas_out = item_cas(it);
    }
    ht_unlock(hv);
    return st;
}

/*
 * md I: the item becomes stale, its next reader may win, and it gets a new
 * CAS. Readers holding a reference read the CAS (an unaligned 8-byte
 * field, item.h) without any lock, so it is rewritten in place only when
 * nobody holds the item (refcount 1 under the stripe lock: no reference
 * can appear meanwhile), as incr/decr does. Otherwise a copy with the new
 * CAS, the same value, TTL, atime and fetched bit replaces it, and the
 * readers finish with the old one untouched. Should memory for the copy
 * run out, the item is marked stale and keeps its CAS. Stripe lock held.
 */
static void
meta_invalidate(struct item *it, uint32_t hv, rel_time_t now, bool set_ttl, rel_time_t exptime,
           struct store_tstats *ts)
{
    ht_assert_locked(hv);
    bool use_cas = store_int_use_cas();
    if (use_cas && item_refcount(it) > 1) {
        enum store_status st;
        struct item *nit = store_int_alloc(item_key(it), item_nkey(it), item_flags(it), item_exptime(it),
                                           item_nbytes(it), ts, &st);
        if (nit != NULL) {
            memcpy(item_data(nit), item_data(it), item_nbytes(it));
            uint8_t keep = item_iflags(it) & (ITEM_FETCHED | ITEM_ACTIVE);
            rel_time_t atime = item_atime(it);
            store_int_unlink(it, hv);
            store_int_link(nit, hv, now, 0);
            item_iflag_set(nit, keep);
            item_set_atime(nit, atime);
            item_release(nit); /* the link holds it */
            it = nit;
            use_cas = false; /* done */
        }
    }
    if (set_ttl)
        item_set_exptime(it, exptime);
    item_iflag_set(it, ITEM_STALE);
    item_iflag_clear(it, ITEM_TOKEN_SENT); /* the next reader may win */
    if (use_cas && item_refcount(it) == 1)
        item_set_cas(it, item_cas_next());
}

enum store_status
store_meta_delete(const char *key, size_t nkey, bool has_cas, uint64_t cas, bool invalidate, bool set_ttl,
                  rel_time_t exptime, struct store_tstats *ts)
{
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();
    enum store_status st = STORE_OK;
    ht_lock(hv);
    struct item *it = store_int_find_live(key, nkey, hv, now, NULL);
    if (it == NULL) {
        STAT_INC(ts->delete_misses);
        st = STORE_NOT_FOUND;
    } else if (has_cas && item_cas(it) != cas) {
        st = STORE_EXISTS;
    } else if (!invalidate) {
        STAT_INC(ts->slab[it->clsid].delete_hits);
        store_int_unlink(it, hv);
    } else {
        meta_invalidate(it, hv, now, set_ttl, exptime, ts);
    }
    ht_unlock(hv);
    return st;
}

enum store_status
store_meta_arith(const char *key, size_t nkey, const struct store_meta_arith_opts *o, uint64_t *result,
                 uint64_t *cas_out, rel_time_t *exptime_out, struct store_tstats *ts)
{
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();
    enum store_status st = STORE_OK;
    uint64_t v = 0;

    ht_lock(hv);
    struct item *it = store_int_find_live(key, nkey, hv, now, NULL);
    if (it == NULL) {
        if (!o->vivify) {
            if (o->incr)
                STAT_INC(ts->incr_misses);
            else
                STAT_INC(ts->decr_misses);
            st = STORE_NOT_FOUND;
            goto out;
        }
        char buf[24];
        int len = snprintf(buf, sizeof(buf), "%" PRIu64, o->initial);
        it = store_int_alloc(key, nkey, 0, o->vivify_exptime, (uint64_t)len, ts, &st);
        if (it == NULL)
            goto out;
        memcpy(item_data(it), buf, (size_t)len);
        store_int_link(it, hv, now, 0);
        item_release(it); /* the link holds it */
        STAT_INC(ts->total_items);
        v = o->initial;
    } else {
        if (it->nbytes == 0) {
            st = STORE_NON_NUMERIC; /* before the CAS, as store_arith */
            goto out;
        }
        if (o->cas != 0 && item_cas(it) != o->cas) {
            st = STORE_EXISTS;
            goto out;
        }
        it = store_int_arith(it, hv, o->incr, o->delta, now, ts, &v, &st);
        if (it == NULL)
            goto out;
        if (o->touch)
            item_set_exptime(it, o->touch_exptime);
    }
    if (result != NULL)
        *result = v;
    if (cas_out != NULL)
        *cas_out = item_cas(it);
    if (exptime_out != NULL)
        *exptime_out = item_exptime(it);
out:
    ht_unlock(hv);
    return st;
}

bool
store_meta_peek(const char *key, size_t nkey, struct store_meta_debug_info *out)
{
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();

    ht_lock(hv);
    struct item *it = store_int_find_live(key, nkey, hv, now, NULL);
    if (it != NULL) {
        out->exptime = item_exptime(it);
        out->atime = item_atime(it);
        out->cas = item_cas(it);
        out->fetched = (item_iflags(it) & ITEM_FETCHED) != 0;
        out->cls = item_class(it);
        out->size = item_size(it);
    }
    ht_unlock(hv);
    return it != NULL;
}
