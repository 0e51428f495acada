/*
 * tcache.c - per-thread chunk caches and counters (see tcache.h).
 *
 * Owns the thread-local caches, the registry of live threads' caches and
 * what exited threads left in the counters. The cache is static TLS, so it
 * exists as soon as the thread does and there is no allocation to fail. A
 * thread enrols on first use. A pthread key's destructor, run when the
 * thread exits, flushes the chunks to their classes and folds the counters
 * into `left`. Lock order: registry_lock -> class lock. Nothing takes the
 * registry lock while it holds a class lock.
 */
#include "config.h"

#include "store/tcache.h"
#include "store/item.h"
#include "store/slab.h"

#include <pthread.h>
#include <string.h>

/*
 * A class's cache is a stack of handles whose top is one word: a version
 * in the high 32 bits (bumped by every change) and the count in the low
 * ones. The owner pushes and pops with a compare-and-swap on its own word
 * (no lock); the page mover may take every chunk of another thread's cache
 * (tcache_steal) with the same compare-and-swap, and the version keeps a
 * pop-then-push by the owner from passing for "unchanged".
 */
struct tcache_class {
    _Atomic uint64_t top;               /* version << 32 | cached chunks */
    _Atomic uint32_t chunks[TCACHE_MAX]; /* handles, [0, count) */
    store_counter_t items, bytes, requested;   /* signed, in two's complement */
};

static inline uint32_t
top_count(uint64_t top)
{
    return (uint32_t)top;
}

static inline uint64_t
top_next(uint64_t top, uint32_t count)
{
    return ((top >> 32) + 1) << 32 | count;
}

static inline uint32_t
cached(struct tcache_class *k)
{
    return top_count(atomic_load_explicit(&k->top, memory_order_acquire));
}

/* Takes up to `want` handles off the top of k into out[] (the owner, or
 * a thief under registry_lock); returns how many. */
static uint32_t
take(struct tcache_class *k, uint32_t want, uint32_t *out)
{
    uint64_t top = atomic_load_explicit(&k->top, memory_order_acquire);
    for (;;) {
        uint32_t n = top_count(top), got = want < n ? want : n;
        for (uint32_t i = 0; i < got; i++)
            out[i] = atomic_load_explicit(&k->chunks[n - 1 - i], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&k->top, &top, top_next(top, n - got),
                                                  memory_order_acq_rel, memory_order_acquire))
            return got;
    }
}

/* Pushes a handle (the owner only; the caller checked there is room). */
static void
push(struct tcache_class *k, uint32_t handle)
{
    uint64_t top = atomic_load_explicit(&k->top, memory_order_relaxed);
    do
        atomic_store_explicit(&k->chunks[top_count(top)], handle, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&k->top, &top, top_next(top, top_count(top) + 1),
                                                  memory_order_release, memory_order_relaxed));
}

struct tcache {
    struct tcache *prev, *next;         /* registry, under registry_lock */
    bool enrolled;
    struct tcache_class cls[STORE_CLASSES_MAX];
};

static _Thread_local struct tcache self;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tcache *registry;
static bool live;                       /* between tcache_setup and tcache_teardown */
static struct tcache_totals left[STORE_CLASSES_MAX];
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void
clear(struct tcache *t)
{
    for (unsigned id = 0; id < STORE_CLASSES_MAX; id++) {
        struct tcache_class *k = &t->cls[id];
        atomic_store_explicit(&k->top, 0, memory_order_relaxed);
        atomic_store_explicit(&k->items, 0, memory_order_relaxed);
        atomic_store_explicit(&k->bytes, 0, memory_order_relaxed);
        atomic_store_explicit(&k->requested, 0, memory_order_relaxed);
    }
}

/* Gives `count` chunks from the top of the cache back to class c.
 * Class lock held. */
static void
give_back_locked(struct slab_class *c, struct tcache_class *k, uint32_t count)
{
    slab_assert_locked(c);
    uint32_t h[TCACHE_MAX];
    uint32_t got = take(k, count < TCACHE_MAX ? count : TCACHE_MAX, h);
    for (uint32_t i = 0; i < got; i++)
        slab_free_locked(c, slab_item(h[i]));
}

static int64_t
get(store_counter_t *v)
{
    return (int64_t)atomic_load_explicit(v, memory_order_relaxed);
}

/* pthread key destructor: the thread is exiting. */
static void
thread_exit(void *arg)
{
    struct tcache *t = arg;
    pthread_mutex_lock(&registry_lock);
    for (unsigned id = 1; id < STORE_CLASSES_MAX; id++) {
        struct tcache_class *k = &t->cls[id];
        struct slab_class *c = live ? slab_class_get(id) : NULL;
        if (c != NULL && cached(k) > 0) {
            slab_lock(c);
            give_back_locked(c, k, TCACHE_MAX);
            slab_unlock(c);
        }
        left[id].items += get(&k->items);
        left[id].bytes += get(&k->bytes);
        left[id].requested += get(&k->requested);
    }
    clear(t);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        registry = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->enrolled = false;
    pthread_mutex_unlock(&registry_lock);
}

