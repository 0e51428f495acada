/*
 * hashtable.c - chained hash table with lock striping and incremental,
 * background growth.
 *
 * Owns: the primary table (2^power buckets), during an expansion the old
 * table and the migration cursor, and the stripe mutexes.
 *
 * Growth, the essay. When the item count passes 1.5 x buckets, the
 * maintainer thread calls ht_expand_start(): it allocates a table twice the
 * size, sets cursor = 0, then switches the stripes over one at a time:
 * under stripe s alone, stripe s's view becomes "primary = new table, old
 * = old table, expanding". Every hash of stripe s, in the old table and in
 * the new one, lands in buckets that only stripe s's holders touch (there
 * are never more stripes than buckets), so a stripe that has switched and
 * one that has not never share a bucket. Once all have switched, old
 * bucket b is moved by ht_expand_step() holding only stripe(b): each item
 * is rehashed into the new table, then cursor becomes b + 1. A lookup of
 * hash hv holds stripe(hv) and asks its view: expanding, and (hv &
 * old_mask) >= cursor? Then the bucket is still in the old table, else it
 * has moved. The answer for hv can only change while stripe(hv) is held
 * by the migrator (the stripe of an old bucket equals the stripe of every
 * hash in it), so a reader holding that lock sees a stable answer. After
 * the last bucket each stripe's view is switched back to "not expanding",
 * one stripe at a time again, and then the old table is freed. No one
 * ever holds more than one stripe lock here (ThreadSanitizer's deadlock
 * detector tracks at most 64 held mutexes; the old way took all 256).
 *
 * Fields: each stripe's `view` is written only under that stripe's lock
 * (by the maintainer) and read under it. `table`, `old_table` are the
 * maintainer's own. `power`, `old_power`, `expanding` are atomics written
 * by the maintainer for stats to peek at without a lock; `cursor` is
 * written under the stripe of the bucket being migrated and read under
 * any stripe (relaxed: see above for why the answer that matters is
 * stable).
 */
#include "config.h"

#include "store/hashtable.h"
#include "store/debug.h"
#include "store/item.h"
#include "store/slab.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* What a stripe's holders see of the table. Under that stripe's lock. */
struct ht_view {
    uint32_t *primary;    /* buckets: 32-bit item handles (slab_handle), 0 = empty */
    uint32_t *old;        /* while expanding: the table being emptied */
    unsigned power, old_power;
    bool expanding;
};

static uint32_t *table;        /* the maintainer's: current primary */
static uint32_t *old_table;    /* the maintainer's: the old one while expanding */
static _Atomic unsigned power;
static _Atomic unsigned old_power;
static _Atomic bool expanding;
static _Atomic uint64_t cursor;

/* One stripe mutex per 64-byte cache line: two threads taking
 * neighbouring stripes then never write the same line (a pthread mutex is
 * 40 bytes, so unpadded ones shared lines). */
#define STRIPE_LINE 64
struct stripe {
    _Alignas(STRIPE_LINE) pthread_mutex_t mu;
};
_Static_assert(sizeof(struct stripe) % STRIPE_LINE == 0, "a stripe fills whole cache lines");

static struct stripe *stripes;
#if STORE_DEBUG
static _Atomic uintptr_t *owners;   /* each stripe's holder (debug.h) */
#endif
static struct ht_view *views;
static uint32_t stripe_mask;
static unsigned nstripes;

#define MASK(p) ((uint32_t)((UINT64_C(1) << (p)) - 1))

int
ht_setup(unsigned hashpower)
{
    if (hashpower < 1 || hashpower > HT_POWER_MAX) {
        errno = EINVAL;
        return -1;
    }
    table = calloc((size_t)1 << hashpower, sizeof(*table));
    unsigned sp = hashpower < HT_STRIPES_POWER_MAX ? hashpower : HT_STRIPES_POWER_MAX;
    nstripes = 1u << sp;
    stripe_mask = nstripes - 1;
    stripes = aligned_alloc(STRIPE_LINE, nstripes * sizeof(*stripes));
    views = calloc(nstripes, sizeof(*views));
#if STORE_DEBUG
    owners = calloc(nstripes, sizeof(*owners));
    if (owners == NULL) {
        free(views);
        views = NULL;
    }
#endif
    if (table == NULL || stripes == NULL || views == NULL) {
        free(table);
        free(stripes);
        free(views);
        table = NULL;
        stripes = NULL;
        views = NULL;
        errno = ENOMEM;
        return -1;
    }
    for (unsigned i = 0; i < nstripes; i++) {
        pthread_mutex_init(&stripes[i].mu, NULL);
        views[i] = (struct ht_view){.primary = table, .power = hashpower};
    }
    atomic_store(&power, hashpower);
    atomic_store(&expanding, false);
    atomic_store(&cursor, 0);
    old_table = NULL;
    return 0;
}

