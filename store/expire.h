/*
 * expire.h - TTLs, flush_all, and the maintainer thread (expiry sweep and
 * hash table growth).
 */
#ifndef MCD_STORE_EXPIRE_H
#define MCD_STORE_EXPIRE_H

#include "store/store.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct item;
struct slab_class;

enum expire_state {
    EXPIRE_LIVE = 0,
    EXPIRE_EXPIRED,   /* exptime passed */
    EXPIRE_FLUSHED,   /* invalidated by flush_all */
};

/* Resets the flush state. `use_cas` no longer matters: under -C items
 * keep a link sequence that flush_all reads as it reads CAS (item.h). */
void expire_setup(bool use_cas);

/* The number of immediate flushes so far: an ITEM_CAS_OWN item records it
 * when linked (stripe lock held). */
uint64_t expire_flush_gen(void);

/* flush_prefix (prefix.c): a new flush generation, returned; items linked
 * before hold a lower one. flush_all's bound does not move. */
uint64_t expire_gen_bump(void);

/* Whether `it` is still live at `now`. Reads cas/atime: call with the
 * item's stripe lock held (or on an item nobody else can change). */
enum expire_state expire_state(const struct item *it, rel_time_t now);

/* False while no flush_all (done or pending) and no flush_prefix is in
 * force: expire_state_fields() then only compares the exptime. Inline:
 * every look-up of the segment engine asks (expire.c's words, and
 * prefix.c's count). */
extern _Atomic uint64_t expire_flush_cas_v, expire_flush_time_v;
extern _Atomic unsigned prefix_nlive;
static inline bool
expire_flush_any(void)
{
    return atomic_load_explicit(&expire_flush_cas_v, memory_order_acquire) != 0 ||
           atomic_load_explicit(&expire_flush_time_v, memory_order_acquire) != 0 ||
           atomic_load_explicit(&prefix_nlive, memory_order_acquire) != 0;
}

/* expire_state() of an item of the segment engine (store/seg/seg_engine.c),
 * given its fields: `own` (a client's or a wide CAS) is judged by the
 * flush generation `gen` it was linked in, otherwise by its link sequence
 * `seq`; the key for flush_prefix. Index bucket lock of the key held. */
enum expire_state expire_state_fields(rel_time_t exptime, rel_time_t atime, bool own, uint64_t seq, uint64_t gen,
                                      const char *key, size_t nkey, rel_time_t now);

/* Walks the class LRU from the tail towards the head and reclaims
 * expired/flushed items, dropping the class lock every few dozen items.
 * Looks at `budget` items at most; a round cut short resumes where it
 * stopped on the next call. Returns the count reclaimed. */
uint64_t expire_sweep_class(struct slab_class *c, rel_time_t now, uint64_t budget);

/* Starts/stops the maintainer thread (1 s period, woken at stop). It
 * grows the hash table when due and, when `sweep`, sweeps expired items. */
int expire_thread_start(bool sweep);
void expire_thread_stop(void);

#endif /* MCD_STORE_EXPIRE_H */
