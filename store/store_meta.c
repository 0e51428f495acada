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
#include "store/tcache.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

bool
item_key_binary(const struct item *it)
{
    return (item_state(it) & ITEM_KEY_BINARY) != 0;
}

void
item_set_key_binary(struct item *it)
{
    atomic_fetch_or_explicit(&it->state, ITEM_KEY_BINARY, memory_order_relaxed);
}

struct item *
store_meta_get(const char *key, size_t nkey, const struct store_meta_get_opts *o,
               struct store_meta_get_info *info, struct store_tstats *ts)
{
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();

    memset(info, 0, sizeof(*info));
    ht_lock(hv);
    struct item *it = store_int_find_live_locked(key, nkey, hv, now, ts);
    if (it == NULL) {
        if (o->vivify) {
            enum store_status st;
            it = store_int_alloc(key, nkey, 0, 0, 0, o->has_new_cas, ts, &st);
            if (it != NULL) {
                if (o->key_binary)
                    item_set_key_binary(it);
                /* E: the vivified item's CAS (nobody else holds it yet) */
                store_int_link_locked(it, hv, now, item_own_cas(it) ? o->new_cas : 0);
                item_set_exptime(it, o->vivify_exptime);
                if (!o->no_token)
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
        rel_time_t rexp = o->touch && o->recache_after_touch ? o->touch_exptime : exp;
        if (o->recache && rexp != 0 && rexp < o->recache_time)
            info->win = true;
        if (info->stale)
            info->win = true;
    }
    if (o->no_token)
        info->win = false;
    if (info->win)
        item_iflag_set(it, ITEM_TOKEN_SENT);
    if (o->touch)
        item_set_exptime(it, o->touch_exptime);
    item_incref(it);
    if (!o->no_bump) {
        lru_hit_locked(it, now, true);
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

/* The meta-only cases of ms: E (a given CAS), append/prepend (with N,
 * autovivify), C with I (stale). What is linked gets CAS `cas`. Stripe
 * lock held. */
static enum store_status
meta_link_locked(struct item *it, const struct store_meta_link_opts *o, uint32_t hv, rel_time_t now,
                 uint64_t cas, struct item **linked, struct store_tstats *ts)
{
    const char *key = item_key(it);
    size_t nkey = item_nkey(it);
    struct item *old = store_int_find_live_locked(key, nkey, hv, now, NULL);
    bool pend = o->mode == STORE_APPEND || o->mode == STORE_PREPEND;
    enum store_status st = STORE_OK;

    *linked = it;
    if (old == NULL && pend && o->vivify) {
        item_set_exptime(it, o->vivify_exptime);
        store_int_link_locked(it, hv, now, cas);
        return STORE_OK;
    }
    if (o->mode == STORE_CAS || (o->has_cas && !pend)) {
        /* as store_link: 0 is no CAS and never matches; -C items hold no
         * CAS, so under -C none does */
        uint64_t want = store_int_use_cas() ? o->cas : 0;
        if (old == NULL) {
            STAT_INC(ts->cas_misses);
            return STORE_NOT_FOUND;
        }
        if (want == 0) {
            STAT_INC(ts->slab[old->clsid].cas_badval);
            return STORE_EXISTS;
        }
        if (want == item_cas(old)) {
            STAT_INC(ts->slab[old->clsid].cas_hits);
        } else if (o->invalidate && want < item_cas(old)) {
            /* an older writer: keep its data, but as stale, with the
             * current item's TTL and token state */
            STAT_INC(ts->slab[old->clsid].cas_hits);
            item_set_exptime(it, item_exptime(old));
            item_iflag_set(it, ITEM_STALE);
            if (item_iflags(old) & ITEM_TOKEN_SENT)
                item_iflag_set(it, ITEM_TOKEN_SENT);
        } else {
            STAT_INC(ts->slab[old->clsid].cas_badval);
            return STORE_EXISTS;
        }
        store_int_unlink_locked(old, hv);
        store_int_link_locked(it, hv, now, cas);
        return STORE_OK;
    }
    switch (o->mode) {
    case STORE_ADD:
        if (old != NULL)
            return STORE_NOT_STORED;
        store_int_link_locked(it, hv, now, cas);
        break;
    case STORE_REPLACE:
        if (old == NULL)
            return STORE_NOT_STORED;
        /* fall through */
    case STORE_SET:
        if (old != NULL)
            store_int_unlink_locked(old, hv);
        store_int_link_locked(it, hv, now, cas);
        break;
    case STORE_APPEND:
    case STORE_PREPEND: {
        if (old == NULL)
            return STORE_NOT_STORED;
        /* C0 checks nothing, nor does any C under -C (no CAS to compare) */
        if (o->has_cas && o->cas != 0 && store_int_use_cas() && o->cas != item_cas(old))
            return STORE_EXISTS;
        uint64_t n = (uint64_t)item_nbytes(old) + item_nbytes(it);
        struct item *nit = store_int_alloc(key, nkey, item_flags(old), item_exptime(old), n, o->has_new_cas, ts, &st);
        if (nit == NULL)
            return st;
        if (item_key_binary(it)) /* the appended item's kind, as memcached */
            item_set_key_binary(nit);
        char *d = item_data(nit);
        struct item *first = o->mode == STORE_APPEND ? old : it;
        struct item *second = o->mode == STORE_APPEND ? it : old;
        memcpy(d, item_data(first), item_nbytes(first));
        memcpy(d + item_nbytes(first), item_data(second), item_nbytes(second));
        store_int_unlink_locked(old, hv);
        store_int_link_locked(nit, hv, now, cas);
        item_release(nit); /* the link holds it */
        *linked = nit;
        break;
    }
    default:
        return STORE_NOT_STORED;
    }
    return STORE_OK;
}

/*
 * ms E: the item to link carries a client's CAS, so it must be an
 * ITEM_CAS_OWN item (item.h). `it` is the caller's and unlinked: it takes
 * the trailer in place when its chunk has 8 bytes to spare, else a copy
 * is made. Returns the item to link (`it`, or a copy with our reference),
 * or NULL with *st set. No lock held.
 */
static struct item *
meta_own_cas(struct item *it, struct store_tstats *ts, enum store_status *st)
{
    if (item_own_cas(it))
        return it;
    if (slab_class_get(item_class(it))->size >= item_size(it) + sizeof(uint64_t)) {
        item_iflag_set(it, ITEM_CAS_OWN);
        tcache_count_requested(item_class(it), (int64_t)sizeof(uint64_t));
        return it;
    }
    struct item *nit = store_int_alloc(item_key(it), item_nkey(it), item_flags(it), item_exptime(it),
                                       item_nbytes(it), true, ts, st);
    if (nit == NULL)
        return NULL;
    memcpy(item_data(nit), item_data(it), item_nbytes(it));
    if (item_key_binary(it))
        item_set_key_binary(nit);
    return nit;
}

enum store_status
store_meta_link(struct item *it, const struct store_meta_link_opts *o, uint64_t *cas_out, uint32_t *size_out,
                struct store_tstats *ts)
{
    bool pend = o->mode == STORE_APPEND || o->mode == STORE_PREPEND;
    *size_out = item_nbytes(it);
    if (!o->invalidate && !o->has_new_cas && !pend)
        return store_link(it, o->mode, o->cas, cas_out, ts);

    const char *key = item_key(it);
    size_t nkey = item_nkey(it);
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();

    if (item_iflags(it) & ITEM_LINKED)
        return STORE_NOT_STORED;
    STAT_INC(ts->slab[it->clsid].cmd_set);
    struct item *orig = it;
    enum store_status st;
    if (o->has_new_cas && store_int_use_cas() && (!pend || o->vivify)) {
        it = meta_own_cas(it, ts, &st);
        if (it == NULL)
            return st;
    }
    ht_lock(hv);
    /* a CAS is used up whether or not this stores (store.c); with E none
     * is (the next item's CAS in 1.6.45 shows it) */
    uint64_t cas = !o->has_new_cas ? store_int_cas_draw() : store_int_use_cas() ? o->new_cas : 0;
    struct item *linked;
    st = meta_link_locked(it, o, hv, now, cas, &linked, ts);
    if (st == STORE_OK) {
        STAT_INC(ts->total_items);
        if (cas_out != NULL)
            *cas_out = item_cas(linked);
        *size_out = item_nbytes(linked);
    }
    ht_unlock(hv);
    if (it != orig)
        item_release(it); /* our copy: linked (the link holds it) or not */
    return st;
}

/*
 * md I: the item becomes stale, its next reader may win, and it gets CAS
 * `cas` (E's), or a new one when 0. Readers holding a reference read the CAS (an unaligned 8-byte
 * field, item.h) without any lock, so it is rewritten in place only when
 * nobody holds the item (refcount 1 under the stripe lock: no reference
 * can appear meanwhile), as incr/decr does. Otherwise a copy with the new
 * CAS, the same value, TTL, atime and fetched bit replaces it, and the
 * readers finish with the old one untouched. So it is too when E's CAS
 * goes to an item with no room for its flush generation (item.h). Should
 * memory for the copy run out, the item is marked stale and keeps its CAS.
 * Stripe lock held.
 */
static void
meta_invalidate_locked(struct item *it, uint32_t hv, rel_time_t now, bool set_ttl, rel_time_t exptime, uint64_t cas,
                struct store_tstats *ts)
{
    ht_assert_locked(hv);
    bool use_cas = store_int_use_cas();
    if (use_cas && (item_refcount(it) > 1 || (cas != 0 && !item_own_cas(it)))) {
        enum store_status st;
        struct item *nit = store_int_copy_locked(it, hv, cas != 0 || item_own_cas(it), now, ts, &st);
        if (nit != NULL)
            it = nit; /* held by its link alone */
    }
    if (set_ttl)
        item_set_exptime(it, exptime);
    item_iflag_set(it, ITEM_STALE);
    item_iflag_clear(it, ITEM_TOKEN_SENT); /* the next reader may win */
    if (use_cas && item_refcount(it) == 1 && (cas == 0 || item_own_cas(it)))
        item_set_cas(it, cas != 0 ? cas : item_cas_next());
}

enum store_status
store_meta_delete(const char *key, size_t nkey, const struct store_meta_delete_opts *o, struct store_tstats *ts)
{
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();
    enum store_status st = STORE_OK;
    ht_lock(hv);
    struct item *it = store_int_find_live_locked(key, nkey, hv, now, NULL);
    if (it == NULL) {
        STAT_INC(ts->delete_misses);
        st = STORE_NOT_FOUND;
    } else if (o->has_cas && item_cas(it) != o->cas) {
        st = STORE_EXISTS;
    } else if (!o->invalidate && !o->remove_value) {
        STAT_INC(ts->slab[it->clsid].delete_hits);
        store_int_unlink_locked(it, hv);
    } else {
        uint64_t cas = o->has_new_cas && store_int_use_cas() ? o->new_cas : 0; /* 0: a new one */
        if (o->remove_value) {
            /* x: the same key with an empty value and F's flags; it keeps
             * the CAS (I: a new one; E: E's), as 1.6.45 */
            bool own = cas != 0;
            if (cas == 0 && !o->invalidate) {
                cas = item_cas(it);
                own = item_own_cas(it); /* a client's CAS stays one */
            }
            struct item *nit = store_int_alloc(key, nkey, o->flags, o->set_ttl ? o->exptime : 0, 0, own, ts, &st);
            if (nit == NULL)
                goto out;
            if (o->key_binary)
                item_set_key_binary(nit);
            store_int_unlink_locked(it, hv);
            store_int_link_locked(nit, hv, now, cas);
            item_release(nit); /* the link holds it */
            if (o->invalidate) {
                item_iflag_set(nit, ITEM_STALE);
                item_iflag_clear(nit, ITEM_TOKEN_SENT); /* the next reader may win */
            }
        } else {
            meta_invalidate_locked(it, hv, now, o->set_ttl, o->exptime, cas, ts);
        }
    }
out:
    ht_unlock(hv);
    return st;
}

enum store_status
store_meta_arith(const char *key, size_t nkey, const struct store_meta_arith_opts *o, uint64_t *result,
                 uint64_t *cas_out, rel_time_t *exptime_out, bool *created, struct store_tstats *ts)
{
    rel_time_t exp_before = 0;
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();
    enum store_status st = STORE_OK;
    uint64_t v = 0;

    *created = false;
    ht_lock(hv);
    struct item *it = store_int_find_live_locked(key, nkey, hv, now, NULL);
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
        it = store_int_alloc(key, nkey, 0, o->vivify_exptime, (uint64_t)len, o->has_new_cas, ts, &st);
        if (it == NULL)
            goto out;
        memcpy(item_data(it), buf, (size_t)len);
        if (o->key_binary)
            item_set_key_binary(it);
        store_int_link_locked(it, hv, now, item_own_cas(it) ? o->new_cas : 0);
        item_release(it); /* the link holds it */
        STAT_INC(ts->total_items);
        v = o->initial;
        *created = true;
    } else {
        if (it->nbytes == 0) {
            st = STORE_NON_NUMERIC; /* before the CAS, as store_arith */
            goto out;
        }
        if (o->cas != 0 && item_cas(it) != o->cas) {
            st = STORE_EXISTS;
            goto out;
        }
        exp_before = item_exptime(it);
        it = store_int_arith_locked(it, hv, o->incr, o->delta, o->has_new_cas && store_int_use_cas(), now, ts, &v, &st);
        if (it == NULL)
            goto out;
        if (o->touch)
            item_set_exptime(it, o->touch_exptime);
    }
    /* E: only the link holds the item now (store_int_arith_locked writes in place
     * only when nobody else does, and only into an ITEM_CAS_OWN item when
     * E is given), so its CAS may change under the lock */
    if (o->has_new_cas && store_int_use_cas() && !*created)
        item_set_cas(it, o->new_cas);
    if (result != NULL)
        *result = v;
    if (cas_out != NULL)
        *cas_out = item_cas(it);
    if (exptime_out != NULL)
        *exptime_out = exp_before;
out:
    ht_unlock(hv);
    return st;
}

void
store_meta_cas_skip(void)
{
    (void)store_int_cas_draw();
}

bool
store_meta_peek(const char *key, size_t nkey, struct store_meta_debug_info *out)
{
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();

    ht_lock(hv);
    struct item *it = store_int_find_live_locked(key, nkey, hv, now, NULL);
    if (it != NULL) {
        out->exptime = item_exptime(it);
        out->atime = item_atime(it);
        out->cas = item_cas(it);
        out->fetched = (item_iflags(it) & ITEM_FETCHED) != 0;
        out->cls = item_class(it);
        out->size = item_total_size(false, item_nkey(it), item_nbytes(it)); /* no trailer */
        out->key_binary = item_key_binary(it);
    }
    ht_unlock(hv);
    return it != NULL;
}
