/*
 * slab.h - slab classes: chunk sizes, pages, the memory limit, free lists.
 *
 * Item memory comes in pages of page_size = max(1 MB, item_size_max)
 * bytes, malloc'd on demand (nothing is preallocated) while the total stays
 * within mem_limit. Each page belongs to one class for good and is cut
 * into chunks of that class's size. Class 1 holds sizeof(struct item) +
 * chunk_size bytes (96 by default), each next class `factor` times larger
 * (rounded up to 8) while it stays <= item_size_max / factor; the last
 * class is exactly item_size_max. At most 63 classes (ids 1..63).
 *
 * Each class has one mutex, its "class lock", which guards everything in
 * struct slab_class except the fields marked atomic-readable: the free
 * list, the page array, the never-used tail of the newest page, the LRU
 * (head, tail, the items' prev/next links, the sweep marker) and the
 * counters. The counters are atomics only so that `stats` may read them
 * without the lock; they are written with the lock held.
 */
#ifndef MCD_STORE_SLAB_H
#define MCD_STORE_SLAB_H

#include "store/item.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLAB_PAGE_MIN (1024 * 1024)
#define SLAB_ALIGN 8

struct slab_class {
    pthread_mutex_t lock;
    /* immutable after setup */
    unsigned id;
    uint32_t size;                /* chunk size */
    uint32_t perslab;             /* chunks per page */
    /* class lock: memory */
    struct item *free_list;       /* chunks given back, linked through h_next */
    char *end_ptr;                /* next never-used chunk of the newest page */
    uint32_t end_left;            /* never-used chunks left there */
    void **pages;
    size_t npages, pages_cap;
    /* class lock: the LRU (head = most recent, tail = next to evict) */
    struct item *head, *tail;
    struct item marker;           /* the sweep's cursor (ITEM_MARKER) */
    bool sweeping;                /* the marker is in the LRU: a round is under way */
    /* class lock to write, atomic-readable */
    store_counter_t free_count;
    store_counter_t used_chunks;
    store_counter_t mem_requested;   /* exact sizes of allocated chunks */
    store_counter_t curr_items;      /* linked items */
    store_counter_t bytes;           /* exact sizes of linked items */
    store_counter_t outofmemory;
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

/* Frees a page that belongs to no class and returns it to the budget. */
void slab_page_release(void *page);

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
/* Gives a chunk back to the class free list. Class lock held. */
void slab_free_locked(struct slab_class *c, void *chunk);

uint64_t slab_total_malloced(void);
uint64_t slab_malloc_fails(void);
uint64_t slab_mem_limit(void);

/* Test hook (fault injection): while > 0, each page malloc fails and
 * decrements it. */
extern _Atomic unsigned slab_fail_next_mallocs;

#endif /* MCD_STORE_SLAB_H */
