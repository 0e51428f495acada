/*
 * store_link.c - store_link(): set, add, replace, append, prepend and cas
 * of every protocol, and ms with its flags (C, I, E, N), as one decision
 * under the key's stripe lock; and the CAS value an ms that stores nothing
 * uses up.
 */
#include "config.h"

#include "store/engine.h"

#include "store/store.h"
#include "store/clock.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/lru.h"
#include "store/slab.h"
#include "store/store_internal.h"
#include "store/tcache.h"
#include "store/watch_hook.h"

#include <string.h>

static const struct store_link_opts plain_link;

/*
 * E: the item to link carries a client's CAS, so it must be an
 * ITEM_CAS_OWN item (item.h). `it` is the caller's and unlinked: it takes
 * the trailer in place when its chunk has 8 bytes to spare, else a copy
 * is made. Returns the item to link (`it`, or a copy with our reference),
 * or NULL with *st set. No lock held.
 */
static struct item *
own_cas(struct item *it, struct store_tstats *ts, enum store_status *st)
{
    if (item_own_cas(it))
        return it;
    if (slab_class_get(item_class(it))->size >= item_size(it) + sizeof(uint64_t)) {
        item_iflag_set(it, ITEM_CAS_OWN);
        tcache_count_requested(item_class(it), (int64_t)sizeof(uint64_t));
        return it;
    }
    struct item *nit = store_int_alloc(slab_item_key(it), slab_item_nkey(it), slab_item_flags(it), slab_item_exptime(it),
                                       slab_item_nbytes(it), true, ts, st);
    if (nit == NULL)
        return NULL;
    memcpy(slab_item_data(nit), slab_item_data(it), slab_item_nbytes(it));
    if (item_key_binary(it))
        item_set_key_binary(nit);
    return nit;
}

/* A compare-and-swap (CAS mode, or a CAS given to SET/ADD/REPLACE) against
 * the live `old`; with I, a lower CAS than old's stores `it` as stale. */
static enum store_status
cas_locked(struct item *it, struct item *old, const struct store_link_opts *o, uint64_t want, uint32_t hv,
           rel_time_t now, uint64_t cas, struct store_tstats *ts)
{
    if (old == NULL) {
        STAT_INC(ts->cas_misses);
        return STORE_NOT_FOUND;
    }
    if (want == 0) {
        /* 0 is no CAS and never matches; -C items hold no CAS, so under
         * -C none does */
        STAT_INC(ts->slab[old->clsid].cas_badval);
        return STORE_EXISTS;
    }
    if (want == item_cas(old)) {
        STAT_INC(ts->slab[old->clsid].cas_hits);
    } else if (o->invalidate && want < item_cas(old)) {
        /* an older writer: keep its data, but as stale, with the current
         * item's TTL and token state */
        STAT_INC(ts->slab[old->clsid].cas_hits);
        item_set_exptime(it, slab_item_exptime(old));
        item_iflag_set(it, ITEM_STALE);
        if (item_iflags(old) & ITEM_TOKEN_SENT)
            item_iflag_set(it, ITEM_TOKEN_SENT);
    } else {
        STAT_INC(ts->slab[old->clsid].cas_badval);
        return STORE_EXISTS;
    }
    store_int_replace_locked(old, it, hv, now, cas);
    return STORE_OK;
}

/* append/prepend: a new item holding old's value and it's, with old's
 * flags and exptime and it's key kind (as memcached). */
static enum store_status
pend_locked(struct item *it, struct item *old, const struct store_link_opts *o, uint32_t hv, rel_time_t now,
            uint64_t cas, struct item **linked, struct store_tstats *ts)
{
    enum store_status st;
    uint64_t n = (uint64_t)slab_item_nbytes(old) + slab_item_nbytes(it);
    struct item *nit = store_int_alloc(slab_item_key(it), slab_item_nkey(it), slab_item_flags(old), slab_item_exptime(old), n,
                                       o->has_new_cas, ts, &st);
    if (nit == NULL) /* a combined value over the limit is "not stored", as memcached */
        return st == STORE_TOO_LARGE ? STORE_NOT_STORED : st;
    if (item_key_binary(it))
        item_set_key_binary(nit);
    struct item *first = o->mode == STORE_APPEND ? old : it;
    struct item *second = o->mode == STORE_APPEND ? it : old;
    char *d = slab_item_data(nit);
    memcpy(d, slab_item_data(first), slab_item_nbytes(first));
    memcpy(d + slab_item_nbytes(first), slab_item_data(second), slab_item_nbytes(second));
    store_int_replace_locked(old, nit, hv, now, cas);
    slab_item_release(nit); /* the link holds it */
    *linked = nit;
    return STORE_OK;
}

