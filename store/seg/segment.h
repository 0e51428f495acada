/*
 * segment.h - the segment store's memory: items appended at their exact
 * size (8-byte aligned) to fixed-size segments, and the segment pool (free
 * list, TTL buckets' chains, the merge spare, segments left draining while
 * readers hold them). Nothing of store/ or server/: the engine
 * (seg_engine.c) adds the store.h semantics on top.
 *
 * An item (layout v2), 8-byte aligned (SEG_ALIGN), at a byte offset of its
 * segment:
 *
 *   0        8       12        [16]      [..]               key ...
 *   | header | atime | [exptime]| [flags] | [cas, flush gen] | key | value | pad to 8 |
 *
 *   header (one little-endian uint64, an atomic: some bits change after
 *   the item is published):
 *     bits  0..7   nkey (1..250)
 *     bits  8..31  nbytes, the value length (< 16 MB)
 *     bit  32      F: the 4 client flag bytes follow (only when non-zero)
 *     bit  33      E: the 4-byte exptime word follows (only when non-zero)
 *     bit  34      W: wide CAS: the CAS (8 bytes) and the flush generation
 *                  it was linked in (8) follow, for a CAS a client chose
 *                  (meta E) or one too far from its segment's base; the
 *                  delta is then unused
 *     bit  35      fetched (read since linked)          } mutable: atomic
 *     bit  36      win token sent (mg W/Z)              } fetch_or/and,
 *     bit  37      stale (md I, ms I)                   } under the key's
 *     bit  38      key binary (meta b)                  } index bucket lock
 *     bit  39      linked: published once (never cleared)
 *     bits 40..63  CAS delta: a signed 24-bit offset from the segment's
 *                  cas_base (CAS = cas_base + delta); without CAS (-C) the
 *                  same field holds the item's link sequence (flush_all)
 *   atime: a uint32 (atomic), rel time of the last (rate-limited) access
 *   exptime: a uint32 (atomic), rel time; absent: 0, never
 *
 * A 16-byte key with a 100-byte value, no flags and no TTL is 12 + 16 +
 * 100 = 128 bytes (the prototype's v1 header, 8 bytes without atime: 124,
 * also 128 with padding). No refcount or links per item: the segment holds
 * the references (readers pin a whole segment) and the age (its position
 * in the chain); the access frequency lives in the index slot.
 *
 * Whether an item is live is decided by the index: an item is live iff an
 * index slot points at it and its own exptime and the flush state (the
 * engine's) say so. The key, value, flags and CAS of a published item are
 * never written again; what changes (the mutable bits, atime, exptime) is
 * written under the key's index bucket lock with atomic stores.
 */
#ifndef MCD_SEG_SEGMENT_H
#define MCD_SEG_SEGMENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Items start at multiples of 2^SEG_ALIGN_SHIFT bytes (8 by default;
 * bench/seg-sim.sh also builds the store with 0, items packed at their
 * exact size, to measure what the padding costs). */
#ifndef SEG_ALIGN_SHIFT
#define SEG_ALIGN_SHIFT 3
#endif
#define SEG_ALIGN (1u << SEG_ALIGN_SHIFT)
#define SEG_HDR_SIZE 12u /* the header word and atime */
#define SEG_NBYTES_MAX ((1u << 24) - 1)
#define SEG_CAS_DELTA_MIN (-(INT64_C(1) << 23))
#define SEG_CAS_DELTA_MAX ((INT64_C(1) << 23) - 1)
#define SEG_SIZE_MAX (1u << (22 + SEG_ALIGN_SHIFT)) /* offsets / SEG_ALIGN take 22 bits of a slot */
#define SEG_COUNT_MAX (1u << 22) /* segment ids take 22 bits of a slot */
#define SEG_EXP_NEVER UINT32_MAX /* a segment's exp_max when an item never expires */

