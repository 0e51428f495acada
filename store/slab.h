/*
 * slab.h - slab classes: chunk sizes, pages, the memory limit, free lists,
 * the item arena and 32-bit item handles.
 *
 * Item memory is ONE contiguous virtual reservation of mem_limit bytes,
 * mapped PROT_NONE and MAP_NORESERVE: it costs address space only. It is
 * cut on demand, in address order, into pages of page_size = max(1 MB,
 * item_size_max) bytes (rounded up to the granularity), each made
 * readable and writable (mprotect) when it is first handed out, so that
 * memory is committed page by page even under vm.overcommit_memory=2
 * (with large_pages, -L, the first mem_limit bytes are made writable at
 * setup instead, and the reservation starts 2 MB aligned: slab.c).
 * Pages are handed out while the total stays within mem_limit. Each page
 * belongs to one class until the page mover gives it to another, and is
 * cut into chunks of that class's size. Class 1 holds
 * SLAB_CLASS1_HDR + chunk_size bytes (96 by default, as memcached),
 * each next class `factor` times larger (rounded up to the granularity)
 * while it stays <= item_size_max / factor; the last class is
 * item_size_max (rounded up). At most 63 classes (ids 1..63).
 *
 * An item is named by a 32-bit handle, (offset in the arena) / granularity
 * + 1, with 0 for none. The granularity is 8 bytes (slab_shift 3) for
 * arenas up to 32 GB and doubles with each doubling of mem_limit beyond,
 * up to 256 bytes for 1 TB (SLAB_SHIFT_MAX): 4 billion chunks at most.
 * Chunk sizes are multiples of it, so only a -m above 32 GB changes them.
 *
 * Each class has one mutex, its "class lock", which guards everything in
 * struct slab_class except the fields marked atomic-readable: the free
 * list, the page array, the never-used tail of the newest page, the CLOCK
 * hand, the sweep cursor and the counters. The counters are atomics only
 * so that `stats` may read them without the lock; they are written with
 * the lock held. The request path does not take it: chunks come from and
 * go to per-thread caches, and the item/byte counts are per thread
 * (tcache.h); only a refill, a flush, eviction, the sweep and the page
 * mover do.
 */
#ifndef MCD_STORE_SLAB_H
#define MCD_STORE_SLAB_H

#include "store/debug.h"
#include "store/item.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLAB_PAGE_MIN (1024 * 1024)
#define SLAB_SHIFT_MIN 3   /* 8-byte granularity: arenas up to 32 GB */
#define SLAB_SHIFT_MAX 8   /* 256-byte granularity: arenas up to 1 TB */
/* Class 1 is SLAB_CLASS1_HDR + chunk_size bytes: memcached's item header
 * size, so that the chunk sizes (96, 120, 152, 192, ...) match its own. */
#define SLAB_CLASS1_HDR 48
/* The largest -m (bytes) that handles can cover. */
#define SLAB_LIMIT_MAX ((uint64_t)1 << (32 + SLAB_SHIFT_MAX))
_Static_assert(SLAB_LIMIT_MAX == STORE_MEM_LIMIT_MAX, "store.h states the same limit");

/* Base of the item arena; log2 of the handle granularity; the base minus
 * one granule, so that handle h is at slab_arena_bias + (h << slab_shift).
 * Immutable between setup and teardown. */
extern char *slab_arena;
extern unsigned slab_shift;
extern uintptr_t slab_arena_bias;

static inline uint32_t
slab_handle(const struct item *it)
{
    return it == NULL ? 0 : (uint32_t)(((uintptr_t)it - slab_arena_bias) >> slab_shift);
}

static inline struct item *
slab_item(uint32_t h)
{
    return h == 0 ? NULL : (struct item *)(slab_arena_bias + ((uintptr_t)h << slab_shift));
}

struct slab_class {
    pthread_mutex_t lock;
#if STORE_DEBUG
    _Atomic uintptr_t owner;      /* the class lock's holder (debug.h) */
#endif
    /* immutable after setup */
    unsigned id;
    uint32_t size;                /* chunk size */
    uint32_t perslab;             /* chunks per page */
    uint32_t cache_max;           /* chunks one thread may cache (tcache.h) */
    uint32_t cache_batch;         /* chunks per refill or flush */
    /* class lock: memory */
    uint32_t free_list;           /* handles of chunks given back, linked through h_next */
    char *end_ptr;                /* next never-used chunk of the newest page */
    uint32_t end_left;            /* never-used chunks left there */
    void **pages;
    size_t npages, pages_cap;
    /* class lock: the CLOCK hand (next chunk eviction looks at) */
    size_t hand_page;
    uint32_t hand_idx;
    /* class lock: the expiry sweep's cursor */
    size_t sweep_page;
    uint32_t sweep_idx;
    bool sweeping;                /* a round is under way */
    /* class lock to write, atomic-readable */
    store_counter_t free_count;
    store_counter_t used_chunks;     /* taken from the class, thread caches included */
    store_counter_t outofmemory;
    store_counter_t lock_taken;      /* slab_lock() calls: the tests' witness
                                        that the request path stays off it */
    store_counter_t evicted_time;
    store_counter_t expired_unfetched;
    store_counter_t evicted_unfetched;
    store_counter_t evicted_active;
    store_counter_t crawler_reclaimed;
    store_counter_t evicted;
    store_counter_t reclaimed;
};

