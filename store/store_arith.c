/*
 * store_arith.c - store_arith(): incr and decr of every protocol, and ma
 * with its flags (N: create, J: initial, T, E, C), under the key's stripe
 * lock; memcached's parsing of the stored number.
 */
#include "config.h"

#include "store/engine.h"

#include "store/store.h"
#include "store/clock.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/lru.h"
#include "store/store_internal.h"
#include "store/watch_hook.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const struct store_arith_opts plain_arith;

/*
 * Parses a stored value as memcached's incr/decr does (strtoull plus
 * checks): optional leading white space, an optional sign, at least one
 * digit, no overflow, then the end of the value or a white-space byte
 * (anything may follow that). A '-' is accepted only when the negated
 * result still reads as non-negative (that is, "-0").
 */
bool
store_int_parse_number(const char *p, size_t n, uint64_t *out)
{
    size_t i = 0;
    bool neg = false;
    while (i < n && isspace((unsigned char)p[i]))
        i++;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        neg = p[i++] == '-';
    size_t start = i;
    uint64_t v = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (i == start)
        return false;
    if (i < n && !isspace((unsigned char)p[i]))
        return false;
    if (neg) {
        v = (uint64_t)0 - v;
        if ((int64_t)v < 0)
            return false;
    }
    *out = v;
    return true;
}

/*
 * incr/decr of the linked item `it` under hv (stripe lock held): parses its
 * value, counts the hit, and writes the result in place (padded with
 * spaces, length kept) when nobody else holds the item and the digits fit,
 * as memcached does; else links a new item in its place. Returns the item
 * now linked with *out the new value, or NULL with *st set (NON_NUMERIC,
 * or an allocation failure). `own_cas`: the caller then gives the result a
 * client's CAS (E), so it must be an ITEM_CAS_OWN item.
 */
static struct item *
arith_locked(struct item *it, uint32_t hv, bool incr, uint64_t delta, bool own_cas, rel_time_t now,
             struct store_tstats *ts, uint64_t *out, enum store_status *st)
{
    ht_assert_locked(hv);
    uint64_t v;
    if (!store_int_parse_number(slab_item_data(it), it->nbytes, &v)) {
        *st = STORE_NON_NUMERIC;
        return NULL;
    }
    if (incr) {
        v += delta;
        STAT_INC(ts->slab[it->clsid].incr_hits);
    } else {
        v = delta > v ? 0 : v - delta;
        STAT_INC(ts->slab[it->clsid].decr_hits);
    }
    *out = v;
    char buf[24];
    int len = snprintf(buf, sizeof(buf), "%" PRIu64, v);
    if (item_refcount(it) == 1 && (uint32_t)len <= it->nbytes && own_cas && !item_own_cas(it)) {
        /* in place, but into an item with room for the client's CAS */
        struct item *nit = store_int_copy_locked(it, hv, true, now, ts, st);
        if (nit == NULL)
            return NULL;
        it = nit;
    }
    if (item_refcount(it) == 1 && (uint32_t)len <= it->nbytes) {
        char *d = slab_item_data(it);
        memcpy(d, buf, (size_t)len);
        memset(d + len, ' ', it->nbytes - (uint32_t)len);
        if (store_int_use_cas())
            item_set_cas(it, item_cas_next());
        lru_bump_locked(it, now);
        return it;
    }
    struct item *nit = store_int_alloc(slab_item_key(it), it->nkey, it->flags, slab_item_exptime(it), (uint64_t)len, own_cas, ts,
                                       st);
    if (nit == NULL)
        return NULL;
    memcpy(slab_item_data(nit), buf, (size_t)len);
    store_int_replace_locked(it, nit, hv, now, 0);
    slab_item_release(nit); /* the link holds it */
    return nit;
}

/* ma N on a miss: `initial`, created (no delta applied). Stripe lock held. */
static struct item *
vivify_locked(const char *key, size_t nkey, uint32_t hv, rel_time_t now, const struct store_arith_opts *o,
              struct store_tstats *ts, enum store_status *st)
{
    char buf[24];
    int len = snprintf(buf, sizeof(buf), "%" PRIu64, o->initial);
    struct item *it = store_int_alloc(key, nkey, 0, o->vivify_exptime, (uint64_t)len, o->has_new_cas, ts, st);
    if (it == NULL)
        return NULL;
    memcpy(slab_item_data(it), buf, (size_t)len);
    if (o->key_binary)
        item_set_key_binary(it);
    store_int_link_locked(it, hv, now, item_own_cas(it) ? o->new_cas : 0);
    slab_item_release(it); /* the link holds it */
    STAT_INC(ts->total_items);
    return it;
}

enum store_status
store_arith(const char *key, size_t nkey, const struct store_arith_opts *o, struct store_arith_out *out,
            struct store_tstats *ts)
{
    STORE_SEG_ROUTE(seg_engine_arith(key, nkey, o, out, ts));
    if (o == NULL)
        o = &plain_arith;
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();
    enum store_status st = STORE_OK;
    rel_time_t exp_before = 0;
    uint64_t v = o->initial;
    bool created = false;

    ht_lock(hv);
    struct item *it = store_int_find_live_locked(key, nkey, hv, now, NULL);
    store_int_looked_up(it);
    if (it == NULL) {
        if (!o->vivify) {
            if (o->decr)
                STAT_INC(ts->decr_misses);
            else
                STAT_INC(ts->incr_misses);
            st = STORE_NOT_FOUND;
            goto out;
        }
        it = vivify_locked(key, nkey, hv, now, o, ts, &st);
        if (it == NULL)
            goto out;
        created = true;
    } else {
        /* memcached rejects an empty value before it compares the CAS */
        if (it->nbytes == 0) {
            st = STORE_NON_NUMERIC;
            goto out;
        }
        if (o->cas != 0 && item_cas(it) != o->cas) {
            st = STORE_EXISTS;
            goto out;
        }
        exp_before = slab_item_exptime(it);
        bool own = o->has_new_cas && store_int_use_cas();
        it = arith_locked(it, hv, !o->decr, o->delta, own, now, ts, &v, &st);
        if (it == NULL)
            goto out;
        if (o->touch)
            item_set_exptime(it, o->touch_exptime);
        /* E: only the link holds the item now (arith_locked writes in place
         * only when nobody else does, and only into an ITEM_CAS_OWN item
         * when E is given), so its CAS may change under the lock */
        if (own)
            item_set_cas(it, o->new_cas);
    }
    if (out != NULL) {
        out->value = v;
        out->cas = item_cas(it);
        out->exptime_before = exp_before;
        out->created = created;
    }
out:
    ht_unlock(hv);
    return st;
}
