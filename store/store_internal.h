/*
 * store_internal.h - store.c's internals that store_meta.c builds on. Not
 * part of the facade: only store/ includes this. Every function here wants
 * the key's stripe lock held (ht_lock(hv)), as the static originals do.
 */
#ifndef MCD_STORE_INTERNAL_H
#define MCD_STORE_INTERNAL_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* own_cas: the item will carry a client's CAS (E, item.h; ignored under -C) */
struct item *store_int_alloc(const char *key, size_t nkey, uint32_t flags, rel_time_t exptime, uint64_t nbytes,
                             bool own_cas, struct store_tstats *ts, enum store_status *status);
/* Links with CAS `cas` (0: a new one), atime now, FETCHED cleared, plus
 * the link's ref. */
void store_int_link_locked(struct item *it, uint32_t hv, rel_time_t now, uint64_t cas);
/* The CAS value a store command uses up whether or not it stores (see
 * store.c); 0 under -C. */
uint64_t store_int_cas_draw(void);
void store_int_unlink_locked(struct item *it, uint32_t hv);
/* Links a copy of the linked `it` in its place that a client cannot tell
 * from it (CAS included); own_cas: with room for a client's CAS. Returns
 * the copy (held by its link only), or NULL with *st set. */
struct item *store_int_copy_locked(struct item *it, uint32_t hv, bool own_cas, rel_time_t now, struct store_tstats *ts,
                            enum store_status *st);
struct item *store_int_find_live_locked(const char *key, size_t nkey, uint32_t hv, rel_time_t now, struct store_tstats *ts);
/* incr/decr of the linked item `it` (in place or as a new item); returns
 * the item now linked with *out the new value, or NULL with *st set. */
struct item *store_int_arith_locked(struct item *it, uint32_t hv, bool incr, uint64_t delta, bool own_cas, rel_time_t now,
                             struct store_tstats *ts, uint64_t *out, enum store_status *st);
bool store_int_use_cas(void);

#endif /* MCD_STORE_INTERNAL_H */