#define SEG_H_FLAGS (UINT64_C(1) << 32)
#define SEG_H_EXP (UINT64_C(1) << 33)
#define SEG_H_WIDE (UINT64_C(1) << 34)
#define SEG_H_FETCHED (UINT64_C(1) << 35)
#define SEG_H_TOKEN (UINT64_C(1) << 36)
#define SEG_H_STALE (UINT64_C(1) << 37)
#define SEG_H_KEYBIN (UINT64_C(1) << 38)
#define SEG_H_LINKED (UINT64_C(1) << 39)
#define SEG_H_MUTABLE (SEG_H_FETCHED | SEG_H_TOKEN | SEG_H_STALE | SEG_H_KEYBIN | SEG_H_LINKED)
#define SEG_H_DELTA_SHIFT 40

struct seg_item; /* opaque: the bytes at an item's offset */

static inline _Atomic uint64_t *
seg_hdr_word(const struct seg_item *it)
{
    return (_Atomic uint64_t *)(void *)(uintptr_t)it;
}

static inline _Atomic uint32_t *
seg_atime_word(const struct seg_item *it)
{
    return (_Atomic uint32_t *)(void *)((uintptr_t)it + 8);
}

static inline _Atomic uint32_t *
seg_exp_word(const struct seg_item *it)
{
    return (_Atomic uint32_t *)(void *)((uintptr_t)it + 12);
}

static inline uint64_t
seg_hdr_load(const struct seg_item *it)
{
    return atomic_load_explicit(seg_hdr_word(it), memory_order_relaxed);
}

static inline uint8_t
seg_hdr_nkey(uint64_t h)
{
    return (uint8_t)(h & 0xff);
}

static inline uint32_t
seg_hdr_nbytes(uint64_t h)
{
    return (uint32_t)((h >> 8) & SEG_NBYTES_MAX);
}

static inline bool
seg_hdr_has_flags(uint64_t h)
{
    return (h & SEG_H_FLAGS) != 0;
}

static inline int64_t
seg_hdr_cas_delta(uint64_t h)
{
    return (int64_t)h >> SEG_H_DELTA_SHIFT; /* arithmetic shift: the sign comes back */
}

/* The immutable part (F, E, W and the lengths) and a delta. */
static inline uint64_t
seg_hdr_make_x(uint8_t nkey, uint32_t nbytes, uint64_t bits, int64_t cas_delta)
{
    return (uint64_t)nkey | ((uint64_t)nbytes << 8) | bits | ((uint64_t)cas_delta << SEG_H_DELTA_SHIFT);
}

static inline uint64_t
seg_hdr_make(uint8_t nkey, uint32_t nbytes, bool has_flags, int64_t cas_delta)
{
    return seg_hdr_make_x(nkey, nbytes, has_flags ? SEG_H_FLAGS : 0, cas_delta);
}

static inline uint64_t
seg_hdr_with_delta(uint64_t h, int64_t cas_delta)
{
    return (h & ((UINT64_C(1) << SEG_H_DELTA_SHIFT) - 1)) | ((uint64_t)cas_delta << SEG_H_DELTA_SHIFT);
}

/* Bytes between the header and the key: exptime, flags, the wide CAS. */
static inline size_t
seg_hdr_extra(uint64_t h)
{
    return ((h & SEG_H_EXP) ? 4 : 0) + ((h & SEG_H_FLAGS) ? 4 : 0) + ((h & SEG_H_WIDE) ? 16 : 0);
}

static inline size_t
seg_item_size_x(uint64_t bits, size_t nkey, size_t nbytes)
{
    return (SEG_HDR_SIZE + seg_hdr_extra(bits) + nkey + nbytes + SEG_ALIGN - 1) & ~(size_t)(SEG_ALIGN - 1);
}

/* Bytes an item with no exptime and a narrow CAS takes in its segment. */
static inline size_t
seg_item_size(size_t nkey, size_t nbytes, bool has_flags)
{
    return seg_item_size_x(has_flags ? SEG_H_FLAGS : 0, nkey, nbytes);
}

static inline size_t
seg_item_size_of(const struct seg_item *it)
{
    uint64_t h = seg_hdr_load(it);
    return seg_item_size_x(h, seg_hdr_nkey(h), seg_hdr_nbytes(h));
}