void
ht_teardown(void)
{
    for (unsigned i = 0; i < nstripes; i++)
        pthread_mutex_destroy(&stripes[i].mu);
    free(stripes);
    free(views);
    free(table);
    free(old_table);
#if STORE_DEBUG
    free(owners);
    owners = NULL;
#endif
    stripes = NULL;
    views = NULL;
    table = old_table = NULL;
    nstripes = 0;
}

uint32_t
ht_stripe(uint32_t hv)
{
    return hv & stripe_mask;
}

/* Every stripe lock is taken and given back through these two, which
 * keep the debug owner record. */
static inline void
stripe_lock(uint32_t s)
{
    pthread_mutex_lock(&stripes[s].mu);
#if STORE_DEBUG
    store_debug_own(&owners[s]);
#endif
}

static inline void
stripe_unlock(uint32_t s)
{
#if STORE_DEBUG
    store_debug_disown(&owners[s]);
#endif
    pthread_mutex_unlock(&stripes[s].mu);
}

void
ht_lock(uint32_t hv)
{
    stripe_lock(hv & stripe_mask);
}

void
ht_unlock(uint32_t hv)
{
    stripe_unlock(hv & stripe_mask);
}

bool
ht_trylock(uint32_t hv)
{
    if (pthread_mutex_trylock(&stripes[hv & stripe_mask].mu) != 0)
        return false;
#if STORE_DEBUG
    store_debug_own(&owners[hv & stripe_mask]);
#endif
    return true;
}

#if STORE_DEBUG
bool
ht_holds(uint32_t hv)
{
    return stripes != NULL && store_debug_owned(&owners[hv & stripe_mask]);
}
#endif

/* Sets every stripe's view to `v`, one stripe lock at a time. */
static void
switch_views(struct ht_view v)
{
    for (unsigned i = 0; i < nstripes; i++) {
        stripe_lock(i);
        views[i] = v;
        stripe_unlock(i);
    }
}

/* The chain head for hv. Stripe lock held. */
static uint32_t *
bucket_locked(uint32_t hv)
{
    ht_assert_locked(hv);
    const struct ht_view *v = &views[hv & stripe_mask];
    if (v->expanding) {
        uint32_t ob = hv & MASK(v->old_power);
        if (ob >= atomic_load_explicit(&cursor, memory_order_relaxed))
            return &v->old[ob];
    }
    return &v->primary[hv & MASK(v->power)];
}

struct item *
ht_find_locked(const char *key, size_t nkey, uint32_t hv)
{
    uintptr_t bias = slab_arena_bias;
    unsigned shift = slab_shift;
    for (uint32_t h = *bucket_locked(hv); h != 0;) {
        struct item *it = (struct item *)(bias + ((uintptr_t)h << shift));
        /* every item of a chain is linked, under this stripe */
        STORE_ASSERT(item_linked_under(it, hv & stripe_mask));
        if (it->nkey == nkey && memcmp(slab_item_key(it), key, nkey) == 0)
            return it;
        h = it->h_next;
    }
    return NULL;
}

void
ht_insert_locked(struct item *it, uint32_t hv)
{
    uint32_t *b = bucket_locked(hv);
    STORE_ASSERT(!(item_iflags(it) & (ITEM_LINKED | ITEM_FREE)) && item_refcount(it) >= 1);
    it->h_next = *b;
    *b = slab_handle(it);
}

void
ht_remove_locked(struct item *it, uint32_t hv)
{
    uint32_t h = slab_handle(it);
    for (uint32_t *pp = bucket_locked(hv); *pp != 0; pp = &slab_item(*pp)->h_next) {
        if (*pp == h) {
            *pp = it->h_next;
            it->h_next = 0;
            return;
        }
    }
    STORE_ASSERT(!"ht_remove_locked: the item is not in its chain");
}

