/*
 * store_delete.c - store_delete(): delete of every protocol, and md with
 * its flags: C, I (invalidate: the item stays, stale, with a new CAS),
 * x (the value goes, the key stays), T, E, under the key's stripe lock.
 */
#include "config.h"

#include "store/engine.h"

#include "store/store.h"
#include "store/clock.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/store_internal.h"
#include "store/watch_hook.h"

static const struct store_delete_opts plain_delete;

/*
 * md I: the item becomes stale, its next reader may win, and it gets CAS
 * `cas` (E's), or a new one when 0. Readers holding a reference read the
 * CAS (an unaligned 8-byte field, item.h) without any lock, so it is
 * rewritten in place only when nobody holds the item (refcount 1 under
 * the stripe lock: no reference can appear meanwhile), as incr/decr does.
 * Otherwise a copy with the same value, TTL, atime and bits replaces it,
 * and the readers finish with the old one untouched. So it is too when
 * E's CAS goes to an item with no room for its flush generation (item.h).
 * Should memory for the copy run out, the item is marked stale and keeps
 * its CAS. Stripe lock held.
 */
static void
invalidate_locked(struct item *it, uint32_t hv, rel_time_t now, const struct store_delete_opts *o, uint64_t cas,
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
    if (o->set_ttl)
        item_set_exptime(it, o->exptime);
    item_iflag_set(it, ITEM_STALE);
    item_iflag_clear(it, ITEM_TOKEN_SENT); /* the next reader may win */
    if (use_cas && item_refcount(it) == 1 && (cas == 0 || item_own_cas(it)))
        item_set_cas(it, cas != 0 ? cas : item_cas_next());
}

/* md x: the same key with an empty value and F's flags, linked in place of
 * `it`; it keeps the CAS (I: a new one; E: E's), as 1.6.45. */
static enum store_status
remove_value_locked(struct item *it, const char *key, size_t nkey, uint32_t hv, rel_time_t now,
                    const struct store_delete_opts *o, uint64_t cas, struct store_tstats *ts)
{
    enum store_status st;
    bool own = cas != 0;
    if (cas == 0 && !o->invalidate) {
        cas = item_cas(it);
        own = item_own_cas(it); /* a client's CAS stays one */
    }
    struct item *nit = store_int_alloc(key, nkey, o->flags, o->set_ttl ? o->exptime : 0, 0, own, ts, &st);
    if (nit == NULL)
        return st;
    if (o->key_binary)
        item_set_key_binary(nit);
    store_int_replace_locked(it, nit, hv, now, cas);
    slab_item_release(nit); /* the link holds it */
    if (o->invalidate) {
        item_iflag_set(nit, ITEM_STALE);
        item_iflag_clear(nit, ITEM_TOKEN_SENT); /* the next reader may win */
    }
    return STORE_OK;
}

enum store_status
store_delete(const char *key, size_t nkey, const struct store_delete_opts *o, struct store_tstats *ts)
{
    STORE_SEG_ROUTE(seg_engine_delete(key, nkey, o, ts));
    if (o == NULL)
        o = &plain_delete;
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();
    enum store_status st = STORE_OK;
    ht_lock(hv);
    struct item *it = store_int_find_live_locked(key, nkey, hv, now, NULL);
    store_int_looked_up(it);
    if (it == NULL) {
        STAT_INC(ts->delete_misses);
        st = STORE_NOT_FOUND;
    } else if ((o->has_cas || o->cas != 0) && item_cas(it) != o->cas) {
        st = STORE_EXISTS;
    } else if (!o->invalidate && !o->remove_value) {
        STAT_INC(ts->slab[it->clsid].delete_hits);
        store_int_unlink_locked(it, hv);
    } else {
        uint64_t cas = o->has_new_cas && store_int_use_cas() ? o->new_cas : 0; /* 0: a new one */
        if (o->remove_value)
            st = remove_value_locked(it, key, nkey, hv, now, o, cas, ts);
        else
            invalidate_locked(it, hv, now, o, cas, ts);
    }
    ht_unlock(hv);
    return st;
}
