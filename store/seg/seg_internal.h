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

    _Atomic uint64_t cas_next;   /* the prototype's CAS counter (seg_store.h) */
    _Atomic uint32_t now;

    /* What the CAS counter is at now, near enough: segments take it as
     * their base when opened, and stop taking items when it has moved
     * too far for a delta. The prototype's: cas_next; the engine's: the
     * store's counter (seg_engine.c). */
    uint64_t (*cas_now)(void);
    /* The clock: NULL, `now` (seg_clock_set); the engine's: the store's. */
    uint32_t (*now_fn)(void);
    /* Called for every live item reclaim drops (expired segment, FIFO, a
     * merge that does not keep it), its index bucket locked; `expired`:
     * its segment expired. NULL: nothing. */
    void (*on_drop)(const struct seg_item *it, bool expired);

    /* counters (relaxed atomics: written under different locks) */
    _Atomic uint64_t evicted_segs, evicted_items, merges, merge_kept, compactions, compact_kept;
    _Atomic uint64_t expired_segs, expired_items, touch_copies, cas_seals, steals;
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

/* Every item of s has passed its exptime (s sealed, no writer). */
static inline bool
seg_expired(const struct segment *s, uint32_t now)
{
    return now >= atomic_load_explicit(&s->exp_max, memory_order_relaxed);
}

/* An item of exptime `exp` (0: never) is in s: s expires no earlier. */
static inline void
seg_exp_raise(struct segment *s, uint32_t exp)
{
    uint32_t e = exp != 0 ? exp : SEG_EXP_NEVER;
    uint32_t cur = atomic_load_explicit(&s->exp_max, memory_order_relaxed);
    while (cur < e && !atomic_compare_exchange_weak_explicit(&s->exp_max, &cur, e, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

/* An item's own expiry (its exptime word): 0 never. */
static inline bool
seg_item_expired(const struct seg_item *it, uint32_t now)
{
    uint32_t e = seg_item_exptime(it);
    return e != 0 && e <= now;
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

/* seg_store.c: the steps every operation is made of */

/* A set draws its CAS at the link, under the index bucket's lock; its
 * segment must then still have room for it: a segment is not appended to
 * once the counter is this close to the end of its delta range. */
#define SEG_CAS_LINK_MARGIN (INT64_C(1) << 20)

/* a == b over n bytes: keys are short, and libc's memcmp is a call that
 * costs more than the compare. 8 bytes at a time, the last 8 (or 4) read
 * where they end, overlapping the word before: a 16-byte key is two
 * compares. */
static inline bool
seg_key_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t u, v, w, z;
        memcpy(&u, a, 4);
        memcpy(&v, b, 4);
        memcpy(&w, a + n - 4, 4);
        memcpy(&z, b + n - 4, 4);
        return u == v && w == z;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* The slot of key in hb's chain (live or not), or NULL. hb locked.
 * Inline: it is most of a look-up. */
static inline __attribute__((always_inline)) uint64_t *
seg_find_key(struct seg_bucket *hb, uint16_t tag, const char *key, size_t nkey)
{
    for (struct seg_bucket *b = hb; b != NULL; b = seg_index_next(b)) {
        for (unsigned i = 0; i < SEG_BUCKET_SLOTS; i++) {
            uint64_t v = b->slot[i];
            if (seg_slot_tag(v) != tag)
                continue;
            const struct seg_item *it = seg_item_at(seg_slot_seg(v), seg_slot_off(v));
            uint64_t h = seg_hdr_load(it);
            if (seg_hdr_nkey(h) == nkey &&
                seg_key_eq((const char *)it + SEG_HDR_SIZE + seg_hdr_extra(h), key, nkey))
                return &b->slot[i];
        }
    }
    return NULL;
}

/* Empties a slot whose item is dead from now on. hb locked. */
void seg_slot_kill(uint64_t *slot);
/* The frequency after one more access. */
uint8_t seg_freq_bump(uint8_t f);
/*
 * Reserves `size` bytes in TTL bucket b's active segment of the calling
 * thread (opening one, evicting if need be), counted as a writer of it and
 * as a live item of `size` bytes, its exp_max raised to `exptime`. NULL
 * when no segment could be had. The caller writes the item, links it or
 * gives it up (seg_item_dead), then seg_writer_done().
 */
char *seg_reserve(unsigned b, size_t size, uint32_t exptime, struct segment **s_out, uint32_t *off_out);
void seg_writer_done(struct segment *s);
void seg_pin(struct segment *s);
void seg_unpin(struct segment *s);
/* The TTL bucket for an exptime (0 never) at now. */
unsigned seg_bucket_for(uint32_t exptime, uint32_t now);
/* Whether a CAS value fits s's delta range. */
static inline bool
seg_delta_fits(const struct segment *s, uint64_t cas, int64_t *delta)
{
    int64_t d = (int64_t)(cas - atomic_load_explicit(&s->cas_base, memory_order_relaxed));
    *delta = d;
    return d >= SEG_CAS_DELTA_MIN && d <= SEG_CAS_DELTA_MAX;
}
/* An item's CAS (or link sequence) as stored: wide, or base + delta. */
static inline uint64_t
seg_item_seq(const struct seg_item *it)
{
    uint64_t h = seg_hdr_load(it);
    if (h & SEG_H_WIDE)
        return seg_item_wide_cas(it);
    return atomic_load_explicit(&seg_of_item(it)->cas_base, memory_order_relaxed) + (uint64_t)seg_hdr_cas_delta(h);
}

/* seg_pool.c */
int seg_pool_setup(void);
/* Seals the calling thread's segment *active of TTL bucket b (if it is
 * still its own: `token`) and opens it a new one (*active), evicting if
 * need be, and when nothing else can go, sealing another thread's active
 * segment so that it can. NULL (and *active -1) when no segment could be
 * had. */
struct segment *seg_pool_open(unsigned b, int32_t *active, uint64_t token);
/* Seals the calling thread's segment *active (if still its own); *active = -1. */
void seg_pool_seal(int32_t *active, uint64_t token);
/* Frees every sealed expired segment; returns how many. */
unsigned seg_pool_expire(void);


#endif /* MCD_SEG_INTERNAL_H */
