/*
 * tcache.h - per-thread chunk caches and per-thread item counters: what
 * lets set, overwrite and delete run without taking any slab class lock.
 *
 * Every thread that uses the store owns one tcache (thread-local storage,
 * registered on first use, given back when the thread exits). For each
 * class it holds:
 *   - up to cache_max free chunks (tcache_class_max()). An allocation
 *     pops one; a chunk whose last reference is dropped is pushed back.
 *     Only an empty cache (refill) or a full one (flush) takes the class
 *     lock, and moves half a cache at a time.
 *   - the thread's share of the class's linked items, their bytes, and
 *     the requested memory. Link, unlink, alloc and free add to these.
 *     `stats` sums them over all threads.
 * Only the owner thread writes its tcache. The counters are atomics so
 * that a reader may sum them without a data race.
 *
 * A cached chunk has iflags 0, neither FREE nor LINKED, so everyone else
 * sees it as in use: the CLOCK hand skips it and the page mover leaves
 * its page alone. A thread can hand back its own cached chunks of a class
 * (tcache_drain_locked). The page mover, short of a page, takes back every
 * thread's cached chunks of its victim class (tcache_steal_locked): each cache's
 * top is one word that owner and thief change by compare-and-swap, so the
 * owner never takes a lock for it.
 */
#ifndef MCD_STORE_TCACHE_H
#define MCD_STORE_TCACHE_H

#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

struct item;
struct slab_class;

#define TCACHE_MAX 32          /* chunks per class per thread, at most */
#define TCACHE_PAGE_SHARE 64   /* and at most 1/64 of a page's chunks */

#define TCACHE_LARGE 2         /* at least, for classes of 12 chunks a page or more */
#define TCACHE_LARGE_MIN 12    /* chunks a page: 87 KB chunks in 1 MB pages, which
                                * holds every value up to 64 KB */

/* How many chunks of a class with `perslab` chunks per page one thread may
 * cache: TCACHE_MAX for small items (512 bytes and less in 1 MB pages),
 * fewer for larger ones, down to TCACHE_LARGE for classes of 12 to 127
 * chunks a page (8-87 KB chunks in 1 MB pages, values of 8-64 KB with the
 * default classes): an overwrite then frees into the cache the chunk the
 * thread's next set takes, so such a set takes no class lock, and a
 * thread holds at most 2 chunks of each of these classes (under 1 MB in
 * all). None for classes of fewer than 12 chunks a page, where hoarding
 * even one chunk would be felt and a lock is nothing next to copying the
 * value. */
static inline uint32_t
tcache_class_max(uint32_t perslab)
{
    uint32_t n = perslab / TCACHE_PAGE_SHARE;
    if (n < TCACHE_LARGE && perslab >= TCACHE_LARGE_MIN)
        return TCACHE_LARGE;
    return n < TCACHE_MAX ? n : TCACHE_MAX;
}

/* Chunks moved per refill or flush: half the class's cache, at least 1. */
static inline uint32_t
tcache_class_batch(uint32_t cache_max)
{
    return cache_max >= 2 ? cache_max / 2 : 1;
}

/* Enrols this thread if it has not touched the store yet. Enrolling takes
 * registry_lock, which must never be taken while a class lock is held: a
 * path that takes a class lock and then counts (the sweep, which may be a
 * thread's first use of the store) calls this first. Every other function
 * here enrols as needed, and the allocation path pops before it refills. */
void tcache_enrol(void);

/* A cached chunk of class `clsid` (iflags 0, no reference), or NULL. */
struct item *tcache_pop(unsigned clsid);
/* Caches a chunk just taken from class c (class lock held); gives it back
 * to the class free list when the cache is full. */
void tcache_put_locked(struct slab_class *c, struct item *chunk);
/* Takes back a chunk whose last reference was dropped (no lock held): it
 * stops counting as requested memory, and is cached. When the cache is
 * full, half of it goes back to the class free list first, under the
 * class lock (straight there when the class caches nothing). */
void tcache_free(struct item *it);
/* Gives this thread's cached chunks of class c back to its free list.
 * Class lock held. */
void tcache_drain_locked(struct slab_class *c);
/* The page mover, so that cached chunks pin no page of its victim:
 * tcache_steal_begin() takes registry_lock (call it with no class lock
 * held), then under the victim's class lock tcache_steal_locked() gives
 * every live thread's cached chunks of that class back to its free list;
 * the page is emptied under that same class lock, so no thread can cache
 * its chunks again meanwhile. tcache_steal_end() drops registry_lock. */
void tcache_steal_begin(void);
void tcache_steal_locked(struct slab_class *c);
void tcache_steal_end(void);

/* This thread's counter changes for class `clsid`. */
void tcache_count_items(unsigned clsid, int64_t items, int64_t bytes);
void tcache_count_requested(unsigned clsid, int64_t bytes);

struct tcache_totals {
    int64_t cached;      /* chunks held in thread caches */
    int64_t items;       /* linked items */
    int64_t bytes;       /* their sizes */
    int64_t requested;   /* sizes of every allocated chunk's item */
};
/* Class `clsid`'s totals: what exited threads left plus every live
 * thread's share. */
void tcache_totals(unsigned clsid, struct tcache_totals *out);

/* store_setup(): caches start empty. store_teardown(): every thread's
 * cache is emptied (its chunks belong to the arena being freed). */
void tcache_setup(void);
void tcache_teardown(void);

#endif /* MCD_STORE_TCACHE_H */
