/*
 * store_internal.h - the steps the operations of store.h are made of
 * (store.c), shared by store_get.c, store_link.c, store_delete.c and
 * store_arith.c. Not part of the facade: only store/ includes this. The
 * _locked ones want the key's stripe lock held (ht_lock(hv)).
 */
#ifndef MCD_STORE_INTERNAL_H
#define MCD_STORE_INTERNAL_H

#include "store/store.h"
#include "store/expire.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/lru.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Allocation proper. Takes no lock of its own but a class lock to refill
 * the thread's chunk cache, and may be called with a stripe lock held
 * (doc/threads.md). `own_cas`: the item will carry a client's CAS (E),
 * with room for its flush generation (item.h); ignored under -C, where no
 * client's CAS is kept. NULL with *status set when it cannot. */
struct item *store_int_alloc(const char *key, size_t nkey, uint32_t flags, rel_time_t exptime, uint64_t nbytes,
                             bool own_cas, struct store_tstats *ts, enum store_status *status);

/* A CAS value for a store command: memcached 1.6.45 draws one for every
 * store (set, add, replace, append, prepend, cas; binary and meta alike)
 * that got as far as an item, stored or not, so the next item's CAS is one
 * further on even after a NOT_STORED or EXISTS. 0 under -C. */
/* store_arith.c: a stored value read as memcached's incr/decr reads it
 * (both engines' arith). */
bool store_int_parse_number(const char *p, size_t n, uint64_t *out);
uint64_t store_int_cas_draw(void);
/* false under -C */
bool store_int_use_cas(void);

/* Links `it` under hv: CAS `cas` (0: a new one), atime now, FETCHED
 * cleared, hash + counters, the link's ref. A `cas` not drawn from the
 * counter (a client's, E) needs an ITEM_CAS_OWN item, which records the
 * flush generation instead. */
void store_int_link_locked(struct item *it, uint32_t hv, rel_time_t now, uint64_t cas);
/* Unlinks a linked item and drops the link's ref. */
void store_int_unlink_locked(struct item *it, uint32_t hv);
/* store_int_unlink_locked(old) then store_int_link_locked(it). */
void store_int_replace_locked(struct item *old, struct item *it, uint32_t hv, rel_time_t now, uint64_t cas);
/*
 * Links, in place of the linked `it`, a copy that differs only in its
 * memory: the same value, flags, exptime, atime, CAS, key kind and the
 * fetched, active, stale and token-sent bits; with `own_cas` it has room
 * for a client's CAS (item.h). Returns the copy, held by its link only,
 * or NULL with *st set when memory runs out (`it` is then untouched).
 */
struct item *store_int_copy_locked(struct item *it, uint32_t hv, bool own_cas, rel_time_t now,
                                   struct store_tstats *ts, enum store_status *st);

/* The live item under key, or NULL; dead items met are unlinked (and
 * counted as get_expired / get_flushed when `ts`). Inline: every
 * operation starts with it, the GET path first. */
static inline struct item *
store_int_find_live_locked(const char *key, size_t nkey, uint32_t hv, rel_time_t now, struct store_tstats *ts)
{
    ht_assert_locked(hv);
    struct item *it = ht_find_locked(key, nkey, hv);
    if (it == NULL)
        return NULL;
    enum expire_state st = expire_state(it, now);
    if (st == EXPIRE_LIVE)
        return it;
    if (ts != NULL) {
        if (st == EXPIRE_EXPIRED)
            STAT_INC(ts->get_expired);
        else
            STAT_INC(ts->get_flushed);
    }
    store_int_unlink_locked(it, hv);
    return NULL;
}

#endif /* MCD_STORE_INTERNAL_H */
