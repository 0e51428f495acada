/*
 * seg_internal.h - the segment store prototype's state, shared by
 * seg_store.c (the operations) and seg_pool.c (segments: taking, sealing,
 * eviction, merge, expiry). Not for callers outside store/seg/.
 */
#ifndef MCD_SEG_INTERNAL_H
#define MCD_SEG_INTERNAL_H

#include "store/seg/seg_index.h"
#include "store/seg/seg_store.h"
#include "store/seg/segment.h"

#include <pthread.h>
#include <stdatomic.h>

struct seg_global {
    char *arena;                 /* nseg x seg_size */
    struct segment *segs;
    uint32_t nseg;
    uint32_t seg_size;
    enum seg_evict evict;
    unsigned merge_n;
    struct ttl_bucket ttl[SEG_TTL_BUCKETS];

    pthread_mutex_t pool_lock;   /* everything below, and chains */
    int32_t free_head;
    uint32_t nfree;
    int32_t spare;               /* the merge's destination; -1: none */
    uint64_t next_seq;
    uint32_t ndraining;

    _Atomic uint64_t cas_next;
    _Atomic uint32_t now;

    /* counters (relaxed atomics: written under different locks) */
    _Atomic uint64_t evicted_segs, evicted_items, merges, merge_kept;
    _Atomic uint64_t expired_segs, expired_items, touch_copies, cas_seals;
};

extern struct seg_global seg_g;

static inline struct segment *
seg_of_item(const struct seg_item *it)
{
    return &seg_g.segs[(size_t)((const char *)it - seg_g.arena) / seg_g.seg_size];
}

static inline struct seg_item *
seg_item_at(uint32_t seg, uint32_t off)
{
    return (struct seg_item *)(seg_g.arena + (size_t)seg * seg_g.seg_size + off);
}

static inline bool
seg_expired(const struct segment *s, uint32_t now)
{
    return s->expire_at != 0 && now >= s->expire_at;
}

static inline uint32_t
seg_write_off(const struct segment *s)
{
    return atomic_load_explicit(&s->write_off, memory_order_relaxed);
}

/* An item has died (overwritten, deleted, evicted): its segment's counts. */
static inline void
seg_item_dead(struct segment *s, size_t size)
{
    /* release: whoever killed the item read its header and key first; a
     * reclaim that stops at live_items 0 (acquire) skips the bucket lock
     * that would otherwise order those reads before the segment's reuse */
    atomic_fetch_sub_explicit(&s->live_items, 1, memory_order_release);
    atomic_fetch_sub_explicit(&s->live_bytes, (uint32_t)size, memory_order_relaxed);
}

#define SEG_STAT_INC(f, n) atomic_fetch_add_explicit(&seg_g.f, (n), memory_order_relaxed)

/* seg_pool.c */
int seg_pool_setup(void);
/* Seals the calling thread's segment *active of TTL bucket b (if any) and
 * opens it a new one (*active), evicting if need be. NULL (and *active
 * -1) when no segment could be had. */
struct segment *seg_pool_open(unsigned b, int32_t *active);
/* Seals the calling thread's segment *active (if any); *active = -1. */
void seg_pool_seal(int32_t *active);
/* Frees every sealed expired segment; returns how many. */
unsigned seg_pool_expire(void);


#endif /* MCD_SEG_INTERNAL_H */
