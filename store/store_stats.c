/*
 * store_stats.c - summing per-thread counter blocks.
 *
 * Owns nothing: each struct store_tstats has exactly one writer (its
 * worker thread); this reader loads every field relaxed, so a snapshot is
 * per-field exact but not a consistent cut across fields, as in memcached.
 */
#include "config.h"

#include "store/store.h"

void
store_tstats_sum(struct store_tstats_snap *sum, const struct store_tstats *t)
{
#define X(name) sum->name += atomic_load_explicit(&t->name, memory_order_relaxed);
    STORE_TSTATS(X)
#undef X
    for (unsigned i = 0; i < STORE_CLASSES_MAX; i++) {
#define X(name) sum->slab[i].name += atomic_load_explicit(&t->slab[i].name, memory_order_relaxed);
        STORE_SLAB_TSTATS(X)
#undef X
    }
}