static void
make_exit_key(void)
{
    (void)pthread_key_create(&exit_key, thread_exit);
}

static void
enrol(struct tcache *t)
{
    pthread_once(&exit_key_once, make_exit_key);
    if (pthread_setspecific(exit_key, t) != 0) {
        /* No destructor (ENOMEM), so the registry must not point at this
         * thread's storage, which goes when the thread does. The store works
         * on; this thread's counts are missing from `stats`, and its cached
         * chunks stay in use. */
        t->enrolled = true;
        return;
    }
    pthread_mutex_lock(&registry_lock);
    t->prev = NULL;
    t->next = registry;
    if (registry != NULL)
        registry->prev = t;
    registry = t;
    t->enrolled = true;
    pthread_mutex_unlock(&registry_lock);
}

static inline struct tcache_class *
mine(unsigned clsid)
{
    struct tcache *t = &self;
    if (__builtin_expect(!t->enrolled, 0))
        enrol(t);
    return &t->cls[clsid];
}

void
tcache_enrol(void)
{
    (void)mine(0);
}

struct item *
tcache_pop(unsigned clsid)
{
    struct tcache_class *k = mine(clsid);
    uint32_t h;
    if (take(k, 1, &h) != 1)
        return NULL;
    struct item *it = slab_item(h);
    /* a cached chunk: no reference, neither FREE nor LINKED, of its class */
    STORE_ASSERT(item_refcount(it) == 0 && item_state(it) == 0 && slab_chunk_of_class(it, clsid));
    return it;
}

void
tcache_put_locked(struct slab_class *c, struct item *chunk)
{
    slab_assert_locked(c);
    STORE_ASSERT(!(item_state(chunk) & (ITEM_FREE | ITEM_LINKED)) && slab_chunk_of_class(chunk, c->id));
    struct tcache_class *k = mine(c->id);
    if (cached(k) >= c->cache_max) {
        slab_free_locked(c, chunk);
        return;
    }
    atomic_store_explicit(&chunk->refcount, 0, memory_order_relaxed);
    atomic_store_explicit(&chunk->state, 0, memory_order_relaxed);
    push(k, slab_handle(chunk));
}

void
tcache_free(struct item *it)
{
    unsigned clsid = it->clsid;
    /* freed only at zero, once, unlinked, into its page's class */
    STORE_ASSERT(item_refcount(it) == 0 && !(item_state(it) & (ITEM_FREE | ITEM_LINKED)) &&
                 slab_chunk_of_class(it, clsid));
    struct tcache_class *k = mine(clsid);
    STAT_SUB(k->requested, item_size(it));
    atomic_store_explicit(&it->state, 0, memory_order_relaxed);
    struct slab_class *c = slab_class_get(clsid);
    if (cached(k) >= c->cache_max) {
        slab_lock(c);
        if (c->cache_max == 0) {
            slab_free_locked(c, it);
            slab_unlock(c);
            return;
        }
        give_back_locked(c, k, c->cache_batch);
        slab_unlock(c);
    }
    push(k, slab_handle(it));
}

void
tcache_drain_locked(struct slab_class *c)
{
    give_back_locked(c, mine(c->id), TCACHE_MAX);
}

void
tcache_steal_begin(void)
{
    pthread_mutex_lock(&registry_lock);
}

void
tcache_steal_locked(struct slab_class *c)
{
    if (!live)
        return;
    for (struct tcache *t = registry; t != NULL; t = t->next)
        give_back_locked(c, &t->cls[c->id], TCACHE_MAX);
}

void
tcache_steal_end(void)
{
    pthread_mutex_unlock(&registry_lock);
}

void
tcache_count_items(unsigned clsid, int64_t items, int64_t bytes)
{
    struct tcache_class *k = mine(clsid);
    STAT_ADD(k->items, (uint64_t)items);
    STAT_ADD(k->bytes, (uint64_t)bytes);
}

void
tcache_count_requested(unsigned clsid, int64_t bytes)
{
    STAT_ADD(mine(clsid)->requested, (uint64_t)bytes);
}

void
tcache_totals(unsigned clsid, struct tcache_totals *out)
{
    pthread_mutex_lock(&registry_lock);
    *out = left[clsid];
    for (struct tcache *t = registry; t != NULL; t = t->next) {
        struct tcache_class *k = &t->cls[clsid];
        out->cached += cached(k);
        out->items += get(&k->items);
        out->bytes += get(&k->bytes);
        out->requested += get(&k->requested);
    }
    pthread_mutex_unlock(&registry_lock);
}

static void
reset_all(bool now_live)
{
    pthread_mutex_lock(&registry_lock);
    live = now_live;
    memset(left, 0, sizeof(left));
    for (struct tcache *t = registry; t != NULL; t = t->next)
        clear(t);
    pthread_mutex_unlock(&registry_lock);
}

void
tcache_setup(void)
{
    reset_all(true);
}

void
tcache_teardown(void)
{
    reset_all(false);
}