static inline const char *
seg_item_key(const struct seg_item *it)
{
    return (const char *)it + SEG_HDR_SIZE + seg_hdr_extra(seg_hdr_load(it));
}

static inline uint8_t
seg_item_nkey(const struct seg_item *it)
{
    return seg_hdr_nkey(seg_hdr_load(it));
}

static inline const char *
seg_item_data(const struct seg_item *it)
{
    uint64_t h = seg_hdr_load(it);
    return (const char *)it + SEG_HDR_SIZE + seg_hdr_extra(h) + seg_hdr_nkey(h);
}

static inline uint32_t
seg_item_nbytes(const struct seg_item *it)
{
    return seg_hdr_nbytes(seg_hdr_load(it));
}

static inline uint32_t
seg_item_flags(const struct seg_item *it)
{
    uint64_t h = seg_hdr_load(it);
    uint32_t f = 0;
    if (h & SEG_H_FLAGS)
        memcpy(&f, (const char *)it + SEG_HDR_SIZE + ((h & SEG_H_EXP) ? 4 : 0), 4);
    return f;
}

static inline uint32_t
seg_item_atime(const struct seg_item *it)
{
    return atomic_load_explicit(seg_atime_word(it), memory_order_relaxed);
}

static inline void
seg_item_set_atime(const struct seg_item *it, uint32_t t)
{
    atomic_store_explicit(seg_atime_word(it), t, memory_order_relaxed);
}

/* 0: never */
static inline uint32_t
seg_item_exptime(const struct seg_item *it)
{
    if (!(seg_hdr_load(it) & SEG_H_EXP))
        return 0;
    return atomic_load_explicit(seg_exp_word(it), memory_order_relaxed);
}

/* The wide CAS words (SEG_H_WIDE): the CAS, and the flush generation. */
static inline const char *
seg_item_wide(const struct seg_item *it)
{
    uint64_t h = seg_hdr_load(it);
    return (const char *)it + SEG_HDR_SIZE + ((h & SEG_H_EXP) ? 4 : 0) + ((h & SEG_H_FLAGS) ? 4 : 0);
}

static inline uint64_t
seg_item_wide_cas(const struct seg_item *it)
{
    uint64_t v;
    memcpy(&v, seg_item_wide(it), 8);
    return v;
}

static inline uint64_t
seg_item_wide_gen(const struct seg_item *it)
{
    uint64_t v;
    memcpy(&v, seg_item_wide(it) + 8, 8);
    return v;
}

static inline void
seg_hdr_set_bits(const struct seg_item *it, uint64_t bits)
{
    atomic_fetch_or_explicit(seg_hdr_word(it), bits, memory_order_relaxed);
}

static inline void
seg_hdr_clear_bits(const struct seg_item *it, uint64_t bits)
{
    atomic_fetch_and_explicit(seg_hdr_word(it), ~bits, memory_order_relaxed);
}

/*
 * Writes an item's header, atime, exptime, flags, wide CAS (cas, gen) and
 * key at p; the value is the caller's to write after it. `bits`: F, E and
 * W are derived from flags, exptime and `wide`; the mutable bits given are
 * kept. Returns a pointer to the value.
 */
static inline char *
seg_item_write(char *p, const char *key, size_t nkey, uint32_t nbytes, uint32_t flags, uint32_t exptime,
               bool wide, uint64_t cas, uint64_t gen, uint64_t mut, int64_t delta, uint32_t atime)
{
    uint64_t bits = (mut & SEG_H_MUTABLE) | (flags != 0 ? SEG_H_FLAGS : 0) | (exptime != 0 ? SEG_H_EXP : 0) |
                    (wide ? SEG_H_WIDE : 0);
    uint64_t h = seg_hdr_make_x((uint8_t)nkey, nbytes, bits, delta);
    atomic_store_explicit((_Atomic uint64_t *)(void *)p, h, memory_order_relaxed);
    atomic_store_explicit((_Atomic uint32_t *)(void *)(p + 8), atime, memory_order_relaxed);
    char *q = p + SEG_HDR_SIZE;
    if (exptime != 0) {
        atomic_store_explicit((_Atomic uint32_t *)(void *)q, exptime, memory_order_relaxed);
        q += 4;
    }
    if (flags != 0) {
        memcpy(q, &flags, 4);
        q += 4;
    }
    if (wide) {
        memcpy(q, &cas, 8);
        memcpy(q + 8, &gen, 8);
        q += 16;
    }
    memcpy(q, key, nkey);
    return q + nkey;
}

