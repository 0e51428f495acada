/*
 * seg_store.h - a segment-structured item store (Segcache's design, NSDI
 * '21), as a standalone prototype beside the slab store (issue 22,
 * doc/performance.md section 7). Not linked into the server.
 *
 * Items are appended at their exact size to segments (1 MB by default) of
 * one arena of mem_limit bytes; segments are grouped by TTL bucket and
 * expire whole; a hash index of one-line buckets (seg_index.h) finds them.
 * Memory is taken back by whole segments: FIFO (the oldest segment goes),
 * or merge (the oldest few segments of a TTL bucket are compacted into one,
 * keeping their most frequently read items).
 *
 * Thread safety: every call may come from any thread (except setup and
 * teardown). Each thread appends to segments of its own (one per TTL
 * bucket it sets into), with no lock. Locks, in this order: the pool lock
 * (opening segments, eviction, merge, expiry), an index bucket's spinlock
 * (look-ups and slot changes). A reader pins the item's segment (a
 * per-segment refcount) until seg_item_release(); an evicted segment
 * still pinned is freed when the last pin goes. A thread's append
 * segments can be neither evicted nor expired until it seals them: on a
 * set that finds one full, expired or too old, and in seg_thread_tick()
 * and seg_thread_release().
 */
#ifndef MCD_SEG_STORE_H
#define MCD_SEG_STORE_H

#include "store/seg/segment.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum seg_status {
    SEG_OK = 0,
    SEG_NOT_FOUND,
    SEG_EXISTS,      /* CAS mismatch */
    SEG_NO_MEMORY,   /* nothing could be evicted (or eviction is off) */
    SEG_TOO_LARGE,   /* item larger than a segment */
};

enum seg_evict {
    SEG_EVICT_FIFO = 0,  /* the oldest sealed segment of all */
    SEG_EVICT_MERGE,     /* merge the oldest segments of the oldest TTL bucket */
    SEG_EVICT_NONE,      /* out of memory instead */
};

struct seg_options {
    size_t mem_limit;        /* bytes of segments (one of them the merge spare) */
    size_t seg_size;         /* 0: 1 MB; a multiple of 8, <= SEG_SIZE_MAX */
    unsigned hashpower;      /* log2 of the index's head buckets (7 slots each) at start */
    unsigned hashpower_max;  /* ... as it grows with the items (< hashpower: it does not) */
    enum seg_evict evict;
    unsigned merge_n;        /* segments merged into one (0: 4) */
    bool large_pages;        /* arena and index heads 2 MB aligned, MADV_HUGEPAGE
                                (store_options.large_pages, store/largepage.h) */
};

struct seg_stats {
    uint64_t items;          /* live */
    uint64_t live_bytes;     /* item bytes of live items */
    uint64_t dead_bytes;     /* appended, then overwritten or deleted, not yet reclaimed */
    uint64_t segs_total;
    uint64_t segs_used;      /* ACTIVE, SEALED or DRAINING */
    uint64_t segs_draining;
    uint64_t seg_bytes;      /* segs_used x seg_size */
    uint64_t index_bytes;    /* head and overflow buckets */
    uint64_t overflow_buckets;
    uint64_t evicted_segs;   /* by FIFO, or sources of merges */
    uint64_t evicted_items;  /* live items dropped by eviction (merge: not kept) */
    uint64_t merges;
    uint64_t merge_kept;     /* items copied forward by merges */
    uint64_t compactions;    /* two mostly dead segments copied into one, no item dropped */
    uint64_t compact_kept;   /* items copied by them */
    uint64_t expired_segs;
    uint64_t expired_items;
    uint64_t touch_copies;
    uint64_t cas_seals;      /* segments sealed early because a CAS delta would not fit */
    uint64_t steals;         /* other threads' active segments sealed for want of memory */
};

int seg_setup(const struct seg_options *o);
void seg_teardown(void);

/* The store's clock, seconds (as store_clock_set: set by a timer or a test). */
void seg_clock_set(uint32_t now);
uint32_t seg_now(void);

/*
 * Stores key -> value with `flags` and a relative `ttl` (seconds; 0: no
 * expiry). expect_cas non-zero: only if the live item's CAS equals it
 * (SEG_EXISTS if not, SEG_NOT_FOUND if none). *cas_out (may be NULL) gets
 * the new item's CAS. An overwritten item stays in its segment, dead.
 */
enum seg_status seg_set(const char *key, size_t nkey, uint32_t flags, uint32_t ttl, const void *value,
                        size_t nbytes, uint64_t expect_cas, uint64_t *cas_out);

/* The live item under key, pinned (give it back with seg_item_release), or
 * NULL. Bumps the slot's access frequency. */
const struct seg_item *seg_get(const char *key, size_t nkey);
void seg_item_release(const struct seg_item *it);
uint64_t seg_item_cas(const struct seg_item *it);

enum seg_status seg_delete(const char *key, size_t nkey);

/* touch / gat: a new TTL. The item is copied into a segment of the new TTL
 * bucket (copy-on-touch) with its CAS kept; the old copy is left dead. */
enum seg_status seg_touch(const char *key, size_t nkey, uint32_t ttl);

/* Reclaims every sealed segment whose TTL has passed (after
 * seg_thread_tick() for the calling thread), then grows the index as the
 * items want (seg_grow); returns the segments reclaimed. The server calls
 * this from its maintainer thread. */
unsigned seg_expire(void);

/* Splits up to max_splits of the index's head buckets if the live items
 * want more (seg_index_grow); returns how many. Holds no lock on entry. */
unsigned seg_grow(unsigned max_splits);

/* The calling thread seals its append segments that have expired or
 * passed their bucket's max age (a worker's once-a-second timer), or all
 * of them (a thread that stops setting, or exits). */
void seg_thread_tick(void);
void seg_thread_release(void);

void seg_stats(struct seg_stats *out);

/* Tests: the next CAS value drawn. */
void seg_cas_set_next(uint64_t next);

#endif /* MCD_SEG_STORE_H */