/* The decision, stripe lock held. What is linked gets CAS `cas`. */
static enum store_status
link_locked(struct item *it, const struct store_link_opts *o, uint32_t hv, rel_time_t now, uint64_t cas,
            struct item **linked, struct store_tstats *ts)
{
    struct item *old = store_int_find_live_locked(slab_item_key(it), slab_item_nkey(it), hv, now, NULL);
    store_int_looked_up(old);
    bool pend = o->mode == STORE_APPEND || o->mode == STORE_PREPEND;
    /*
     * The CAS rules of memcached's do_store_item, for every protocol. Under
     * -C an item cannot carry the client's CAS, so it reads as 0 (memcached's
     * ITEM_set_cas is then a no-op): a non-zero CAS alone does not turn a
     * SET/ADD/REPLACE into a compare-and-swap, and a compare-and-swap never
     * matches.
     */
    uint64_t want = store_int_use_cas() ? o->cas : 0;
    bool has_cas = o->has_cas || want != 0;

    *linked = it;
    if (old == NULL && pend && o->vivify) {
        item_set_exptime(it, o->vivify_exptime);
        store_int_link_locked(it, hv, now, cas);
        return STORE_OK;
    }
    if (o->mode == STORE_CAS || (has_cas && !pend))
        return cas_locked(it, old, o, want, hv, now, cas, ts);
    switch (o->mode) {
    case STORE_SET:
        if (old != NULL)
            store_int_replace_locked(old, it, hv, now, cas);
        else
            store_int_link_locked(it, hv, now, cas);
        return STORE_OK;
    case STORE_ADD:
        if (old != NULL) {
            lru_bump_locked(old, now);
            return STORE_NOT_STORED;
        }
        store_int_link_locked(it, hv, now, cas);
        return STORE_OK;
    case STORE_REPLACE:
        if (old == NULL)
            return STORE_NOT_STORED;
        store_int_replace_locked(old, it, hv, now, cas);
        return STORE_OK;
    case STORE_APPEND:
    case STORE_PREPEND:
        if (old == NULL)
            return STORE_NOT_STORED;
        /* a CAS is checked against a present item only; C0 checks nothing */
        if (want != 0 && want != item_cas(old))
            return STORE_EXISTS;
        return pend_locked(it, old, o, hv, now, cas, linked, ts);
    default:
        return STORE_NOT_STORED;
    }
}

enum store_status
store_link(struct item *it, const struct store_link_opts *o, struct store_link_out *out, struct store_tstats *ts)
{
    STORE_SEG_ROUTE(seg_engine_link(it, o, out, ts));
    if (o == NULL)
        o = &plain_link;
    bool pend = o->mode == STORE_APPEND || o->mode == STORE_PREPEND;
    if (out != NULL) {
        out->size = slab_item_nbytes(it);
        out->exptime = slab_item_exptime(it);
        out->clsid = it->clsid;
    }
    if (item_iflags(it) & ITEM_LINKED)
        return STORE_NOT_STORED;
    STAT_INC(ts->slab[it->clsid].cmd_set);
    struct item *orig = it;
    enum store_status st;
    if (o->has_new_cas && store_int_use_cas() && (!pend || o->vivify)) {
        it = own_cas(it, ts, &st);
        if (it == NULL)
            return st;
    }
    uint32_t hv = ht_hash(slab_item_key(it), slab_item_nkey(it));
    rel_time_t now = store_clock_now();
    ht_lock(hv);
    /* a CAS is used up whether or not this stores (store_int_cas_draw);
     * with E none is (the next item's CAS in 1.6.45 shows it) */
    uint64_t cas = !o->has_new_cas ? store_int_cas_draw() : store_int_use_cas() ? o->new_cas : 0;
    struct item *linked;
    st = link_locked(it, o, hv, now, cas, &linked, ts);
    if (st == STORE_OK) {
        STAT_INC(ts->total_items);
        if (out != NULL) {
            out->cas = item_cas(linked);
            out->size = slab_item_nbytes(linked);
            out->exptime = slab_item_exptime(linked);
            out->clsid = linked->clsid;
        }
    }
    ht_unlock(hv);
    if (it != orig)
        slab_item_release(it); /* our copy: linked (the link holds it) or not */
    return st;
}

void
store_meta_cas_skip(void)
{
    STORE_SEG_ROUTE_VOID(seg_engine_meta_cas_skip());
    (void)store_int_cas_draw();
}