unsigned
ht_nstripes(void)
{
    return nstripes;
}

/* The chains of buckets from..2^p-1 of `t` that belong to stripe s. */
static void
walk_buckets(const uint32_t *t, unsigned p, uint64_t from, uint32_t s, void (*fn)(struct item *, void *),
             void *arg)
{
    uint64_t b = from - (from & stripe_mask) + s;
    if (b < from)
        b += nstripes;
    for (; b < (UINT64_C(1) << p); b += nstripes) {
        for (uint32_t h = t[b]; h != 0;) {
            struct item *it = slab_item(h);
            h = it->h_next; /* fn may unlink it */
            fn(it, arg);
        }
    }
}

void
ht_walk_stripe_locked(uint32_t s, void (*fn)(struct item *it, void *arg), void *arg)
{
    ht_assert_locked(s);
    const struct ht_view *v = &views[s];
    walk_buckets(v->primary, v->power, 0, s, fn, arg);
    if (v->expanding)
        walk_buckets(v->old, v->old_power, atomic_load_explicit(&cursor, memory_order_relaxed), s, fn, arg);
}

bool
ht_expand_due(uint64_t items)
{
    unsigned p = atomic_load_explicit(&power, memory_order_relaxed);
    return !atomic_load_explicit(&expanding, memory_order_relaxed) && p < HT_POWER_MAX &&
           items > ((UINT64_C(1) << p) * 3) / 2;
}

bool
ht_expand_start(void)
{
    unsigned p = atomic_load_explicit(&power, memory_order_relaxed);
    if (atomic_load_explicit(&expanding, memory_order_relaxed) || p >= HT_POWER_MAX)
        return false;
    uint32_t *t = calloc((size_t)1 << (p + 1), sizeof(*t));
    if (t == NULL)
        return false;
    old_table = table;
    table = t;
    atomic_store_explicit(&cursor, 0, memory_order_relaxed);
    switch_views((struct ht_view){.primary = t, .old = old_table, .power = p + 1, .old_power = p,
                                  .expanding = true});
    atomic_store_explicit(&old_power, p, memory_order_relaxed);
    atomic_store_explicit(&power, p + 1, memory_order_relaxed);
    atomic_store_explicit(&expanding, true, memory_order_relaxed);
    return true;
}

bool
ht_expand_step(size_t max_buckets)
{
    if (!atomic_load_explicit(&expanding, memory_order_relaxed))
        return false;
    uint64_t nold = UINT64_C(1) << old_power;
    uint32_t new_mask = MASK(atomic_load_explicit(&power, memory_order_relaxed));
    for (size_t n = 0; n < max_buckets; n++) {
        uint64_t b = atomic_load_explicit(&cursor, memory_order_relaxed);
        if (b >= nold)
            break;
        uint32_t s = (uint32_t)(b & stripe_mask);
        stripe_lock(s);
        struct item *it = slab_item(old_table[b]);
        while (it != NULL) {
            struct item *next = slab_item(it->h_next);
            uint32_t hv = ht_hash(slab_item_key(it), it->nkey);
            STORE_ASSERT((hv & MASK(old_power)) == b && item_linked_under(it, s));
            uint32_t *nb = &table[hv & new_mask];
            it->h_next = *nb;
            *nb = slab_handle(it);
            it = next;
        }
        old_table[b] = 0;
        atomic_store_explicit(&cursor, b + 1, memory_order_relaxed);
        stripe_unlock(s);
    }
    if (atomic_load_explicit(&cursor, memory_order_relaxed) < nold)
        return true;
    switch_views((struct ht_view){.primary = table,
                                  .power = atomic_load_explicit(&power, memory_order_relaxed)});
    atomic_store_explicit(&expanding, false, memory_order_relaxed);
    free(old_table); /* no view names it any more */
    old_table = NULL;
    return false;
}

unsigned
ht_power(void)
{
    return atomic_load_explicit(&power, memory_order_relaxed);
}

uint64_t
ht_bytes(void)
{
    uint64_t b = (UINT64_C(1) << ht_power()) * sizeof(uint32_t);
    if (ht_is_expanding())
        b += (UINT64_C(1) << old_power) * sizeof(uint32_t);
    return b;
}

bool
ht_is_expanding(void)
{
    return atomic_load_explicit(&expanding, memory_order_relaxed);
}