/* Where a segment is in its life. */
enum seg_state {
    SEG_FREE = 0, /* on the free list (or the merge spare) */
    SEG_ACTIVE,   /* one thread's append segment for its TTL bucket: written by that thread only */
    SEG_SEALED,   /* full (or too old to append to): may be evicted, merged, expired */
    SEG_DRAINING, /* evicted while pinned: freed when its refcount reaches 0 */
};

/*
 * A segment's header, kept apart from its memory (which holds items only).
 * Fields are written under the pool lock, except write_off (by the owning
 * thread while ACTIVE) and the atomics.
 */
struct segment {
    uint32_t id;
    enum seg_state state;
    int32_t prev, next;       /* in the TTL bucket's chain, oldest first (free list: next) */
    uint16_t ttl_bucket;
    _Atomic uint32_t write_off; /* bytes appended (relaxed: stats read it unlocked) */
    /* create_at, expire_at and cas_base are written under the pool lock
     * and read by every thread that holds a slot (under its index bucket's
     * lock, not the pool's): atomics (plain loads on x86-64), so that a
     * reader of a segment that is then reclaimed does not race its reuse */
    _Atomic uint32_t create_at; /* seg_now() when opened (merged: the oldest source's) */
    _Atomic uint32_t exp_max;   /* the latest exptime of its items (SEG_EXP_NEVER: one has
                                   none): the segment expires whole once now >= exp_max.
                                   Raised only while a writer holds the segment (append,
                                   an unlinked item's new exptime), or by the owner */
    _Atomic uint64_t cas_base;
    uint64_t seq;             /* opening order, for FIFO */
    _Atomic uint32_t live_items;
    _Atomic uint32_t live_bytes;
    _Atomic int32_t refcount; /* readers' pins: an evicted segment waits for them (DRAINING) */
    _Atomic int32_t writers;  /* setters between append and link: no eviction meanwhile */
    _Atomic uint64_t owner;   /* ACTIVE: the token of the thread appending to it; 0 once
                                 sealed (by it, or by a thread out of memory: seg_pool.c) */
};

/* The TTL buckets: items of similar TTL share segments. Bucket 0 holds
 * items with no TTL; then 5 ranges of 255 buckets, of widths 1, 16, 256,
 * 4096 and 65536 s, from TTL 1 s (up to ~206 days; longer ones go to the
 * last). A bucket's width is at most 1/16 of its lower bound beyond the
 * first range. A segment expires once every item in it has (exp_max):
 * an item never expires early or late, its own exptime decides. */
#define SEG_TTL_BUCKETS (1u + 5u * 255u)

struct ttl_bucket {
    int32_t head, tail;       /* the chain, oldest first; -1: none (pool lock) */
    uint32_t nseg;            /* (pool lock) */
    int32_t merge_next;       /* where the next merge starts: the segment after the
                                 last merge's result; -1: the head (pool lock) */
    uint32_t ttl;             /* the lower bound of the bucket's TTLs: its segments' TTL */
    uint32_t max_age;         /* an ACTIVE segment this old is sealed (0: never): what a
                                 segment's expiry may come after its first item's */
    /* Each thread appends to an ACTIVE segment of its own per TTL bucket
     * (seg_store.c): no lock on the append cursor. */
};

/* The bucket of a TTL (0: none), its lower bound and its width. */
unsigned seg_ttl_bucket_of(uint32_t ttl);
uint32_t seg_ttl_bucket_ttl(unsigned b);
uint32_t seg_ttl_bucket_width(unsigned b);

#endif /* MCD_SEG_SEGMENT_H */