#define STAT_SUB(field, n) STAT_ADD(field, -(uint64_t)(n))
#define STAT_GET(field) atomic_load_explicit(&(field), memory_order_relaxed)

/* The class lock; every taker goes through these. */
static inline void
slab_lock(struct slab_class *c)
{
    pthread_mutex_lock(&c->lock);
#if STORE_DEBUG
    store_debug_own(&c->owner);
#endif
    STAT_INC(c->lock_taken);
}
static inline void
slab_unlock(struct slab_class *c)
{
#if STORE_DEBUG
    store_debug_disown(&c->owner);
#endif
    pthread_mutex_unlock(&c->lock);
}

/* Debug builds: asserts that this thread holds c's class lock, in every
 * function whose contract is "class lock held". Nothing in a release. */
#if STORE_DEBUG
#define slab_assert_locked(c) STORE_ASSERT(store_debug_owned(&(c)->owner))
#else
#define slab_assert_locked(c) ((void)0)
#endif

#if STORE_DEBUG
/* Debug builds: whether `chunk` is a chunk (at a chunk boundary) of a page
 * that belongs to class `id` now. Each page's class is recorded when a
 * class takes the page (a new page, or the page mover) and cleared when
 * it goes back to the pool. */
bool slab_chunk_of_class(const void *chunk, unsigned id);
/* Records that `page` now belongs to class `id` (0: to none). */
void slab_page_owner_set(const void *page, unsigned id);
#define slab_page_owner(page, id) slab_page_owner_set((page), (id))
#else
#define slab_page_owner(page, id) ((void)0)
#endif

/* Gives a page that belongs to no class back to the OS (MADV_DONTNEED,
 * PROT_NONE) and to the budget; its address range waits in a pool for the
 * next class that needs a page. */
void slab_page_release(void *page);

/* The global page pool: pages of no class that still count in
 * total_malloced. put: a page the mover emptied; take: a page, or NULL
 * (slab_alloc_locked takes one there before it carves a new page).
 * pool_lock inside; callable with a class lock held. */
void slab_gpool_put(void *page);
void *slab_gpool_take(void);
size_t slab_gpool_count(void);

/* cache_memlimit: the new limit in bytes; false when it is beyond the
 * reserved arena (slab_mem_limit_max()). A lower limit takes no page away
 * by itself: the page mover (automove.c) gives pages back until
 * total_malloced fits. */
bool slab_mem_limit_set(uint64_t bytes);
uint64_t slab_mem_limit_max(void);

/* Builds the classes from opts. Returns 0 or -1 (errno set). */
int slab_setup(const struct store_options *opts);
/* Frees every page. */
void slab_teardown(void);

unsigned slab_nclasses(void);
size_t slab_page_size(void);
/* Class `id` (1..slab_nclasses()), or NULL. */
struct slab_class *slab_class_get(unsigned id);
/* The smallest class whose chunks hold `size` bytes, 0 if none does. */
unsigned slab_clsid(size_t size);

/*
 * Takes a chunk from the class: free list first, then the unused end of
 * the newest page, then a new page if the memory limit allows. Class lock
 * held. NULL when none of these has one (the caller then evicts).
 */
void *slab_alloc_locked(struct slab_class *c);
/* Chunks of page `idx` of the class that were ever handed out (the rest
 * of the newest page was never used). Class lock held. */
uint32_t slab_carved_locked(const struct slab_class *c, size_t idx);
/* Chunk `i` of page `idx` of the class. Class lock held. */
static inline struct item *
slab_chunk_locked(const struct slab_class *c, size_t idx, uint32_t i)
{
    slab_assert_locked(c);
    STORE_ASSERT(idx < c->npages && i < c->perslab);
    return (struct item *)((char *)c->pages[idx] + (size_t)i * c->size);
}
/* Gives a chunk back to the class free list. Class lock held. */
void slab_free_locked(struct slab_class *c, void *chunk);

uint64_t slab_total_malloced(void);
uint64_t slab_malloc_fails(void);
uint64_t slab_mem_limit(void);

/* Test hook (fault injection): while > 0, each page malloc fails and
 * decrements it. */
extern _Atomic unsigned slab_fail_next_mallocs;

#endif /* MCD_STORE_SLAB_H */
